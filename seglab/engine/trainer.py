"""The iteration-based trainer (MMSegmentation 0.x ``IterBasedRunner`` semantics): setup, then the loop.

Call order, all visible in ``Trainer.train``::

    trainer = Trainer(cfg, work_dir)            # run settings, model, optimizer, schedule, hooks, data, resume
    hooks.before_train()
    for it in range(start_iter, max_iters):
        batch = next(stream)                    # deterministic, resumable sample stream
        run_step(it, batch):
            scheduler.step(it)                  # lr of every group for this iteration
            losses = model(**batch)             # forward_train -> {'decode.loss_ce': ...}
            loss, log_vars = parse_losses(losses)   # sum of keys containing 'loss'
            loss.backward(); clip; optimizer.step()
        every log_config.interval: hooks.log(record)   # text + JSON log; stops on a non-finite loss
        hooks.after_step()                      # user hooks, then checkpoints, then evaluation
    hooks.after_train()                         # curves

A non-finite loss is recorded on the device (no host sync per step) and checked at every log
line and before every checkpoint write, so no checkpoint ever holds weights from after it.
"""
from __future__ import annotations

import contextlib
import dataclasses
import os
import random
import re
import resource
import shlex
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from seglab import __version__
from seglab.config import Config
from seglab.engine import dist as sdist
from seglab.engine.amp import build_grad_scaler, resolve_amp
from seglab.engine.checkpoint import (capture_rng_state, load_checkpoint, read_checkpoint, restore_rng_state,
                                      save_atomic, unsafe_load_allowed)
from seglab.engine.hooks import HookBase, build_hook, builtin_hooks, in_priority_order
from seglab.engine.host_memory import apply_reuse_freed_memory
from seglab.engine.logger import LogMeter, setup_logger
from seglab.engine.optimizer import build_optimizer, format_rule_summary, param_settings
from seglab.engine.param_schedulers import warn_outside_the_run
from seglab.engine.run_config import RunConfig, parse_run_config
from seglab.engine.schedules import LrScheduler, build_schedule
from seglab.engine.train_stream import SeededSamples, TrainStreamSampler
from seglab.errors import CheckpointError, ConfigError, SeglabError
from seglab.evaluation.details import EvalDetails
from seglab.models.losses import parse_losses
from seglab.registry import MODELS

_CHECKPOINT_KEYS = ("meta", "state_dict", "optimizer", "scheduler", "scaler", "rng")


class TrainingDiverged(SeglabError):
    """The total loss became NaN or infinite."""


def set_random_seed(seed: int, deterministic: bool = False) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    if deterministic:
        torch.use_deterministic_algorithms(True, warn_only=True)
        torch.backends.cudnn.deterministic = True
        torch.backends.cudnn.benchmark = False
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")


