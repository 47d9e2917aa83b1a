"""Hooks: what runs around the training loop without being the loop itself.

``Trainer.train`` calls them at a few points, each with the trainer::

    before_train()
    for each iteration:
        run_step()                               # forward, losses, backward, step: never a hook
        log(record)        every log_config.interval, and for each evaluation
        after_step()       checkpoints, evaluation and user hooks (EMA, ...)
            evaluate():        before_eval() ... after_eval(metrics)
            save_checkpoint(): before_save_checkpoint(checkpoint)
    after_train()
    (resuming: after_load_checkpoint(checkpoint))

Hooks run in order of ``priority`` (mmcv's numbers: 0 first, ``'NORMAL'`` = 50; equal
priorities keep their order of registration, users' ``custom_hooks`` first). The built-in ones
come last, so that a user's hook sees a step before it is checkpointed or evaluated:
``CheckpointHook`` (``'VERY_LOW'``), then ``EvalHook`` (``'LOWEST'``), which can then link the
best checkpoint to the one just written.
"""
from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from seglab.engine import dist as sdist
from seglab.engine.logger import JsonLog, Progress, format_train_line
from seglab.engine.run_config import CheckpointConfig, EvaluationConfig, hook_priority
from seglab.errors import ConfigError
from seglab.registry import HOOKS, did_you_mean

if TYPE_CHECKING:
    from seglab.engine.trainer import Trainer

logger = logging.getLogger("seglab")


class HookBase:
    """Base of every hook; override the points you need (see the module docstring)."""

    priority: int = 50
    checkpoint_keys: tuple[str, ...] = ()  # the checkpoint entries this hook writes and restores

    def before_train(self, trainer: Trainer) -> None:
        pass

    def log(self, trainer: Trainer, record: dict[str, Any]) -> None:
        """A train record (``mode='train'``: lr, losses, time...) or a val record (metrics)."""

    def after_step(self, trainer: Trainer) -> None:
        """After iteration ``trainer.iter`` (1-based: the number of iterations done)."""

    def before_eval(self, trainer: Trainer) -> None:
        pass

    def after_eval(self, trainer: Trainer, metrics: dict[str, float]) -> None:
        pass

    def before_save_checkpoint(self, trainer: Trainer, checkpoint: dict[str, Any]) -> None:
        """May add entries to (or change) the checkpoint about to be written."""

    def after_load_checkpoint(self, trainer: Trainer, checkpoint: Mapping[str, Any]) -> None:
        """After resuming from ``checkpoint`` (model, optimizer and schedule already restored)."""

    def after_train(self, trainer: Trainer) -> None:
        pass


def build_hook(cfg: Mapping[str, Any], key: str, **defaults: Any) -> HookBase:
    """A hook from ``dict(type=..., priority=..., **args)`` (``priority`` is not a constructor key)."""
    args = dict(cfg)
    priority = args.pop("priority", None)
    hook = HOOKS.build(args, key=key, **defaults)
    if priority is not None:
        hook.priority = hook_priority(priority, f"{key}.priority")
    return hook


def in_priority_order(hooks: list[HookBase]) -> list[HookBase]:
    return sorted(hooks, key=lambda h: h.priority)  # stable: registration order within a priority


def replace_with_link(target: Path, link: Path, *, symbolic: bool) -> None:
    """Make ``link`` a (symbolic or hard) link to ``target``, replacing it atomically."""
    tmp = link.with_name(f".{link.name}.{os.getpid()}")
    tmp.unlink(missing_ok=True)
    if symbolic:
        os.symlink(target.name if target.parent == link.parent else target, tmp)
    else:
        os.link(target, tmp)
    os.replace(tmp, link)


