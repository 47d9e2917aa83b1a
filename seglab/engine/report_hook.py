"""``RunReportHook``: writes what the run report needs into the work dir, and the page itself.

Built in, like ``TextLoggerHook`` (name it in ``log_config.hooks`` only to change its settings).
It runs last (priority ``'LOWEST'``, after ``EvalHook``), on every rank; rank 0 writes::

    before_train   report/run.json: the command, config files, classes, lr rules, every loss with
                   its class weights, pixel samplers; report/label_counts.json (once per work dir)
    after_eval     report/eval.npz (confusion matrix, per-image areas), picks.json and the
                   overlays of the best, median and worst validation image (thumbnails kept
                   during the evaluation, so nothing is predicted again)
    log(val)       report.html, rebuilt from those files and the JSON log, as `seglab report` does
    after_train    report.html again, with the run's end time

A report that cannot be written is a warning, never the end of a training run.
"""
from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from torch import nn

from seglab import __version__
from seglab.engine import dist as sdist
from seglab.engine.hooks import HookBase
from seglab.errors import ConfigError
from seglab.registry import HOOKS
from seglab.report import data as rdata

if TYPE_CHECKING:
    from seglab.engine.trainer import Trainer


@HOOKS.register
class RunReportHook(HookBase):
    """The run report (``WORK_DIR/report.html``) and its data (``WORK_DIR/report/``).

    Args:
        label_samples: how many training label maps, spread over the set, the pixel frequency of
            each class is counted on (once per work dir and training set).
    """

    priority = 100

    def __init__(self, label_samples: int = 64) -> None:
        if isinstance(label_samples, bool) or not isinstance(label_samples, int) or label_samples < 1:
            raise ConfigError(f"RunReportHook label_samples must be a positive integer, got {label_samples!r}")
        self.label_samples = label_samples

    # ------------------------------------------------------------------ hook points
    def before_train(self, trainer: Trainer) -> None:
        if trainer.rank != 0:
            return
        self._guarded(trainer, "run data", lambda: self._write_run(trainer))
        self._guarded(trainer, "label counts", lambda: self._write_label_counts(trainer))

    def after_eval(self, trainer: Trainer, metrics: dict[str, float]) -> None:
        details = trainer.eval_details
        if details is None:
            return
        picks = rdata.pick_images(details.image_scores("Dice"))
        thumbs: dict[int, bytes] = {}
        for part in sdist.all_gather_objects(details.thumbnails([index for _, index in picks])):
            thumbs.update(part)  # each rank holds the thumbnails of the images it evaluated
        if trainer.rank == 0:
            self._guarded(trainer, "evaluation data", lambda: self._write_evaluation(trainer, picks, thumbs))

    def log(self, trainer: Trainer, record: dict[str, Any]) -> None:
        # the last evaluation is followed by after_train, which writes the page anyway
        if record["mode"] == "val" and trainer.rank == 0 and trainer.iter < trainer.max_iters:
            self._guarded(trainer, "page", lambda: self._render(trainer))

    def after_train(self, trainer: Trainer) -> None:
        if trainer.rank != 0:
            return

        def finish() -> None:
            path = trainer.work_dir / rdata.REPORT_DIR / rdata.RUN_FILE
            run = rdata.read_json(path) or {}
            rdata.write_json(path, {**run, "finished": time.strftime("%Y-%m-%d %H:%M:%S"),
                                    "finished_unix": time.time(), "last_iter": trainer.iter})
            self._render(trainer)

        self._guarded(trainer, "page", finish)

    # ------------------------------------------------------------------ writers
    @staticmethod
    def _guarded(trainer: Trainer, what: str, write) -> None:
        try:
            write()
        except Exception as e:  # the report is a by-product: it must never stop training
            trainer.logger.warning(f"run report: could not write the {what}: {type(e).__name__}: {e}")

    @staticmethod
    def _render(trainer: Trainer) -> None:
        from seglab.report.page import render_report

        path = render_report(trainer.work_dir)
        trainer.logger.info(f"run report: {path}")

    def _write_run(self, trainer: Trainer) -> None:
        path = trainer.work_dir / rdata.REPORT_DIR / rdata.RUN_FILE
        previous = rdata.read_json(path) or {}
        log_name = trainer.json_log_path.name
        # a resumed run continues the earlier logs; a fresh run in the same work dir starts anew
        logs = [*previous.get("logs", []), log_name] if trainer.start_iter > 0 else [log_name]
        cfg = trainer.cfg
        config_dump = Path(cfg.filename).name if cfg.filename else "config.py"
        if not (trainer.work_dir / config_dump).is_file():  # `seglab train` dumps it; the Python API may not
            cfg.dump(trainer.work_dir / config_dump)
        dataset = getattr(trainer.train_loader.dataset, "dataset", None)
        classes = getattr(dataset, "CLASSES", None) or getattr(trainer.val_dataset, "CLASSES", None)
        palette = getattr(dataset, "PALETTE", None) or getattr(trainer.val_dataset, "PALETTE", None)
        evaluation = trainer.run.evaluation
        rdata.write_json(path, {
            "format": 1, "command": trainer.command, "config_file": cfg.filename, "config_dump": config_dump,
            "seglab_version": __version__, "device": str(trainer.device), "world_size": trainer.world_size,
            "started": previous.get("started") if trainer.start_iter > 0 else time.strftime("%Y-%m-%d %H:%M:%S"),
            "started_unix": previous.get("started_unix") if trainer.start_iter > 0 else time.time(),
            "start_iter": trainer.start_iter, "max_iters": trainer.max_iters, "logs": logs,
            "log_interval": trainer.run.log_config.interval, "seed": trainer.seed,
            "eval_interval": evaluation.interval if trainer.run.evaluates else None,
            "eval_metric": evaluation.metric if trainer.run.evaluates else None,
            "classes": list(classes) if classes else None, "palette": [list(c) for c in palette] if palette else None,
            "lr_rules": lr_rules(trainer), "losses": model_losses(trainer.model), "samplers": model_samplers(trainer.model),
        })

    def _write_label_counts(self, trainer: Trainer) -> None:
        from seglab.data.check import sample_indices
        from seglab.data.class_stats import label_pixel_counts
        from seglab.data.datasets.repeat import unwrap_repeats

        dataset = unwrap_repeats(getattr(trainer.train_loader.dataset, "dataset", None))
        if not hasattr(dataset, "get_gt_seg_map_by_idx"):
            return
        path = trainer.work_dir / rdata.REPORT_DIR / rdata.LABELS_FILE
        source = json.dumps(trainer.run.data.train, sort_keys=True, default=str)
        cached = rdata.read_json(path)
        if cached and cached.get("source") == source and cached.get("samples") == self.label_samples:
            return
        indices = sample_indices(len(dataset), self.label_samples)
        counts, stray = label_pixel_counts(dataset, indices)
        rdata.write_json(path, {"source": source, "samples": self.label_samples, "images": len(indices),
                                "of": len(dataset), "classes": list(dataset.CLASSES), "counts": counts.tolist(),
                                "stray": stray})

    def _write_evaluation(self, trainer: Trainer, picks: list[tuple[str, int]], thumbs: dict[int, bytes]) -> None:
        dataset = trainer.val_dataset
        details = trainer.eval_details
        directory = trainer.work_dir / rdata.REPORT_DIR
        names = [str(info.get("filename", i)) for i, info in enumerate(getattr(dataset, "img_infos", []))]
        names = names if len(names) == len(dataset) else [str(i) for i in range(len(dataset))]
        rdata.save_evaluation(directory, trainer.iter, details.confusion.numpy(), details.image_areas.numpy(),
                              names, [str(c) for c in dataset.CLASSES])
        scores = details.image_scores("Dice")
        written = []
        for which, index in picks:
            picture = pick_overlay(dataset, index, thumbs.get(index))
            if picture is None:
                continue
            import cv2

            image = f"pick_{which}.jpg"
            cv2.imwrite(str(directory / image), picture, [cv2.IMWRITE_JPEG_QUALITY, 85])
            written.append({"which": which, "index": index, "file": names[index], "dice": float(scores[index]),
                            "image": image, "iter": trainer.iter})
        rdata.write_json(directory / rdata.PICKS_FILE, written)


