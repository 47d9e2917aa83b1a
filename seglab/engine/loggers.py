"""Logger hooks beyond the text log: TensorBoard and Weights & Biases, with mmcv 1.x's names and keys.

    log_config = dict(interval=50, hooks=[
        dict(type='TextLoggerHook', by_epoch=False),          # always on
        dict(type='TensorboardLoggerHook'),                   # WORK_DIR/tf_logs; pip install 'seglab[tensorboard]'
        dict(type='WandbLoggerHook', init_kwargs=dict(project='seg')),   # pip install 'seglab[wandb]'
    ])

Both write every numeric value of every record under mmcv's tags (``scalar_tags``): the lr of
the first param group as ``learning_rate``, every other training value as ``train/<key>``
(``train/lr_head``, ``train/decode.ohem_kept``, ``train/decode.loss_ce``, ``train/loss``, ...),
and each evaluation's metrics as ``val/<key>`` (``val/mIoU``, ``val/IoU.vessel``). ``time`` and
``data_time`` are left out, as in mmcv. Only rank 0 writes.
"""
from __future__ import annotations

import importlib
from pathlib import Path
from typing import TYPE_CHECKING, Any

from seglab.engine.hooks import LoggerHook
from seglab.errors import ConfigError
from seglab.registry import HOOKS

if TYPE_CHECKING:
    from seglab.engine.trainer import Trainer

SKIPPED_KEYS = ("mode", "epoch", "iter", "time", "data_time")


def scalar_tags(record: dict[str, Any]) -> dict[str, float]:
    """The tags and values a record is logged under (see the module docstring)."""
    mode = record["mode"]
    tags = {}
    for key, value in record.items():
        if key in SKIPPED_KEYS or isinstance(value, bool) or not isinstance(value, (int, float)):
            continue
        if key == "lr" or key.startswith("lr_"):
            if mode != "train":
                continue  # evaluations repeat the lr of the train record at the same iteration
            tags["learning_rate" if key == "lr" else f"train/{key}"] = float(value)
        else:
            tags[f"{mode}/{key}"] = float(value)
    return tags


def require(module: str, hook: str, extra: str) -> Any:
    """Import ``module`` for ``hook``, or a one-line ``ConfigError`` naming what to install."""
    try:
        return importlib.import_module(module)
    except ImportError as e:
        raise ConfigError(f"log_config.hooks: {hook} needs the {extra} package: pip install 'seglab[{extra}]' "
                          f"(or pip install {extra})") from e


@HOOKS.register
class TensorboardLoggerHook(LoggerHook):
    """Every logged scalar as TensorBoard event files (``torch.utils.tensorboard.SummaryWriter``).

    Args:
        log_dir: where the event files go (default ``WORK_DIR/tf_logs``, as in mmcv).
        **kwargs: ``LoggerHook``'s keys (``interval``, ``ignore_last``, ``reset_flag``, ``by_epoch``).
    """

    def __init__(self, log_dir: str | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        require("tensorboard", type(self).__name__, "tensorboard")  # before training, not after it
        self.log_dir = log_dir
        self.writer = None

    def before_train(self, trainer: Trainer) -> None:
        if trainer.rank != 0:
            return
        from torch.utils.tensorboard import SummaryWriter

        self.writer = SummaryWriter(str(Path(self.log_dir) if self.log_dir else trainer.work_dir / "tf_logs"))

    def log(self, trainer: Trainer, record: dict[str, Any]) -> None:
        if self.writer is None:
            return
        for tag, value in scalar_tags(record).items():
            self.writer.add_scalar(tag, value, int(record["iter"]))
        self.writer.flush()  # records are seconds apart: a running TensorBoard sees each at once

    def after_train(self, trainer: Trainer) -> None:
        if self.writer is not None:
            self.writer.close()
            self.writer = None


@HOOKS.register
class WandbLoggerHook(LoggerHook):
    """Every logged scalar to a Weights & Biases run (``wandb.init(**init_kwargs)``; offline with
    ``WANDB_MODE=offline``), at the step of its iteration.

    Args:
        init_kwargs: ``wandb.init``'s arguments (``project``, ``name``, ``config``, ``dir``, ...).
        commit: False holds every step back until the next one (wandb's ``commit=False``); True
            lets wandb commit a step once a later step arrives, so a train record and the
            evaluation at the same iteration share one step.
        with_step: log at ``step=iteration`` (True), or log the iteration as ``global_step``.
        log_artifact: at the end, upload the work dir's files ending in ``out_suffix`` (the
            logs and the config) as an artifact.
        out_suffix: which files ``log_artifact`` uploads.
        **kwargs: ``LoggerHook``'s keys (``interval``, ``ignore_last``, ``reset_flag``, ``by_epoch``).
    """

    def __init__(self, init_kwargs: dict | None = None, commit: bool = True, with_step: bool = True,
                 log_artifact: bool = True, out_suffix: str | tuple[str, ...] = (".log.json", ".log", ".py"),
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        require("wandb", type(self).__name__, "wandb")
        self.init_kwargs = dict(init_kwargs or {})
        self.commit, self.with_step, self.log_artifact = commit, with_step, log_artifact
        self.out_suffix = (out_suffix,) if isinstance(out_suffix, str) else tuple(out_suffix)
        self.run = None

    def before_train(self, trainer: Trainer) -> None:
        if trainer.rank != 0:
            return
        import wandb

        self.run = wandb.init(**self.init_kwargs)

    def log(self, trainer: Trainer, record: dict[str, Any]) -> None:
        if self.run is None:
            return
        tags = scalar_tags(record)
        commit = None if self.commit else False  # None: wandb commits when the step moves on
        if self.with_step:
            self.run.log(tags, step=int(record["iter"]), commit=commit)
        else:
            self.run.log({**tags, "global_step": int(record["iter"])}, commit=commit)

    def after_train(self, trainer: Trainer) -> None:
        if self.run is None:
            return
        if self.log_artifact:
            import wandb

            artifact = wandb.Artifact(name=f"run-{self.run.id}", type="logs")
            for path in sorted(trainer.work_dir.iterdir()):
                if path.is_file() and path.name.endswith(self.out_suffix):
                    artifact.add_file(str(path))
            self.run.log_artifact(artifact)
        self.run.finish()
        self.run = None
