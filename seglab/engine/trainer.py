"""The iteration-based trainer (MMSegmentation 0.x ``IterBasedRunner`` semantics, no hooks).

Call order, all visible in ``Trainer.train``::

    trainer = Trainer(cfg, work_dir)           # model, optimizer, schedule, data, resume
    for it in range(start_iter, max_iters):
        batch = next(stream)                   # deterministic, resumable sample stream
        scheduler.step(it)                     # lr of every group for this iteration
        losses = model(**batch)                # forward_train -> {'decode.loss_ce': ...}
        loss, log_vars = parse_losses(losses)  # sum of keys containing 'loss'
        loss.backward(); clip; optimizer.step()
        every log_config.interval:         log (text + JSON), stop on a non-finite loss
        every checkpoint_config.interval:  iter_N.pth + latest.pth, written atomically
        every evaluation.interval:         metrics on data.val (+ best checkpoint)
"""
from __future__ import annotations

import contextlib
import os
import random
import re
import resource
import time
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from seglab import __version__
from seglab.config import Config
from seglab.engine import dist as sdist
from seglab.engine.checkpoint import load_checkpoint, read_checkpoint, save_atomic
from seglab.engine.host_memory import apply_reuse_freed_memory
from seglab.engine.logger import JsonLog, Progress, format_train_line, get_logger, setup_logger
from seglab.engine.optimizer import build_optimizer, format_rule_summary, param_settings
from seglab.engine.schedules import build_lr_scheduler
from seglab.engine.train_stream import SeededSamples, TrainStreamSampler
from seglab.errors import CheckpointError, ConfigError, SeglabError
from seglab.models.losses import parse_losses
from seglab.registry import MODELS, did_you_mean

# Top-level keys seglab reads, plus the helper variables 0.x config files conventionally define.
KNOWN_TOP_LEVEL_KEYS = frozenset({
    "model", "data", "optimizer", "optimizer_config", "lr_config", "runner", "checkpoint_config",
    "evaluation", "log_config", "seed", "deterministic", "load_from", "resume_from", "auto_resume",
    "workflow", "cudnn_benchmark", "fp16", "amp", "channels_last", "compile", "find_unused_parameters",
    "dist_params", "log_level", "work_dir", "gpu_ids", "device", "opencv_num_threads",
    "mp_start_method", "custom_imports", "norm_cfg", "dataset_type", "data_root", "img_norm_cfg",
    "crop_size", "img_scale", "train_pipeline", "test_pipeline", "reuse_freed_memory", "check_data",
})


class TrainingDiverged(SeglabError):
    """The total loss became NaN or infinite."""