# --------------------------------------------------------------------------- what the model uses
def model_heads(model: nn.Module) -> list[tuple[str, nn.Module]]:
    """``(log prefix, head)`` of every head: ``decode`` / ``decode_<i>``, ``aux`` / ``aux_<i>``."""
    heads = []
    for attr, prefix in (("decode_head", "decode"), ("auxiliary_head", "aux")):
        head = getattr(model, attr, None)
        if isinstance(head, nn.ModuleList):
            heads += [(f"{prefix}_{i}", h) for i, h in enumerate(head)]
        elif head is not None:
            heads.append((prefix, head))
    return heads


def model_losses(model: nn.Module) -> list[dict[str, Any]]:
    """Every head's losses: log key, type, loss weight and the class weights in use."""
    rows = []
    for prefix, head in model_heads(model):
        losses = getattr(head, "loss_decode", None)
        for loss in (losses if isinstance(losses, nn.ModuleList) else [losses] if losses is not None else []):
            name = getattr(loss, "loss_name", type(loss).__name__)
            weights = getattr(loss, "class_weight", None)
            rows.append({"head": prefix, "key": f"{prefix}.{name}", "type": type(loss).__name__,
                         "loss_weight": getattr(loss, "loss_weight", None),
                         "class_weight": [float(w) for w in weights] if weights is not None else None})
    return rows