class Trainer:
    """Trains ``cfg.model`` on ``cfg.data.train`` for ``cfg.runner.max_iters`` iterations.

    Args:
        cfg: the resolved config.
        work_dir: where logs and checkpoints go; default ``cfg.work_dir``, else
            ``work_dirs/<config file name>``.
        resume_from: checkpoint to resume (model, optimizer, schedule, iteration, RNG states);
            overrides ``cfg.resume_from``, like the arguments below override theirs.
        auto_resume: resume from ``work_dir/latest.pth`` when it exists.
        load_from: checkpoint whose weights initialise the model (training starts at 0).
        seed: the random seed.
        deterministic: deterministic algorithms.
        launcher: ``'none'`` or ``'pytorch'`` (torchrun).
        progress: show a progress bar on a terminal.
        command: the command line that started the run, for the run report (default: this
            process's own arguments).
    """

    def __init__(self, cfg: Config, work_dir: str | Path | None = None, *, resume_from: str | None = None,
                 auto_resume: bool = False, load_from: str | None = None, seed: int | None = None,
                 deterministic: bool | None = None, launcher: str = "none", progress: bool = True,
                 command: str | None = None) -> None:
        self.cfg = cfg
        self.command = command or shlex.join(sys.argv)
        self.timestamp = time.strftime("%Y%m%d_%H%M%S", time.localtime())
        self.rank = sdist.rank_from_environment()  # the log must exist before the settings are read
        self.work_dir = Path(work_dir or cfg.get("work_dir") or Path("work_dirs") / Path(cfg.filename or "run").stem)
        if self.rank == 0:
            self.work_dir.mkdir(parents=True, exist_ok=True)
        self.logger = setup_logger(self.work_dir / f"{self.timestamp}.log", self.rank)
        overrides = {"resume_from": resume_from, "load_from": load_from, "seed": seed,
                     "deterministic": deterministic, "auto_resume": auto_resume or None}
        self.run: RunConfig = dataclasses.replace(
            parse_run_config(cfg), **{k: v for k, v in overrides.items() if v is not None})
        run = self.run
        if self.rank == 0:
            self.logger.setLevel(run.log_level)
        # 0.x configs say dist_params=dict(backend='nccl'); that only applies with CUDA.
        backend = run.dist_params.backend if torch.cuda.is_available() else None
        self.rank, self.world_size = sdist.init_distributed(launcher, backend)
        self.device = self._pick_device(run.device)
        self.json_log_path = self.work_dir / f"{self.timestamp}.log.json" if self.rank == 0 else None
        self.checkpoint_dir = Path(run.checkpoint_config.out_dir) / self.work_dir.name \
            if run.checkpoint_config.out_dir else self.work_dir
        self.show_progress = progress
        self.max_iters = run.max_iters
        self.seed = self._resolve_seed(run.seed)
        set_random_seed(self.seed, run.deterministic)
        self._configure_backends(run)
        self.amp_dtype, use_scaler = resolve_amp(run, self.device)
        self.scaler = build_grad_scaler(run) if use_scaler else None
        self.channels_last = run.channels_last
        # before the model and the loader workers exist, so that they allocate under it too
        self.reuse_freed_memory = apply_reuse_freed_memory(run.reuse_freed_memory)

        self.model = self._build_model(run)
        if run.optimizer is None:
            raise ConfigError("optimizer is not set; add e.g. optimizer=dict(type='SGD', lr=0.01, momentum=0.9)")
        self.optimizer = build_optimizer(self.model, run.optimizer)
        schedule = build_schedule(run.lr_config, run.param_scheduler, self.max_iters)
        warn_outside_the_run(schedule)
        self.scheduler = LrScheduler(self.optimizer, schedule)
        self.grad_clip = dataclasses.asdict(run.optimizer_config.grad_clip) if run.optimizer_config.grad_clip else None
        self.hooks: list[HookBase] = in_priority_order(
            [build_hook(h, f"custom_hooks.{i}") for i, h in enumerate(run.custom_hooks)] + builtin_hooks(self))
        self.meter = LogMeter()
        self.first_nonfinite = torch.full((), self.max_iters + 1, dtype=torch.int64, device=self.device)
        self.start_iter = self.iter = 0
        self.last_checkpoint: tuple[int, Path] | None = None
        self.metrics: dict[str, float] = {}
        self.eval_details: EvalDetails | None = None  # of the last evaluation
        self.last_eval_s: float | None = None  # how long the last evaluation took (for the ETA)
        resume = self._resume_path()
        if resume:
            self.resume(resume)
        self.train_model = self._wrap(self.model)
        self.train_loader = self._train_loader()
        self.val_dataset = self._val_dataset()

    # ------------------------------------------------------------------ the loop
    def train(self) -> dict[str, float]:
        """Run the remaining iterations; returns the last evaluation's summary (may be empty)."""
        self.call_hooks("before_train")
        stream = iter(self.train_loader)
        self.train_model.train()
        t_end = time.perf_counter()
        for it in range(self.start_iter, self.max_iters):
            batch = next(stream)
            t_loaded = time.perf_counter()
            log_vars = self.run_step(it, batch)
            self.iter = it + 1
            self.meter.add(log_vars, data_s=t_loaded - t_end, iter_s=time.perf_counter() - t_end)
            if self.iter % self.run.log_config.interval == 0 or self.iter == self.max_iters:
                self.call_hooks("log", self.train_record())
            self.call_hooks("after_step")
            t_end = time.perf_counter()
        self.call_hooks("after_train")
        return self.metrics

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
        # remember the first iteration whose loss was not finite, on the device
        self.first_nonfinite = torch.where(torch.isfinite(loss.detach()), self.first_nonfinite,
                                           torch.clamp(self.first_nonfinite, max=it + 1))
        first, last, size = self._accumulation_window(it)
        if first:
            self.optimizer.zero_grad(set_to_none=True)
        if size > 1:
            loss = loss / size
        if self.scaler is not None:
            self.scaler.scale(loss).backward()
            if last:
                if self.grad_clip:
                    self.scaler.unscale_(self.optimizer)
                    log_vars["grad_norm"] = self._clip()
                self.scaler.step(self.optimizer)
                self.scaler.update()
        else:
            loss.backward()
            if last:
                if self.grad_clip:
                    log_vars["grad_norm"] = self._clip()
                self.optimizer.step()
        return log_vars

    def _accumulation_window(self, it: int) -> tuple[bool, bool, int]:
        """(first of its window, last of it, window size) of iteration ``it``: with
        ``cumulative_iters=N`` the gradients of N iterations add up before one optimizer step (a
        shorter last window when N does not divide the run)."""
        n = self.run.optimizer_config.cumulative_iters
        start = it - it % n
        size = min(n, self.max_iters - start)
        return it == start, it == start + size - 1, size

    def _clip(self) -> torch.Tensor:
        params = [p for p in self.model.parameters() if p.requires_grad and p.grad is not None]
        return torch.nn.utils.clip_grad_norm_(params, **self.grad_clip).detach()

    def call_hooks(self, point: str, *args: Any) -> None:
        for hook in self.hooks:
            getattr(hook, point)(self, *args)

    # ------------------------------------------------------------------ what hooks ask for
    def check_finite(self, values: dict[str, float] | None = None) -> None:
        """Raise ``TrainingDiverged`` if any step's loss so far was not finite, on any rank."""
        first = int(sdist.all_reduce_min(self.first_nonfinite.clone()))
        if first > self.max_iters:
            return
        last = f"iter_{self.last_checkpoint[0]}.pth" if self.last_checkpoint else "none"
        shown = ": " + ", ".join(f"{k}={v:.4g}" for k, v in values.items()) if values else ""
        raise TrainingDiverged(
            f"the total loss was not finite at iteration {first} (noticed at iteration {self.iter}){shown}. "
            f"No checkpoint holds weights from after it (the last one written is {last}). "
            "Lower optimizer.lr, add optimizer_config.grad_clip, or check the labels.")

    def train_record(self) -> dict[str, Any]:
        """The JSON log's train record of the iterations since the last one (one host sync)."""
        values, data_s, iter_s = self.meter.pop(self.device)
        self.check_finite(values)
        return {"mode": "train", "epoch": 1, "iter": self.iter, **self.current_lrs(),
                "memory": self._memory_mb(), "data_time": data_s, "time": iter_s, **values}

    def current_lrs(self) -> dict[str, float]:
        """``lr`` of the first group (0.x's key) and ``lr_<rule>`` of every group, e.g.
        ``lr_default`` and ``lr_head`` for ``custom_keys={'head': ...}``."""
        groups = self.optimizer.param_groups
        lrs = {"lr": groups[0]["lr"]}
        for key, group in zip(self.group_lr_keys(), groups):
            lrs[key] = group["lr"]
        return lrs

    def group_lr_keys(self) -> list[str]:
        """The log key of each param group's lr (none with a single group, which logs ``lr``)."""
        groups = self.optimizer.param_groups
        keys: list[str] = []
        if len(groups) > 1:
            for i, group in enumerate(groups):
                key = "lr_" + re.sub(r"custom_keys\['(.*?)'\]", r"\1", group.get("name", f"group{i}"))
                keys.append(key if key not in keys and key != "lr" else f"{key}_{i}")
        return keys

    def run_info(self) -> dict[str, Any]:
        """What the run is: logged at the start and written as the JSON log's first line."""
        self.logger.info(f"seglab {__version__}, torch {torch.__version__}, device {self.device}, "
                         f"world size {self.world_size}, seed {self.seed}, amp {self.amp_dtype}, "
                         f"channels_last {self.channels_last}, reuse_freed_memory {self.reuse_freed_memory}")
        self.logger.info("learning rates and weight decay by rule (seglab lr-table shows every parameter):\n"
                         + format_rule_summary(param_settings(self.model, self.run.optimizer)))
        self.logger.info(f"training iterations {self.start_iter} -> {self.max_iters}, work dir {self.work_dir}")
        return {"env_info": f"seglab {__version__}, torch {torch.__version__}, {self.device}", "seed": self.seed,
                "exp_name": self.cfg.filename and Path(self.cfg.filename).name, "world_size": self.world_size}

    def _memory_mb(self) -> int:
        if self.device.type == "cuda":
            return int(torch.cuda.max_memory_allocated(self.device) / 2**20)
        return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)

    def evaluate(self) -> dict[str, float]:
        """Metrics on ``data.val`` now; logged, and given to the hooks (which also find the
        confusion matrix and per-image scores in ``eval_details``)."""
        from seglab.engine.evaluator import evaluate_segmentor

        self.call_hooks("before_eval")
        self.eval_details = EvalDetails(len(self.val_dataset), len(self.val_dataset.CLASSES),
                                        self.val_dataset.ignore_index)
        # a log read from a file otherwise shows nothing while the images are predicted
        self.logger.info(f"evaluating on {len(self.val_dataset)} validation images at iteration {self.iter}")
        t0 = time.perf_counter()
        self.metrics, table = evaluate_segmentor(
            self.model, self.val_dataset, metrics=self.run.evaluation.metric, device=self.device,
            amp_dtype=self.amp_dtype, progress=self.show_progress, workers=self.run.data.loader("val").workers_per_gpu,
            details=self.eval_details)
        self.train_model.train()
        self.last_eval_s = time.perf_counter() - t0
        self.logger.info(f"evaluation at iteration {self.iter} ({self.last_eval_s:.1f} s):\n{table}")
        self.call_hooks("after_eval", self.metrics)
        self.call_hooks("log", {"mode": "val", "epoch": 1, "iter": self.iter, **self.current_lrs(), **self.metrics})
        return self.metrics

    # ------------------------------------------------------------------ checkpoints
    def checkpoint(self, with_optimizer: bool = True) -> dict[str, Any]:
        """Everything a resumed run needs to continue exactly (and 0.x's ``meta``)."""
        dataset = getattr(self.train_loader.dataset, "dataset", None)
        return {
            "meta": {"iter": self.iter, "epoch": 1, "seglab_version": __version__, "config": self.cfg.pretty_text,
                     "seed": self.seed, "CLASSES": getattr(dataset, "CLASSES", None),
                     "PALETTE": getattr(dataset, "PALETTE", None), "time": time.asctime()},
            "state_dict": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict() if with_optimizer else None,
            "scheduler": self.scheduler.state_dict(),
            "scaler": self.scaler.state_dict() if self.scaler is not None else None,
            "rng": capture_rng_state(),
        }

    def save_checkpoint(self, path: Path, *, with_optimizer: bool = True) -> None:
        """On every rank: check that no loss was non-finite; then rank 0 writes ``path`` atomically."""
        self.check_finite()
        if self.rank == 0:
            ckpt = self.checkpoint(with_optimizer)
            self.call_hooks("before_save_checkpoint", ckpt)
            save_atomic(ckpt, path)
        self.last_checkpoint = (self.iter, path)

    def resume(self, path: str) -> None:
        """Continue from a training checkpoint: weights, optimizer, schedule, scaler, RNGs, iteration."""
        ckpt = read_checkpoint(path, unsafe_load=self.run.checkpoint_unsafe_load)
        for key in ("state_dict", "optimizer", "meta"):
            if not ckpt.get(key):
                raise CheckpointError(f"resume_from: {path} has no {key!r}; it is not a training checkpoint "
                                      "(use load_from / --load-from to start from its weights)")
        load_checkpoint(self.model, ckpt["state_dict"], strict=True, name=path)
        self.optimizer.load_state_dict(ckpt["optimizer"])
        if ckpt.get("scheduler"):
            self.scheduler.load_state_dict(ckpt["scheduler"])
        if self.scaler is not None and ckpt.get("scaler"):
            self.scaler.load_state_dict(ckpt["scaler"])
        if ckpt.get("rng"):
            restore_rng_state(ckpt["rng"])
        self.start_iter = self.iter = int(ckpt["meta"]["iter"])
        self.call_hooks("after_load_checkpoint", ckpt)
        restored = {*_CHECKPOINT_KEYS, *(k for h in self.hooks for k in h.checkpoint_keys)}
        unused = [k for k in ckpt if k not in restored]
        if unused:
            self.logger.warning(f"resume_from: {path} holds {', '.join(unused)}, which no part of this run restores "
                                "(written by a hook this config does not have?)")
        self.logger.info(f"resumed from {path} at iteration {self.start_iter}")

    def _resume_path(self) -> str | None:
        if self.run.resume_from:
            return str(self.run.resume_from)
        latest = self.checkpoint_dir / "latest.pth"
        return str(latest) if self.run.auto_resume and latest.exists() else None

    # ------------------------------------------------------------------ setup helpers
    def _build_model(self, run: RunConfig) -> nn.Module:
        model = MODELS.build(run.model, key="model")
        with unsafe_load_allowed(run.checkpoint_unsafe_load):  # pretrained backbone weights are read here
            if not run.resume_from and not run.load_from:
                model.init_weights()
            if run.load_from and not run.resume_from:
                load_checkpoint(model, run.load_from)
        model.to(self.device)
        if self.channels_last:
            model.to(memory_format=torch.channels_last)
        return model

    @staticmethod
    def _pick_device(wanted: str | None) -> torch.device:
        if wanted:
            return torch.device(wanted)
        if torch.cuda.is_available():
            return torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
        return torch.device("cpu")

    def _configure_backends(self, run: RunConfig) -> None:
        if self.device.type == "cuda":
            torch.backends.cudnn.benchmark = run.cudnn_benchmark and not run.deterministic
        if run.opencv_num_threads is not None:
            import cv2

            cv2.setNumThreads(run.opencv_num_threads)

    def _resolve_seed(self, seed: int | None) -> int:
        if seed is None:
            seed = int(np.random.default_rng().integers(2**31))
            if self.world_size > 1:  # every rank must draw the same data stream
                t = torch.tensor([seed if self.rank == 0 else 0], dtype=torch.int64)
                seed = int(sdist.all_reduce_sum(t).item())
        return int(seed)

    def _wrap(self, model: nn.Module) -> nn.Module:
        if self.world_size > 1:
            model = DistributedDataParallel(
                model, device_ids=[self.device.index] if self.device.type == "cuda" else None,
                find_unused_parameters=self.run.find_unused_parameters)
        if self.run.compile:
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

    def _train_loader(self) -> torch.utils.data.DataLoader:
        from seglab.data import build_dataloader, build_dataset
        from seglab.data.check import check_data_samples, check_training_labels
        from seglab.data.loader import warn_more_workers_than_cpus

        dataset = build_dataset(self.run.data.split("train"), key="data.train")
        # every rank checks the same files, so all stop together rather than some hanging
        check_training_labels(dataset, check_data_samples(self.run.check_data), data_cfg=self.run.data.splits(),
                              config=self.cfg.filename)
        options = self.run.data.loader("train")
        warn_more_workers_than_cpus(options.workers_per_gpu)
        sampler = TrainStreamSampler(len(dataset), self.seed, self.rank, self.world_size,
                                     start=self.start_iter * options.samples_per_gpu, shuffle=options.shuffle)
        # the loader's own generator: starting the workers must not draw from the global RNG
        # (dropout), or a resumed run would diverge from an unbroken one
        return build_dataloader(
            SeededSamples(dataset), options.samples_per_gpu, options.workers_per_gpu, sampler=sampler, seed=self.seed,
            persistent_workers=options.persistent_workers, multiprocessing_context=self.run.mp_start_method,
            pin_memory=self.device.type == "cuda" if options.pin_memory is None else options.pin_memory)

    def _val_dataset(self):
        from seglab.data import build_dataset

        if not self.run.evaluates:
            return None
        return build_dataset(self.run.data.val, default_args={"test_mode": True}, key="data.val")
