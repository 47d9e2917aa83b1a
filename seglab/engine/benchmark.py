"""Measure training speed of a config: the model step alone and end to end with real data.

Used by ``seglab benchmark`` and the scripts in ``benchmarks/``. Times are medians over the
measured iterations after warm-up; compare settings by their ratio within one run, on one machine.
"""
from __future__ import annotations

import copy
import resource
import statistics
import tempfile
import time
from collections.abc import Callable, Mapping
from typing import Any

import torch

from seglab.engine.amp import cpu_has_fast_bfloat16
from seglab.engine.trainer import Trainer


def speed_options(cfg: Mapping, *, amp: str | None = None, channels_last: bool = False,
                  compile: bool = False) -> Any:
    """A copy of ``cfg`` with the speed settings applied (and no checkpoints or evaluation)."""
    cfg = copy.deepcopy(cfg)
    if amp:
        cfg["amp"] = {"dtype": amp}
    cfg["channels_last"] = channels_last
    cfg["compile"] = compile
    cfg["evaluation"] = None
    cfg["checkpoint_config"] = {"save_last": False}
    return cfg


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def timed(step, iters: int, device: torch.device = torch.device("cpu")) -> list[float]:
    """Wall-clock seconds of each of ``iters`` calls ``step(i)``; waits for queued GPU work,
    which would otherwise be billed to whichever later call happens to block."""
    times = []
    _sync(device)
    for i in range(iters):
        t0 = time.perf_counter()
        step(i)
        _sync(device)
        times.append(time.perf_counter() - t0)
    return times


def training_step(trainer: Trainer) -> Callable[[int, dict], Any]:
    """``trainer.run_step`` with the iteration wrapped into the schedule (a benchmark may run more
    iterations than a short config's ``max_iters``)."""
    return lambda it, batch: trainer.run_step(it % trainer.max_iters, batch)


def interleaved(steps: Mapping[str, Callable[[int], Any]], rounds: int,
                device: torch.device = torch.device("cpu")) -> dict[str, list[float]]:
    """Seconds of each call when every round calls each step once, in an order rotating by one
    each round: a machine's drift over time (other tenants, clocks) then falls on all alike."""
    names = list(steps)
    times: dict[str, list[float]] = {name: [] for name in names}
    for r in range(rounds):
        for name in names[r % len(names):] + names[:r % len(names)]:
            times[name] += timed(lambda i, n=name: steps[n](r), 1, device)
    return times


def per_round_ratios(times: Mapping[str, list[float]]) -> dict[str, list[float]]:
    """Per name, its time over the first name's time, round by round."""
    base = next(iter(times.values()))
    return {name: [a / b for a, b in zip(t, base)] for name, t in times.items()}


def ratios_to_first(times: Mapping[str, list[float]]) -> dict[str, float]:
    """Per name, the median over rounds of its time over the first name's time in that round."""
    return {name: statistics.median(r) for name, r in per_round_ratios(times).items()}


def speedups_to_first(times: Mapping[str, list[float]]) -> dict[str, tuple[float, float, float]]:
    """Per name, the quartiles (25%, median, 75%) over rounds of the first name's time over its
    time in that round: its speedup, and how far the machine's noise spreads it."""
    out = {}
    for name, ratios in per_round_ratios(times).items():
        speedups = [1 / r for r in ratios]
        out[name] = tuple(statistics.quantiles(speedups, n=4)) if len(speedups) > 1 else (speedups[0],) * 3
    return out


def benchmark_training(cfg: Mapping, *, iters: int = 20, warmup: int = 5, end_to_end: bool = True,
                       amp: str | None = None, channels_last: bool = False, compile: bool = False,
                       seed: int = 0) -> dict[str, Any]:
    """Seconds per training iteration of ``cfg`` with the given speed settings.

    Returns ``step_s`` (forward, losses, backward, optimizer step on one fixed batch),
    ``e2e_s`` (the same plus loading each batch through the real data pipeline and workers),
    ``images_per_s`` (end to end, or step alone), ``peak_rss_mb``, the minor page faults and
    kernel CPU seconds per model step, and the settings.
    """
    cfg = speed_options(cfg, amp=amp, channels_last=channels_last, compile=compile)
    with tempfile.TemporaryDirectory() as work_dir:
        trainer = Trainer(cfg, work_dir, seed=seed, progress=False)
        stream = iter(trainer.train_loader)
        batch = next(stream)
        batch_size = batch["img"].shape[0]
        trainer.train_model.train()
        device = trainer.device
        step = training_step(trainer)
        timed(lambda i: step(i, batch), warmup, device)
        usage = resource.getrusage(resource.RUSAGE_SELF)
        step_times = timed(lambda i: step(warmup + i, batch), iters, device)
        after = resource.getrusage(resource.RUSAGE_SELF)
        result: dict[str, Any] = {
            "amp": amp or "fp32", "channels_last": channels_last, "compile": compile,
            "batch_size": batch_size, "iters": iters, "step_s": statistics.median(step_times),
            # this process only (all its threads), per model step: what malloc and the kernel cost
            "minor_faults_per_step": (after.ru_minflt - usage.ru_minflt) / iters,
            "kernel_s_per_step": (after.ru_stime - usage.ru_stime) / iters,
            "reuse_freed_memory": trainer.reuse_freed_memory,
        }
        if end_to_end:
            e2e_times = timed(lambda i: step(i, next(stream)), iters, device)
            result["e2e_s"] = statistics.median(e2e_times)
        result["images_per_s"] = batch_size / result.get("e2e_s", result["step_s"])
        result["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        if device.type == "cuda":
            result["peak_gpu_mb"] = torch.cuda.max_memory_allocated(device) / 2**20
        result["device"] = str(device) if device.type == "cpu" else torch.cuda.get_device_name(device)
        result["torch_threads"] = torch.get_num_threads()
        result["cpu_capability"] = torch.backends.cpu.get_cpu_capability()
        result["cpu_fast_bfloat16"] = cpu_has_fast_bfloat16()
        result["amp_used"] = str(trainer.amp_dtype).replace("torch.", "") if trainer.amp_dtype else "fp32"
    return result


def benchmark_variants(cfgs: Mapping[str, Mapping], *, iters: int = 20, warmup: int = 3,
                       amp: str | None = None, channels_last: bool = False, seed: int = 0) -> dict[str, dict]:
    """Model-step time of several variants of one config, interleaved in one process.

    Each round times one step of every variant (in a rotating order) on the same batch, so drift
    of the machine over time and differences between processes cancel out of the ratios.
    Returns, per variant, ``step_s`` (median) and ``ratio`` (median over rounds of its step time
    over the first variant's in the same round).
    """
    with tempfile.TemporaryDirectory() as work_dir:
        trainers = {name: Trainer(speed_options(cfg, amp=amp, channels_last=channels_last), f"{work_dir}/{n}",
                                  seed=seed, progress=False) for n, (name, cfg) in enumerate(cfgs.items())}
        batch = next(iter(next(iter(trainers.values())).train_loader))
        device = next(iter(trainers.values())).device
        steps = {name: training_step(trainer) for name, trainer in trainers.items()}
        for name, trainer in trainers.items():
            trainer.train_model.train()
            timed(lambda i, s=steps[name]: s(i, batch), warmup, device)
        times = interleaved({name: lambda r, s=step: s(warmup + r, batch) for name, step in steps.items()},
                            iters, device)
    ratios = ratios_to_first(times)
    return {name: {"step_s": statistics.median(t), "ratio": ratios[name], "iters": iters, "amp": amp or "fp32",
                   "channels_last": channels_last} for name, t in times.items()}
