"""The run settings of a config, validated once: ``parse_run_config(cfg) -> RunConfig``.

Everything that says what to build and how to train (the ``model`` config, and MMSegmentation
0.x's runtime sections: ``runner``, ``optimizer``, ``optimizer_config``, ``lr_config``,
``checkpoint_config``, ``log_config``, ``evaluation``, ``data``, ``workflow``, seed, resume, speed
keys, custom imports and hooks) is read here and nowhere else. Each section is a frozen dataclass
whose fields are its schema (``seglab.config.schema``): a misspelled key is a ``ConfigError``
naming ``evaluation.intervall`` with did-you-mean, raised before anything is built.

A config in the MMSegmentation 1.x dialect is first translated into these keys
(``seglab.config.dialect``); one that mixes both dialects is an error naming the keys of each.
Any other top-level key seglab does not use is a warning with did-you-mean (config files also
define helper variables such as ``crop_size``, which are not warned about).

``custom_imports`` are imported while parsing, so the types their modules register (heads,
hooks, datasets) are known to every later check and build.
"""
from __future__ import annotations

import dataclasses
import importlib
import logging
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from seglab.config.dialect import detect_dialect, translate_1x
from seglab.config.schema import build_section
from seglab.errors import ConfigError
from seglab.registry import HOOKS, check_arguments, did_you_mean

logger = logging.getLogger("seglab")

# Variables 0.x config files define to build other values; they are not settings.
HELPER_VARIABLES = frozenset({
    "norm_cfg", "backbone_norm_cfg", "dataset_type", "data_root", "img_norm_cfg", "crop_size",
    "img_scale", "train_pipeline", "test_pipeline", "checkpoint", "checkpoint_file", "num_classes", "classes",
    "palette",
})
# mmcv's hook priority names.
PRIORITIES = {"HIGHEST": 0, "VERY_HIGH": 10, "HIGH": 30, "ABOVE_NORMAL": 40, "NORMAL": 50,
              "BELOW_NORMAL": 60, "LOW": 70, "VERY_LOW": 90, "LOWEST": 100}
LOG_LEVELS = Literal["CRITICAL", "ERROR", "WARNING", "INFO", "DEBUG", "NOTSET"]


def _no_effect(why: str, default: Any = None) -> Any:
    return field(default=default, metadata={"no_effect": why})


# --------------------------------------------------------------------------- sections
@dataclass(frozen=True)
class Runner:
    """``runner``: seglab trains by iterations."""

    type: Literal["IterBasedRunner"] = field(default="IterBasedRunner", metadata={
        "help": "seglab trains by iterations: runner=dict(type='IterBasedRunner', max_iters=N)"})
    max_iters: int | None = None  # number of training iterations


@dataclass(frozen=True)
class GradClip:
    """``optimizer_config.grad_clip``: ``clip_grad_norm_`` before every optimizer step."""

    max_norm: float
    norm_type: float = 2.0


@dataclass(frozen=True)
class OptimizerHookConfig:
    """``optimizer_config``."""

    # ``'OptimizerHook'``, or ``'Fp16OptimizerHook'`` (the same as ``fp16=dict(loss_scale=...)``).
    type: Literal["OptimizerHook", "Fp16OptimizerHook", "GradientCumulativeOptimizerHook"] = "OptimizerHook"
    grad_clip: GradClip | None = None  # gradient clipping, or None
    cumulative_iters: int = 1  # GradientCumulativeOptimizerHook: one optimizer step every N iterations
    loss_scale: float | Literal["dynamic"] = 512.0  # ``Fp16OptimizerHook``'s initial loss scale (or ``'dynamic'``)
    detect_anomalous_params: bool = _no_effect("DDP reports unused parameters itself "
                                               "(set find_unused_parameters=True)", False)
    distributed: bool = _no_effect("the gradient scaler works the same in one or many processes", True)


@dataclass(frozen=True)
class CheckpointConfig:
    """``checkpoint_config``: when ``iter_N.pth`` is written and how many are kept."""

    interval: int = -1  # write every ``interval`` iterations (-1: only the last, with ``save_last``)
    by_epoch: Literal[False] = field(default=False, metadata={"help": "seglab trains by iterations"})
    max_keep_ckpts: int = -1  # keep only the newest N periodic checkpoints (-1: all)
    save_optimizer: bool = True  # include the optimizer state (needed to resume)
    save_last: bool = True  # also write a checkpoint at the last iteration
    out_dir: str | None = None  # where to write them (default: the work dir)
    create_symlink: bool = True  # keep ``latest.pth`` pointing at the newest one
    sync_buffer: bool = False  # average buffers (BN statistics) across processes before writing