# --------------------------------------------------------------------------- logging
class LoggerHook(HookBase):
    """Base of the hooks that write the log records somewhere (``log(trainer, record)``), with the
    constructor keys of mmcv 1.x's logger hooks.

    Every logger gets the same records: one every ``log_config.interval`` iterations (means since
    the previous one), one at the last iteration and one per evaluation. So ``interval`` can only
    repeat ``log_config.interval`` (``parse_run_config`` checks that), and the keys that shaped
    mmcv's per-logger buffers are accepted with a warning that says why they change nothing.

    Args:
        interval: absent, or equal to ``log_config.interval``.
        ignore_last: mmcv's "skip the last iterations of an epoch"; seglab has no epochs and
            always logs the last iteration.
        reset_flag: mmcv's "clear the log buffer after this logger"; seglab's records are
            already the means since the previous one, for every logger.
        by_epoch: must be False (seglab trains by iterations).
    """

    priority = 90

    def __init__(self, interval: int | None = None, ignore_last: bool = True, reset_flag: bool = False,
                 by_epoch: Literal[False] = False) -> None:
        name = type(self).__name__
        if by_epoch:
            raise ConfigError(f"log_config.hooks: {name}(by_epoch=True) is not supported; seglab trains "
                              "by iterations (by_epoch=False)")
        if interval is not None and (isinstance(interval, bool) or not isinstance(interval, int) or interval < 1):
            raise ConfigError(f"log_config.hooks: {name} interval must be a positive integer, got {interval!r}")
        if not ignore_last:
            logger.warning(f"log_config.hooks: {name}(ignore_last=False) has no effect in seglab: there are no "
                           "epochs, and the last iteration is always logged")
        if reset_flag:
            logger.warning(f"log_config.hooks: {name}(reset_flag=True) has no effect in seglab: every record is "
                           "already the mean since the previous one, for every logger")
        self.interval = interval


def eta_seconds(trainer: Trainer, done: int, iter_s: float) -> float:
    """Seconds left after ``done`` iterations: the iterations at ``iter_s`` each, and the
    evaluations still due at the last one's duration (none is counted before the first). An
    evaluation due at ``done`` itself is still to come: it runs after that iteration's log line."""
    evaluation = trainer.run.evaluation
    evaluations = evaluation.count_due(done - 1, trainer.max_iters) if evaluation else 0
    return (trainer.max_iters - done) * iter_s + evaluations * (trainer.last_eval_s or 0.0)