def model_samplers(model: nn.Module) -> list[dict[str, Any]]:
    """The pixel sampler (OHEM) of every head that has one, with its settings."""
    rows = []
    for prefix, head in model_heads(model):
        sampler = getattr(head, "sampler", None)
        if sampler is not None:
            rows.append({"head": prefix, "key": f"{prefix}.ohem_kept", "type": type(sampler).__name__,
                         "thresh": getattr(sampler, "thresh", None), "min_kept": getattr(sampler, "min_kept", None)})
    return rows


def lr_rules(trainer: Trainer) -> list[dict[str, Any]]:
    """``lr-table``'s rule summary, each rule with the log key of its param group's lr."""
    from seglab.engine.optimizer import param_settings, rule_rows

    groups = trainer.optimizer.param_groups
    keys = trainer.group_lr_keys() or ["lr"] * len(groups)
    key_of_rule = {}
    for key, group in zip(keys, groups):
        for rule in str(group.get("name", "")).split(","):
            key_of_rule.setdefault(rule, key)
    rows = rule_rows(param_settings(trainer.model, trainer.run.optimizer))
    return [{**row, "log_key": key_of_rule.get(row["rule"], "lr")} for row in rows]


def pick_overlay(dataset, index: int, thumb_png: bytes | None) -> np.ndarray | None:
    """Image | label overlay | prediction overlay of validation image ``index``, at the size of its
    prediction thumbnail (BGR uint8); None when the image or the thumbnail is not at hand."""
    import cv2

    from seglab.evaluation.visualize import default_palette, overlay

    info = getattr(dataset, "img_infos", [None] * (index + 1))[index]
    if thumb_png is None or not info or not getattr(dataset, "img_dir", None):
        return None
    pred = cv2.imdecode(np.frombuffer(thumb_png, np.uint8), cv2.IMREAD_UNCHANGED)
    image = cv2.imread(os.path.join(dataset.img_dir, info["filename"]), cv2.IMREAD_COLOR)
    if image is None or pred is None:
        return None
    size = (pred.shape[1], pred.shape[0])
    label = cv2.resize(np.asarray(dataset.get_gt_seg_map_by_idx(index)).astype(np.uint16), size,
                       interpolation=cv2.INTER_NEAREST)
    image = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
    palette = dataset.PALETTE if dataset.PALETTE is not None else default_palette(len(dataset.CLASSES))
    gap = np.full((pred.shape[0], 4, 3), 255, np.uint8)
    return np.hstack([image, gap, overlay(image, label, palette, 0.6, dataset.ignore_index), gap,
                      overlay(image, pred, palette, 0.6, dataset.ignore_index)])