def usable_cpus() -> int:
    """CPUs this process may run on (its affinity mask where the OS has one)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def warn_more_workers_than_cpus(workers: int) -> None:
    """One warning that names the config key, in place of the one PyTorch repeats for every
    loader iterator. Results do not depend on the worker count (each sample is seeded by its
    position in the stream), so lowering it is safe."""
    cpus = usable_cpus()
    warnings.filterwarnings("ignore", message=r"This DataLoader will create \d+ worker processes",
                            category=UserWarning)
    if workers > cpus:
        get_logger().warning(f"data.workers_per_gpu={workers} starts {workers} loader processes on {cpus} usable "
                             f"CPUs, where they compete with training for the cores; "
                             f"--cfg-options data.workers_per_gpu={cpus} matches this machine and gives the "
                             "same results")


def warn_unknown_keys(cfg: Mapping) -> None:
    """Unused top-level keys and 0.x runtime settings seglab does not act on are reported (with
    did-you-mean), never silently ignored."""
    logger = get_logger()
    for key in cfg:
        if key not in KNOWN_TOP_LEVEL_KEYS:
            logger.warning(f"config key {key!r} is not used by seglab.{did_you_mean(key, KNOWN_TOP_LEVEL_KEYS)}")
    for hook in (cfg.get("log_config") or {}).get("hooks") or []:
        if hook.get("type") != "TextLoggerHook":
            logger.warning(f"log_config.hooks: {hook.get('type')!r} is not supported; seglab writes the text "
                           "log and the JSON log (seglab plot-log draws it)")
    for phase in cfg.get("workflow") or []:
        if phase[0] != "train":
            logger.warning(f"workflow: {phase!r} is ignored; validation runs every evaluation.interval iterations")


def set_random_seed(seed: int, deterministic: bool = False) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    if deterministic:
        torch.use_deterministic_algorithms(True, warn_only=True)
        torch.backends.cudnn.deterministic = True
        torch.backends.cudnn.benchmark = False
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")


def unwrap(model: nn.Module) -> nn.Module:
    """The segmentor inside DDP / torch.compile wrappers."""
    while True:
        if isinstance(model, DistributedDataParallel):
            model = model.module
        elif hasattr(model, "_orig_mod"):
            model = model._orig_mod
        else:
            return model


def resolve_amp(cfg: Mapping, device: torch.device) -> tuple[torch.dtype | None, bool]:
    """(autocast dtype or None, use a gradient scaler) from ``amp=dict(dtype=...)`` or 0.x ``fp16``.

    fp16 autocast on CPU is slow and unscaled, so a ``float16`` request on CPU runs bfloat16.
    """
    amp, fp16 = cfg.get("amp"), cfg.get("fp16")
    if amp is None and fp16 is None:
        return None, False
    if amp is not None:
        if not isinstance(amp, Mapping):
            raise ConfigError(f"amp must be a dict like dict(dtype='bfloat16'), got {amp!r}")
        unknown = set(amp) - {"dtype", "enabled"}
        if unknown:
            key = sorted(unknown)[0]
            raise ConfigError(f"amp: unknown key {key!r}.{did_you_mean(key, ['dtype', 'enabled'])} "
                              "Accepted keys: dtype, enabled")
        if not amp.get("enabled", True):
            return None, False
        name = amp.get("dtype", "bfloat16")
    else:
        name = "float16"
    dtypes = {"bfloat16": torch.bfloat16, "bf16": torch.bfloat16, "float16": torch.float16, "fp16": torch.float16}
    if name not in dtypes:
        raise ConfigError(f"amp.dtype must be 'bfloat16' or 'float16', got {name!r}")
    dtype = dtypes[name]
    if device.type == "cpu":
        if not cpu_has_fast_bfloat16():
            get_logger().warning(
                "amp: this CPU has no native bfloat16 support (oneDNN needs AVX-512 or AMX; "
                f"this one offers {torch.backends.cpu.get_cpu_capability()}), where bf16 autocast runs "
                "about 10x slower than fp32; training in fp32 instead. Remove `amp` to silence this.")
            return None, False
        return torch.bfloat16, False
    return dtype, dtype == torch.float16


def cpu_has_fast_bfloat16() -> bool:
    """Whether oneDNN has bf16 kernels for this CPU (AVX-512 or AMX); without them autocast
    falls back to reference convolutions that are an order of magnitude slower than fp32."""
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):  # builds without oneDNN
        return False


class Trainer:
    """Trains ``cfg.model`` on ``cfg.data.train`` for ``cfg.runner.max_iters`` iterations.

    Args:
        cfg: the resolved config.
        work_dir: where logs, the config dump and checkpoints go.
        resume_from: checkpoint to resume (model, optimizer, schedule, iteration, RNG states).
        auto_resume: resume from ``work_dir/latest.pth`` when it exists.
        load_from: checkpoint whose weights initialise the model (training starts at 0).
        seed: overrides ``cfg.seed``.
        deterministic: overrides ``cfg.deterministic``.
        launcher: ``'none'`` or ``'pytorch'`` (torchrun).
        progress: show a progress bar on a terminal.
    """

    def __init__(self, cfg: Config, work_dir: str | Path, *, resume_from: str | None = None,
                 auto_resume: bool = False, load_from: str | None = None, seed: int | None = None,
                 deterministic: bool | None = None, launcher: str = "none", progress: bool = True) -> None:
        self.cfg = cfg
        # 0.x configs say dist_params=dict(backend='nccl'); that only applies with CUDA.
        backend = (cfg.get("dist_params") or {}).get("backend") if torch.cuda.is_available() else None
        self.rank, self.world_size = sdist.init_distributed(launcher, backend)
        self.device = self._pick_device()
        self.work_dir = Path(work_dir)
        self.timestamp = time.strftime("%Y%m%d_%H%M%S", time.localtime())
        if self.rank == 0:
            self.work_dir.mkdir(parents=True, exist_ok=True)
        self.logger = setup_logger(self.work_dir / f"{self.timestamp}.log", self.rank, cfg.get("log_level", "INFO"))
        self.json_log = JsonLog(self.work_dir / f"{self.timestamp}.log.json" if self.rank == 0 else None)
        self.show_progress = progress
        warn_unknown_keys(cfg)

        self.max_iters = self._max_iters(cfg)
        self.seed = self._resolve_seed(seed if seed is not None else cfg.get("seed"))
        self.deterministic = bool(cfg.get("deterministic", False) if deterministic is None else deterministic)
        set_random_seed(self.seed, self.deterministic)
        if self.device.type == "cuda":
            torch.backends.cudnn.benchmark = bool(cfg.get("cudnn_benchmark", False)) and not self.deterministic
        self.amp_dtype, use_scaler = resolve_amp(cfg, self.device)
        self.scaler = torch.amp.GradScaler("cuda") if use_scaler else None
        self.channels_last = bool(cfg.get("channels_last", False))
        # before the model and the loader workers exist, so that they allocate under it too
        self.reuse_freed_memory = apply_reuse_freed_memory(cfg)

        self.model = MODELS.build(cfg.model, key="model")
        resume_from = self._resume_path(resume_from or cfg.get("resume_from"), auto_resume or cfg.get("auto_resume", False))
        load_from = load_from or cfg.get("load_from")
        if not resume_from and not load_from:
            self.model.init_weights()
        if load_from and not resume_from:
            load_checkpoint(self.model, load_from)
        self.model.to(self.device)
        if self.channels_last:
            self.model.to(memory_format=torch.channels_last)
        self.optimizer = build_optimizer(self.model, cfg.optimizer)
        self.scheduler = build_lr_scheduler(cfg.get("lr_config") or {"policy": "fixed"}, self.optimizer, self.max_iters)
        self.grad_clip = self._grad_clip(cfg.get("optimizer_config") or {})
        self.start_iter = 0
        if resume_from:
            self._resume(resume_from)
        self.train_model = self._wrap(self.model)

        self.log_interval = int((cfg.get("log_config") or {}).get("interval", 50))
        self.ckpt_cfg = dict(cfg.get("checkpoint_config") or {})
        self.eval_cfg = dict(cfg.get("evaluation") or {})
        self.best_score: float | None = None
        self.best_path: Path | None = None
        self.train_loader = self._train_loader()
        self.val_dataset = self._val_dataset()

    # ------------------------------------------------------------------ the loop
    def train(self) -> dict[str, float]:
        """Run the remaining iterations; returns the last evaluation's summary (may be empty)."""
        self._log_start()
        stream = iter(self.train_loader)
        sums: dict[str, torch.Tensor] = {}
        count, t_data, t_iter = 0, 0.0, 0.0
        last_metrics: dict[str, float] = {}
        progress = Progress(self.max_iters, self.start_iter, enabled=self.show_progress and self.rank == 0)
        self.train_model.train()
        t_end = time.perf_counter()
        for it in range(self.start_iter, self.max_iters):
            batch = next(stream)
            t_loaded = time.perf_counter()
            log_vars = self.run_step(it, batch)
            for key, value in log_vars.items():
                sums[key] = sums.get(key, 0) + value.detach().float()
            count += 1
            now = time.perf_counter()
            t_data += t_loaded - t_end
            t_iter += now - t_end
            t_end = now
            done = it + 1
            logged = None
            if done % self.log_interval == 0 or done == self.max_iters:
                logged = self._log_train(done, sums, count, t_iter, t_data)
                sums, count, t_data, t_iter = {}, 0, 0.0, 0.0
            progress.update(1, **({"loss": f"{logged['loss']:.4f}", "lr": f"{logged['lr']:.2e}"} if logged else {}))
            if self._every(done, self.ckpt_cfg.get("interval")) or done == self.max_iters:
                self.save_checkpoint(done)
            if self.val_dataset is not None and (self._every(done, self.eval_cfg.get("interval")) or done == self.max_iters):
                last_metrics = self.evaluate(done)
            t_end = time.perf_counter()
        progress.close()
        self.json_log.close()
        self._plot()
        return last_metrics

    def _plot(self) -> None:
        """Loss, lr and metric curves as PNG in ``work_dir/plots`` (what ``seglab plot-log`` draws)."""
        if self.rank != 0 or self.json_log.path is None:
            return
        from seglab.cli.plot_log import plot_default, read_log

        paths = plot_default(read_log(self.json_log.path), self.work_dir / "plots")
        self.logger.info(f"curves: {', '.join(str(p) for p in paths)}")

    def run_step(self, it: int, batch: dict[str, Any]) -> dict[str, torch.Tensor]:
        """One optimisation step on ``batch``; returns the logged values (tensors, no host sync)."""
        self.scheduler.step(it)
        img, gt = self._to_device(batch["img"], batch["gt_semantic_seg"])
        with self._autocast():
            losses = self.train_model(img, batch["img_metas"], gt_semantic_seg=gt)
        loss, log_vars = parse_losses(losses)
        if not loss.requires_grad:
            raise ConfigError("nothing to optimise: no loss of the model has a loss_name containing 'loss' "
                              f"(logged: {', '.join(log_vars)}). Name losses 'loss_<something>'.")
        self.optimizer.zero_grad(set_to_none=True)
        self._backward_and_step(loss, log_vars)
        return log_vars

    def _backward_and_step(self, loss: torch.Tensor, log_vars: dict[str, torch.Tensor]) -> None:
        if self.scaler is not None:
            self.scaler.scale(loss).backward()
            if self.grad_clip:
                self.scaler.unscale_(self.optimizer)
                log_vars["grad_norm"] = self._clip()
            self.scaler.step(self.optimizer)
            self.scaler.update()
            return
        loss.backward()
        if self.grad_clip:
            log_vars["grad_norm"] = self._clip()
        self.optimizer.step()

    def _clip(self) -> torch.Tensor:
        params = [p for p in self.model.parameters() if p.requires_grad and p.grad is not None]
        return torch.nn.utils.clip_grad_norm_(params, **self.grad_clip).detach()

    # ------------------------------------------------------------------ logging
    def _log_start(self) -> None:
        settings = param_settings(self.model, self.cfg.optimizer)
        self.logger.info(f"seglab {__version__}, torch {torch.__version__}, device {self.device}, "
                         f"world size {self.world_size}, seed {self.seed}, "
                         f"amp {self.amp_dtype}, channels_last {self.channels_last}, "
                         f"reuse_freed_memory {self.reuse_freed_memory}")
        self.logger.info("learning rates and weight decay by rule (seglab lr-table shows every parameter):\n"
                         + format_rule_summary(settings))
        self.logger.info(f"training iterations {self.start_iter} -> {self.max_iters}, work dir {self.work_dir}")
        self.json_log.write({"env_info": f"seglab {__version__}, torch {torch.__version__}, {self.device}",
                             "seed": self.seed, "exp_name": self.cfg.filename and Path(self.cfg.filename).name,
                             "world_size": self.world_size})

    def _log_train(self, it: int, sums: dict[str, torch.Tensor], count: int, t_iter: float,
                   t_data: float) -> dict[str, Any]:
        keys = list(sums)
        stacked = torch.stack([sums[k].reshape(()) for k in keys]) / count
        values = dict(zip(keys, sdist.all_reduce_mean(stacked.to(self.device)).tolist()))  # one host sync
        if not np.isfinite(values["loss"]):
            raise TrainingDiverged(f"the total loss is not finite at iteration {it}: "
                                   + ", ".join(f"{k}={v:.4g}" for k, v in values.items())
                                   + ". Lower optimizer.lr, add optimizer_config.grad_clip, or check the labels.")
        record: dict[str, Any] = {"mode": "train", "epoch": 1, "iter": it}
        record.update(self._current_lrs())
        record.update({"memory": self._memory_mb(), "data_time": t_data / count, "time": t_iter / count})
        record.update(values)
        eta = (self.max_iters - it) * (t_iter / count)
        self.logger.info(format_train_line(it, self.max_iters, {k: v for k, v in record.items()
                                                                 if k not in ("mode", "epoch", "iter")}, eta))
        self.json_log.write(record)
        return record

    def _current_lrs(self) -> dict[str, float]:
        """``lr`` of the first group (0.x's key) and ``lr_<rule>`` of every group, e.g.
        ``lr_default`` and ``lr_head`` for ``custom_keys={'head': ...}``."""
        groups = self.optimizer.param_groups
        lrs = {"lr": groups[0]["lr"]}
        if len(groups) > 1:
            for i, group in enumerate(groups):
                name = re.sub(r"custom_keys\['(.*?)'\]", r"\1", group.get("name", f"group{i}"))
                key = f"lr_{name}"
                lrs[key if key not in lrs else f"{key}_{i}"] = group["lr"]
        return lrs

    def _memory_mb(self) -> int:
        if self.device.type == "cuda":
            return int(torch.cuda.max_memory_allocated(self.device) / 2**20)
        return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)

    # ------------------------------------------------------------------ evaluation
    def evaluate(self, it: int) -> dict[str, float]:
        from seglab.engine.evaluator import evaluate_segmentor

        metric = self.eval_cfg.get("metric", "mIoU")
        summary, table = evaluate_segmentor(self.model, self.val_dataset, metrics=metric, device=self.device,
                                            amp_dtype=self.amp_dtype, progress=self.show_progress)
        self.train_model.train()
        self.logger.info(f"evaluation at iteration {it}:\n{table}")
        record: dict[str, Any] = {"mode": "val", "epoch": 1, "iter": it}
        record.update(self._current_lrs())
        record.update(summary)
        self.json_log.write(record)
        self._keep_best(it, summary)
        return summary

    def _keep_best(self, it: int, summary: dict[str, float]) -> None:
        key = self.eval_cfg.get("save_best")
        if not key or self.rank != 0:
            return
        if key == "auto":
            key = next(k for k in summary if k != "aAcc") if len(summary) > 1 else "aAcc"
        if key not in summary:
            raise ConfigError(f"evaluation.save_best={key!r} is not a computed metric.{did_you_mean(key, summary)} "
                              f"Computed: {', '.join(k for k in summary if '.' not in k)}")
        score = summary[key]
        if self.best_score is not None and not score > self.best_score:
            return
        self.best_score = score
        path = self.work_dir / f"best_{key}_iter_{it}.pth"
        saved = self.work_dir / f"iter_{it}.pth"
        if saved.exists():  # evaluation usually follows a checkpoint: link it rather than write it twice
            tmp = self.work_dir / f".{path.name}.{os.getpid()}"
            tmp.unlink(missing_ok=True)
            os.link(saved, tmp)
            os.replace(tmp, path)
        else:
            save_atomic(self._checkpoint(it), path)
        if self.best_path is not None and self.best_path != path:
            self.best_path.unlink(missing_ok=True)
        self.best_path = path
        self.logger.info(f"new best {key} = {score:.4f}: {path.name}")

    # ------------------------------------------------------------------ checkpoints
    def _checkpoint(self, it: int) -> dict[str, Any]:
        dataset = getattr(self.train_loader.dataset, "dataset", None)
        return {
            "meta": {"iter": it, "epoch": 1, "seglab_version": __version__, "config": self.cfg.pretty_text,
                     "seed": self.seed, "CLASSES": getattr(dataset, "CLASSES", None),
                     "PALETTE": getattr(dataset, "PALETTE", None), "time": time.asctime()},
            "state_dict": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "scaler": self.scaler.state_dict() if self.scaler is not None else None,
            "rng": {"python": random.getstate(), "numpy": np.random.get_state(),
                    "torch": torch.random.get_rng_state(),
                    "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None},
        }

    def save_checkpoint(self, it: int) -> None:
        """``iter_N.pth`` and ``latest.pth`` (a link to it), both replaced atomically; rank 0 only."""
        if self.rank != 0:
            return
        path = self.work_dir / f"iter_{it}.pth"
        save_atomic(self._checkpoint(it), path)
        latest = self.work_dir / "latest.pth"
        tmp = self.work_dir / f".latest.pth.{os.getpid()}"
        tmp.unlink(missing_ok=True)
        os.symlink(path.name, tmp)
        os.replace(tmp, latest)
        keep = int(self.ckpt_cfg.get("max_keep_ckpts", -1))
        if keep > 0:
            for old in range(it - keep * int(self.ckpt_cfg["interval"]), 0, -int(self.ckpt_cfg["interval"])):
                (self.work_dir / f"iter_{old}.pth").unlink(missing_ok=True)

    def _resume_path(self, resume_from: str | None, auto_resume: bool) -> str | None:
        if resume_from:
            return str(resume_from)
        latest = self.work_dir / "latest.pth"
        if auto_resume and latest.exists():
            return str(latest)
        return None

    def _resume(self, path: str) -> None:
        ckpt = read_checkpoint(path)
        for key in ("state_dict", "optimizer", "meta"):
            if key not in ckpt:
                raise CheckpointError(f"resume_from: {path} has no {key!r}; it is not a training checkpoint "
                                      "(use load_from / --load-from to start from its weights)")
        load_checkpoint(self.model, ckpt["state_dict"], strict=True, name=path)
        self.optimizer.load_state_dict(ckpt["optimizer"])
        if ckpt.get("scheduler"):
            self.scheduler.load_state_dict(ckpt["scheduler"])
        if self.scaler is not None and ckpt.get("scaler"):
            self.scaler.load_state_dict(ckpt["scaler"])
        rng = ckpt.get("rng") or {}
        if rng:
            random.setstate(rng["python"])
            np.random.set_state(rng["numpy"])
            torch.random.set_rng_state(rng["torch"])
            if rng.get("cuda") is not None and torch.cuda.is_available():
                torch.cuda.set_rng_state_all(rng["cuda"])
        self.start_iter = int(ckpt["meta"]["iter"])
        self.logger.info(f"resumed from {path} at iteration {self.start_iter}")

    # ------------------------------------------------------------------ setup helpers
    def _pick_device(self) -> torch.device:
        wanted = self.cfg.get("device")
        if wanted:
            return torch.device(wanted)
        if torch.cuda.is_available():
            return torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
        return torch.device("cpu")

    @staticmethod
    def _max_iters(cfg: Mapping) -> int:
        runner = cfg.get("runner") or {}
        runner_type = runner.get("type", "IterBasedRunner")
        if runner_type != "IterBasedRunner":
            raise ConfigError(f"runner.type={runner_type!r}: seglab trains by iterations; use "
                              "runner=dict(type='IterBasedRunner', max_iters=N)")
        max_iters = runner.get("max_iters", cfg.get("total_iters"))
        if not isinstance(max_iters, int) or max_iters < 1:
            raise ConfigError(f"runner.max_iters must be a positive integer, got {max_iters!r}")
        return max_iters

    def _resolve_seed(self, seed: int | None) -> int:
        if seed is None:
            seed = int(np.random.default_rng().integers(2**31))
            if self.world_size > 1:  # every rank must draw the same data stream
                t = torch.tensor([seed if self.rank == 0 else 0], dtype=torch.int64)
                seed = int(sdist.all_reduce_sum(t).item())
        return int(seed)

    @staticmethod
    def _grad_clip(optimizer_config: Mapping) -> dict | None:
        allowed = {"grad_clip", "type", "detect_anomalous_params"}
        for key in optimizer_config:
            if key not in allowed:
                raise ConfigError(f"optimizer_config: unknown key {key!r}.{did_you_mean(key, allowed)} "
                                  f"Accepted keys: {', '.join(sorted(allowed))}")
        clip = optimizer_config.get("grad_clip")
        if not clip:
            return None
        unknown = set(clip) - {"max_norm", "norm_type"}
        if unknown or "max_norm" not in clip:
            raise ConfigError("optimizer_config.grad_clip must be dict(max_norm=..., norm_type=2), "
                              f"got {dict(clip)!r}")
        return {"max_norm": float(clip["max_norm"]), "norm_type": float(clip.get("norm_type", 2))}

    def _wrap(self, model: nn.Module) -> nn.Module:
        if self.world_size > 1:
            model = DistributedDataParallel(
                model, device_ids=[self.device.index] if self.device.type == "cuda" else None,
                find_unused_parameters=bool(self.cfg.get("find_unused_parameters", False)))
        if self.cfg.get("compile", False):
            model = torch.compile(model)
        return model

    def _to_device(self, img: torch.Tensor, gt: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        img = img.to(self.device, non_blocking=True)
        if self.channels_last:
            img = img.contiguous(memory_format=torch.channels_last)
        return img, gt.to(self.device, non_blocking=True)

    def _autocast(self) -> contextlib.AbstractContextManager:
        if self.amp_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=self.amp_dtype)

    @staticmethod
    def _every(done: int, interval: int | None) -> bool:
        return bool(interval) and done % int(interval) == 0

    def _train_loader(self) -> torch.utils.data.DataLoader:
        from seglab.data import build_dataset, collate, worker_init
        from seglab.data.check import check_data_samples, check_training_labels

        data_cfg = self.cfg.data
        dataset = build_dataset(data_cfg.train)
        check_training_labels(dataset, check_data_samples(self.cfg.get("check_data", True)), data_cfg=data_cfg,
                              config=self.cfg.filename)
        spg = int(data_cfg.get("samples_per_gpu", 2))
        workers = int(data_cfg.get("workers_per_gpu", 2))
        warn_more_workers_than_cpus(workers)
        sampler = TrainStreamSampler(len(dataset), self.seed, self.rank, self.world_size,
                                     start=self.start_iter * spg)
        return torch.utils.data.DataLoader(
            SeededSamples(dataset), batch_size=spg, sampler=sampler, num_workers=workers,
            collate_fn=collate, worker_init_fn=worker_init, persistent_workers=workers > 0,
            pin_memory=self.device.type == "cuda", drop_last=False,
            # its own generator: starting the workers must not draw from the global RNG (dropout),
            # or a resumed run would diverge from an unbroken one
            generator=torch.Generator().manual_seed(self.seed))

    def _val_dataset(self):
        from seglab.data import build_dataset

        if not self.eval_cfg.get("interval") or "val" not in self.cfg.data:
            return None
        return build_dataset(self.cfg.data.val, default_args={"test_mode": True})