@HOOKS.register
class TextLoggerHook(LoggerHook):
    """The human log lines, the 0.x JSON-lines log, the progress bar and, at the end, the curves.

    Always on (``log_config.hooks`` may name it, as 0.x configs do).

    Args:
        **kwargs: ``LoggerHook``'s keys (mmcv's ``interval``, ``ignore_last``, ``reset_flag``, ``by_epoch``).
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.json_log: JsonLog | None = None
        self.progress: Progress | None = None

    def before_train(self, trainer: Trainer) -> None:
        self.json_log = JsonLog(trainer.json_log_path)
        self.json_log.write(trainer.run_info())
        self.progress = Progress(trainer.max_iters, trainer.start_iter,
                                 enabled=trainer.show_progress and trainer.rank == 0)

    def log(self, trainer: Trainer, record: dict[str, Any]) -> None:
        self.json_log.write(record)
        if record["mode"] == "train":
            values = {k: v for k, v in record.items() if k not in ("mode", "epoch", "iter")}
            eta = eta_seconds(trainer, record["iter"], record["time"])
            trainer.logger.info(format_train_line(record["iter"], trainer.max_iters, values, eta))
            self.progress.set_postfix(loss=f"{record['loss']:.4f}", lr=f"{record['lr']:.2e}")

    def after_step(self, trainer: Trainer) -> None:
        self.progress.update(1)

    def after_train(self, trainer: Trainer) -> None:
        from seglab.evaluation.curves import plot_default, read_log

        self.progress.close()
        self.json_log.close()
        if trainer.rank == 0:
            paths = plot_default(read_log(trainer.json_log_path), trainer.work_dir / "plots")
            trainer.logger.info(f"curves: {', '.join(str(p) for p in paths)}")


# --------------------------------------------------------------------------- checkpoints
class CheckpointHook(HookBase):
    """``iter_N.pth`` every ``checkpoint_config.interval`` iterations and at the end, ``latest.pth``
    pointing at the newest, and only the newest ``max_keep_ckpts`` of them kept."""

    priority = 90

    def __init__(self, cfg: CheckpointConfig) -> None:
        self.cfg = cfg

    def due(self, done: int, max_iters: int) -> bool:
        return (self.cfg.interval > 0 and done % self.cfg.interval == 0) or (self.cfg.save_last and done == max_iters)

    def after_step(self, trainer: Trainer) -> None:
        if not self.due(trainer.iter, trainer.max_iters):
            return
        if self.cfg.sync_buffer:
            for buffer in trainer.model.buffers():
                if buffer.is_floating_point():
                    sdist.all_reduce_mean(buffer.data)
        path = trainer.checkpoint_dir / f"iter_{trainer.iter}.pth"
        trainer.save_checkpoint(path, with_optimizer=self.cfg.save_optimizer)
        if trainer.rank != 0:
            return
        if self.cfg.create_symlink:
            replace_with_link(path, trainer.checkpoint_dir / "latest.pth", symbolic=True)
        if self.cfg.max_keep_ckpts > 0:
            remove_oldest(trainer.checkpoint_dir, self.cfg.max_keep_ckpts)


def remove_oldest(directory: Path, keep: int) -> None:
    """Delete all but the newest ``keep`` ``iter_N.pth`` in ``directory`` (a best-checkpoint link
    to one of them keeps its data)."""
    saved = sorted((int(p.stem[len("iter_"):]), p) for p in directory.glob("iter_*.pth")
                   if p.stem[len("iter_"):].isdigit())
    for _, path in saved[:-keep]:
        path.unlink(missing_ok=True)


# --------------------------------------------------------------------------- evaluation
class EvalHook(HookBase):
    """Evaluation on ``data.val`` every ``evaluation.interval`` iterations and at the end; with
    ``save_best``, ``best_<metric>_iter_N.pth`` for the best score so far (a hard link to that
    iteration's checkpoint when there is one)."""

    priority = 100

    def __init__(self, cfg: EvaluationConfig) -> None:
        self.cfg = cfg
        self.best_score: float | None = None
        self.best_path: Path | None = None

    def after_step(self, trainer: Trainer) -> None:
        if self.cfg.due(trainer.iter, trainer.max_iters):
            metrics = trainer.evaluate()
            if self.cfg.save_best:
                self._keep_best(trainer, metrics)

    def _best_key(self, metrics: dict[str, float]) -> str:
        key = self.cfg.save_best
        if key == "auto":
            return next((k for k in metrics if k != "aAcc" and "." not in k), "aAcc")
        if key not in metrics:
            raise ConfigError(f"evaluation.save_best={key!r} is not a computed metric.{did_you_mean(key, metrics)} "
                              f"Computed: {', '.join(k for k in metrics if '.' not in k)}")
        return key

    def _keep_best(self, trainer: Trainer, metrics: dict[str, float]) -> None:
        """On every rank (the metrics are the same everywhere); rank 0 writes."""
        key = self._best_key(metrics)
        score = metrics[key]
        less = self.cfg.rule == "less" or (self.cfg.rule is None and "loss" in key.lower())
        if self.best_score is not None and not (score < self.best_score if less else score > self.best_score):
            return
        self.best_score = score
        path = trainer.checkpoint_dir / f"best_{key}_iter_{trainer.iter}.pth"
        saved = trainer.last_checkpoint
        if saved is None or saved[0] != trainer.iter:
            trainer.save_checkpoint(path)
        elif trainer.rank == 0:  # evaluation follows the checkpoint: link it rather than write it twice
            replace_with_link(saved[1], path, symbolic=False)
        if trainer.rank == 0 and self.best_path is not None and self.best_path != path:
            self.best_path.unlink(missing_ok=True)
        self.best_path = path
        trainer.logger.info(f"new best {key} = {score:.4f}: {path.name}")


def builtin_hooks(trainer: Trainer) -> list[HookBase]:
    """The hooks every run has: the loggers of ``log_config.hooks`` (``TextLoggerHook`` always),
    checkpoints, with a val split evaluation, and the run report (``RunReportHook``, last)."""
    from seglab.engine.report_hook import RunReportHook

    run = trainer.run
    hooks = [build_hook(h, f"log_config.hooks.{i}") for i, h in enumerate(run.log_config.hooks)]
    if not any(isinstance(h, TextLoggerHook) for h in hooks):
        hooks.append(TextLoggerHook())
    hooks.append(CheckpointHook(run.checkpoint_config))
    if run.evaluates:
        hooks.append(EvalHook(run.evaluation))
    if not any(isinstance(h, RunReportHook) for h in hooks):
        hooks.append(RunReportHook())
    return hooks
