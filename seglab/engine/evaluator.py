"""Evaluate a segmentor on a dataset: predictions, accumulated areas, metrics, overlays.

Each rank predicts its own share of the images; the per-class areas (intersection, union,
prediction, label) are summed across ranks before the metrics are computed, so the numbers do
not depend on the number of processes.
"""
from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

import torch

from seglab.engine import dist as sdist
from seglab.engine.logger import Progress
from seglab.evaluation.details import EvalDetails


def _shard(n: int) -> list[int]:
    return list(range(sdist.get_rank(), n, sdist.get_world_size()))


@torch.no_grad()
def predict(model: torch.nn.Module, sample: dict[str, Any], device: torch.device,
            amp_dtype: torch.dtype | None = None) -> list:
    """Prediction(s) of one collated test sample (``img``/``img_metas`` lists, one per augmentation)."""
    imgs = [img.to(device) for img in sample["img"]]
    autocast = torch.autocast(device.type, dtype=amp_dtype) if amp_dtype else contextlib.nullcontext()
    with autocast:
        if len(imgs) == 1:
            return model.simple_test(imgs[0], sample["img_metas"][0], rescale=True)
        return model.aug_test(imgs, sample["img_metas"], rescale=True)


def evaluate_segmentor(model: torch.nn.Module, dataset, *, metrics: str | list[str] = "mIoU",
                       device: torch.device | None = None, amp_dtype: torch.dtype | None = None,
                       show_dir: str | Path | None = None, opacity: float = 0.5,
                       progress: bool = True, workers: int = 2,
                       details: EvalDetails | None = None) -> tuple[dict[str, float], str]:
    """Metrics of ``model`` on ``dataset`` (a test-mode dataset) as ``(summary, table)``.

    ``summary`` holds 0.x's keys as fractions (``aAcc``, ``mIoU``, ``IoU.<class>``, ...); ``table``
    is the per-class table for people. With ``show_dir``, a prediction overlay per image is written.
    ``details`` (an ``EvalDetails`` sized for ``dataset``) also gets the confusion matrix, every
    image's areas and prediction thumbnails, summed over ranks.
    """
    from seglab.data import build_dataloader
    from seglab.evaluation import MetricAccumulator, summarize

    device = device or next(model.parameters()).device
    was_training = model.training
    model.eval()
    indices = _shard(len(dataset))
    # seeded: starting the loader must not draw from the global RNG, or evaluating in the middle
    # of training would change the rest of the run (and a resumed run would differ from it)
    loader = build_dataloader(dataset, 1, min(workers, len(indices)), sampler=indices, persistent_workers=False,
                              seed=0)
    accumulator = MetricAccumulator(len(dataset.CLASSES), dataset.ignore_index)
    bar = Progress(len(indices), desc="eval", enabled=progress and sdist.is_main_process())
    for index, sample in zip(indices, loader):
        pred = predict(model, sample, device, amp_dtype)[0]
        areas = dataset.pre_eval([pred], [index])[0]
        accumulator.add_areas(areas)
        if details is not None:
            details.add(index, areas, pred, dataset.get_gt_seg_map_by_idx(index))
        if show_dir is not None:
            _save_overlay(Path(show_dir), sample["img_metas"][0][0], pred, dataset, opacity)
        bar.update(1)
    bar.close()
    model.train(was_training)
    sdist.all_reduce_sum(accumulator.areas)
    if details is not None:  # reduced where the process group can (CUDA for nccl), kept on the host
        details.reduce(lambda t: sdist.all_reduce_sum(t.to(device)).cpu())
    return summarize(accumulator.compute([metrics] if isinstance(metrics, str) else list(metrics)), dataset.CLASSES)


def _save_overlay(show_dir: Path, meta: dict, pred, dataset, opacity: float) -> None:
    import cv2

    from seglab.evaluation.visualize import default_palette, overlay, save_png

    image = cv2.imread(meta["filename"], cv2.IMREAD_COLOR)
    palette = dataset.PALETTE if dataset.PALETTE is not None else default_palette(len(dataset.CLASSES))
    save_png(show_dir / (Path(meta["ori_filename"]).stem + ".png"), overlay(image, pred, palette, opacity))