@dataclass(frozen=True)
class EvaluationConfig:
    """``evaluation``: validation on ``data.val`` during training."""

    interval: int = 1  # evaluate every ``interval`` iterations (0: never), and after the last one
    metric: str | list[str] = "mIoU"  # ``'mIoU'``, ``'mDice'``, ``'mFscore'`` or a list of them
    by_epoch: Literal[False] = field(default=False, metadata={"help": "seglab trains by iterations"})
    save_best: str | None = None  # keep ``best_<metric>_iter_N.pth`` for this metric (``'auto'``: the first one)
    # which is better for save_best (default: 'less' for a name containing 'loss')
    rule: Literal["greater", "less"] | None = None
    start: int | None = None  # first iteration to evaluate at; then every ``interval`` after it
    pre_eval: bool = True  # accepted for 0.x configs (seglab always accumulates per-image areas)
    efficient_test: bool = _no_effect("per-image areas are accumulated, predictions are never stored", False)
    gpu_collect: bool = _no_effect("the per-class areas are summed across processes", False)

    def __post_init__(self) -> None:
        from seglab.evaluation import check_metrics

        check_metrics(self.metric, key="evaluation.metric")

    def due(self, done: int, max_iters: int) -> bool:
        """Whether to evaluate after ``done`` iterations."""
        if self.interval <= 0:
            return False
        if done == max_iters:
            return True
        start = self.start or 0
        return done >= start and (done - start) % self.interval == 0 and done > 0

    def count_due(self, done: int, max_iters: int) -> int:
        """How many evaluations come after ``done`` iterations, up to and including ``max_iters``."""
        if self.interval <= 0 or done >= max_iters:
            return 0
        start = self.start or 0
        first = max(done + 1, start, 1)
        first += (start - first) % self.interval  # up to the next iteration a whole interval past start
        return 1 + (0 if first >= max_iters else (max_iters - 1 - first) // self.interval + 1)


@dataclass(frozen=True)
class LogConfig:
    """``log_config``."""

    interval: int = 10  # iterations between log lines
    # logger hooks (TextLoggerHook is always on)
    hooks: list[dict] = field(default_factory=lambda: [{"type": "TextLoggerHook"}])


@dataclass(frozen=True)
class LoaderOptions:
    """``data.train_dataloader`` / ``val_dataloader`` / ``test_dataloader``: per-split loader options."""

    samples_per_gpu: int | None = None
    workers_per_gpu: int | None = None
    shuffle: bool | None = None
    persistent_workers: bool | None = None
    pin_memory: bool | None = None
    drop_last: bool | None = None


@dataclass(frozen=True)
class DataConfig:
    """``data``: the splits and how they are loaded."""

    samples_per_gpu: int = 2  # training batch size of each process
    workers_per_gpu: int = 2  # loader processes of each process (0: load in the main process)
    shuffle: bool = True  # shuffle the training stream every epoch
    persistent_workers: bool = True  # keep loader workers alive for the whole run
    pin_memory: bool | None = None  # pin batches (default: on CUDA)
    drop_last: bool = _no_effect("the training stream is endless and never yields a partial batch", False)
    train: dict | None = None  # training dataset config
    val: dict | None = None  # validation dataset config
    test: dict | None = None  # test dataset config
    # per-split loader options, over the ones above
    train_dataloader: LoaderOptions = field(default_factory=LoaderOptions)
    val_dataloader: LoaderOptions = field(default_factory=LoaderOptions)
    test_dataloader: LoaderOptions = field(default_factory=LoaderOptions)

    def loader(self, split: str) -> LoaderOptions:
        """The effective loader options of ``split`` (``'train'``, ``'val'`` or ``'test'``)."""
        own = getattr(self, f"{split}_dataloader")
        base = LoaderOptions(self.samples_per_gpu if split == "train" else 1, self.workers_per_gpu,
                             self.shuffle, self.persistent_workers, self.pin_memory, False)
        return dataclasses.replace(base, **{k: v for k, v in dataclasses.asdict(own).items() if v is not None})

    def splits(self) -> dict[str, dict]:
        """The dataset configs of the splits the config has, by name."""
        return {name: getattr(self, name) for name in ("train", "val", "test") if getattr(self, name) is not None}

    def split(self, name: str) -> dict:
        """The dataset config of split ``name``; a clear error when the config has none."""
        cfg = getattr(self, name)
        if cfg is None:
            raise ConfigError(f"data.{name} is not set: the config has no {name} split "
                              f"(data=dict({name}=dict(type=..., data_root=..., ...)))")
        return cfg


@dataclass(frozen=True)
class AmpConfig:
    """``amp``: autocast for speed (bf16 on CPU; bf16 or fp16 with a gradient scaler on GPU)."""

    dtype: Literal["bfloat16", "bf16", "float16", "fp16"] = "bfloat16"
    enabled: bool = True


@dataclass(frozen=True)
class Fp16Config:
    """0.x's ``fp16=dict(loss_scale=512.)``: fp16 autocast with a gradient scaler (bf16 on CPU)."""

    loss_scale: float | Literal["dynamic"] | dict = 512.0


@dataclass(frozen=True)
class DistParams:
    """``dist_params``: the process-group backend (default gloo on CPU, nccl on CUDA)."""

    backend: str | None = None
    port: int | None = _no_effect("torchrun sets the rendezvous address and port (--master_port)")


@dataclass(frozen=True)
class CustomImports:
    """``custom_imports``: modules imported before anything is built (they register components)."""

    # module names (``'my_project.heads'``), importable from the working directory or ``PYTHONPATH``.
    imports: str | list[str]
    allow_failed_imports: bool = False  # warn instead of failing when a module cannot be imported


@dataclass(frozen=True)
class RunConfig:
    """Every run setting of a config; built by ``parse_run_config``. Field names are the config's
    top-level keys (see each section's class for its keys)."""

    model: dict | None = None  # built by the registry (its keys are checked there)
    runner: Runner = field(default_factory=Runner)
    total_iters: int | None = None
    optimizer: dict | None = None
    optimizer_config: OptimizerHookConfig = field(default_factory=OptimizerHookConfig)
    lr_config: dict | None = None
    param_scheduler: list[dict] | dict | None = None  # the 1.x dialect's schedule (mmengine's arithmetic)
    checkpoint_config: CheckpointConfig = field(default_factory=CheckpointConfig)
    log_config: LogConfig = field(default_factory=LogConfig)
    evaluation: EvaluationConfig | None = None
    data: DataConfig = field(default_factory=DataConfig)
    workflow: list[tuple[str, int]] = field(default_factory=lambda: [("train", 1)])
    seed: int | None = None
    deterministic: bool = False
    load_from: str | None = None
    resume_from: str | None = None
    auto_resume: bool = False
    checkpoint_unsafe_load: bool = False  # read checkpoints in full (may run code): only for files you trust
    dist_params: DistParams = field(default_factory=DistParams)
    find_unused_parameters: bool = False
    log_level: LOG_LEVELS | int = "INFO"
    amp: AmpConfig | None = None
    fp16: Fp16Config | None = None
    channels_last: bool = False
    compile: bool = False
    cudnn_benchmark: bool = False
    reuse_freed_memory: bool = True
    check_data: Any = True  # labels checked before training: dict(samples=N), False: off (checked below)
    device: str | None = None
    work_dir: str | None = None
    gpu_ids: list[int] | None = _no_effect("torchrun chooses the processes and devices")
    opencv_num_threads: int | None = None
    mp_start_method: Literal["fork", "spawn", "forkserver"] | None = None
    custom_imports: CustomImports | None = None
    custom_hooks: list[dict] = field(default_factory=list)

    @property
    def max_iters(self) -> int:
        """The number of training iterations (``runner.max_iters``, or 0.x's older ``total_iters``)."""
        return self.runner.max_iters  # type: ignore[return-value]  (checked by parse_run_config)

    @property
    def evaluates(self) -> bool:
        """Whether training evaluates on ``data.val`` (an ``evaluation`` with a positive interval)."""
        return self.evaluation is not None and self.evaluation.interval > 0 and self.data.val is not None


SECTIONS = tuple(f.name for f in dataclasses.fields(RunConfig))


# --------------------------------------------------------------------------- parsing
def parse_run_config(cfg: Mapping[str, Any], *, need_max_iters: bool = True) -> RunConfig:
    """Validate the run settings of ``cfg`` (see the module docstring).

    Args:
        cfg: the resolved config.
        need_max_iters: require ``runner.max_iters`` (training); ``seglab test`` does not.
    """
    if detect_dialect(cfg) == "1.x":
        cfg = translate_1x(cfg)
    else:
        warn_unused_keys(cfg)
    import_custom_modules(cfg.get("custom_imports"))
    run = build_section(RunConfig, {k: v for k, v in cfg.items() if k in SECTIONS}, "")
    run = dataclasses.replace(run, runner=_resolve_max_iters(run, need_max_iters))
    _check_workflow(run.workflow)
    for i, hook in enumerate(run.custom_hooks):
        check_hook_config(hook, f"custom_hooks.{i}")
    for i, hook in enumerate(run.log_config.hooks):
        check_hook_config(hook, f"log_config.hooks.{i}")
        _check_logger_interval(hook, run.log_config.interval, f"log_config.hooks.{i}")
    _check_optimizer_and_schedule(run)
    return run


def warn_unused_keys(cfg: Mapping[str, Any]) -> None:
    """A warning, with did-you-mean against the section names, for each top-level key seglab does
    not use."""
    for key in cfg:
        if key not in SECTIONS and key not in HELPER_VARIABLES:
            logger.warning(f"config key {key!r} is not used by seglab.{did_you_mean(str(key), SECTIONS)}")


def import_custom_modules(custom_imports: Any) -> None:
    """Import ``custom_imports=dict(imports=[...])`` (from the working directory too, like ``python -m``)."""
    if custom_imports is None:
        return
    spec = build_section(CustomImports, custom_imports, "custom_imports")
    names = [spec.imports] if isinstance(spec.imports, str) else spec.imports
    if os.getcwd() not in sys.path and "" not in sys.path:
        sys.path.insert(0, os.getcwd())
    for name in names:
        try:
            importlib.import_module(name)
        except ImportError as e:
            message = (f"custom_imports: cannot import {name!r}: {e}. The module must be importable from the "
                       "working directory or PYTHONPATH")
            if not spec.allow_failed_imports:
                raise ConfigError(message) from e
            logger.warning(message + " (allow_failed_imports=True: continuing without it)")


def check_hook_config(hook: Any, path: str) -> None:
    """A hook config names a registered hook and only its arguments (plus ``priority``)."""
    if not isinstance(hook, Mapping) or "type" not in hook:
        raise ConfigError(f"{path} must be a dict with a 'type' key naming a hook, got {hook!r}. "
                          f"Registered hooks: {', '.join(HOOKS.keys())}")
    try:
        cls = HOOKS.get(hook["type"])
    except ConfigError as e:
        raise ConfigError(f"{path}.type: {e}") from None
    priority = hook.get("priority", "NORMAL")
    hook_priority(priority, f"{path}.priority")
    check_arguments(cls, {k: v for k, v in hook.items() if k not in ("type", "priority")}, path)


def _check_logger_interval(hook: Mapping[str, Any], interval: int, path: str) -> None:
    """A logger's own ``interval`` (mmcv gave each logger one) must repeat ``log_config.interval``:
    every seglab logger receives the same records."""
    own = hook.get("interval")
    if own is not None and own != interval:
        raise ConfigError(f"{path}.interval={own!r} differs from log_config.interval={interval}: every logger "
                          "receives one record per log_config.interval iterations. Remove the hook's interval, "
                          f"or set log_config.interval={own!r}")


def hook_priority(priority: Any, where: str = "priority") -> int:
    """An mmcv priority (a name such as ``'NORMAL'`` or a number 0..100) as a number."""
    if isinstance(priority, str) and priority.upper() in PRIORITIES:
        return PRIORITIES[priority.upper()]
    if isinstance(priority, int) and not isinstance(priority, bool) and 0 <= priority <= 100:
        return priority
    raise ConfigError(f"{where} must be an integer 0..100 or one of {', '.join(PRIORITIES)}, got {priority!r}."
                      f"{did_you_mean(str(priority).upper(), PRIORITIES)}")


def _resolve_max_iters(run: RunConfig, required: bool) -> Runner:
    runner, total = run.runner, run.total_iters
    if runner.max_iters is not None and total is not None and total != runner.max_iters:
        raise ConfigError(f"total_iters={total} and runner.max_iters={runner.max_iters} disagree; "
                          "remove total_iters (0.x's older key)")
    max_iters = runner.max_iters if runner.max_iters is not None else total
    if max_iters is None:
        if required:
            raise ConfigError("runner.max_iters is not set; set runner=dict(type='IterBasedRunner', max_iters=N)")
        return runner
    if max_iters < 1:
        raise ConfigError(f"runner.max_iters must be a positive integer, got {max_iters!r}")
    return dataclasses.replace(runner, max_iters=max_iters)


def _check_workflow(workflow: list) -> None:
    phases = [phase for phase, _ in workflow]
    if not phases or phases[0] != "train" or any(p not in ("train", "val") for p in phases):
        raise ConfigError(f"workflow must be [('train', 1)] (optionally followed by ('val', 1)), got {workflow!r}")
    if "val" in phases:
        logger.warning(f"workflow={workflow!r}: the ('val', n) phase has no effect in seglab; validation "
                       "runs every evaluation.interval iterations")


def _check_optimizer_and_schedule(run: RunConfig) -> None:
    """The optimizer's keys and the lr schedule, checked now rather than after the model is built."""
    from seglab.data.check import check_data_samples
    from seglab.engine.optimizer import check_optimizer_config
    from seglab.engine.schedules import build_schedule

    if run.optimizer is not None:
        check_optimizer_config(run.optimizer)
    check_data_samples(run.check_data)
    if run.runner.max_iters is not None:
        build_schedule(run.lr_config, run.param_scheduler, run.max_iters)
