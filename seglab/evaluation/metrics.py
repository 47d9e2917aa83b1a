"""Segmentation metrics with MMSegmentation 0.x semantics.

Per image, four per-class areas are counted over the non-ignored pixels: the intersection
(pixels predicted as class c whose label is c), the union, the predicted area and the label
area. They are summed over the data set, then turned into metrics:

    IoU  = intersect / union             Acc = intersect / label_area
    Dice = 2 intersect / (pred + label)  aAcc = sum(intersect) / sum(label_area)
    Precision = intersect / pred_area, Recall = Acc, Fscore from both (beta=1: F1)

A class whose ratio is 0/0 (absent from both prediction and labels) is NaN, and ``nanmean``
leaves it out of the mean (``mIoU``), as in 0.x. The log keys are fractions rounded like 0.x's
(two decimals of a percentage).
"""
from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import torch

from seglab.errors import ConfigError, DataError
from seglab.registry import did_you_mean

METRICS = ("mIoU", "mDice", "mFscore")
AREA_NAMES = ("area_intersect", "area_union", "area_pred_label", "area_label")

ArrayLike = np.ndarray | torch.Tensor


# --------------------------------------------------------------------------- per-image areas
def _as_int_tensor(x: Any, name: str, device: torch.device | None = None) -> torch.Tensor:
    if isinstance(x, torch.Tensor):
        t = x
    elif isinstance(x, np.ndarray):
        t = torch.from_numpy(np.ascontiguousarray(x))
    else:
        raise TypeError(f"{name} must be a numpy array or a torch tensor, got {type(x).__name__}")
    if t.is_floating_point() or t.is_complex():
        raise TypeError(f"{name} must hold integer class ids, got dtype {t.dtype}")
    return t.to(device=device, dtype=torch.int64)


def _count(values: torch.Tensor, num_classes: int) -> torch.Tensor:
    # Like 0.x's histc over [0, num_classes - 1]: ids outside that range are not counted.
    values = values[(values >= 0) & (values < num_classes)]
    return torch.bincount(values, minlength=num_classes).to(torch.float64)


def intersect_and_union(pred: ArrayLike, label: ArrayLike, num_classes: int, ignore_index: int,
                        label_map: Mapping[int, int] | None = None, reduce_zero_label: bool = False
                        ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Per-class areas of one prediction against its label (0.x's ``intersect_and_union``).

    Args:
        pred: predicted class ids, any shape, numpy array or torch tensor on any device.
        label: ground-truth ids of the same shape.
        num_classes: number of classes; ids outside ``[0, num_classes)`` are not counted.
        ignore_index: label id whose pixels are left out entirely.
        label_map: ``{old_id: new_id}`` applied to the label first.
        reduce_zero_label: after ``label_map``, label 0 becomes 255 and other ids shift down by one.

    Returns:
        ``(area_intersect, area_union, area_pred_label, area_label)``: float64 tensors of length
        ``num_classes`` on the prediction's device, holding exact pixel counts.
    """
    device = pred.device if isinstance(pred, torch.Tensor) else None
    pred_t = _as_int_tensor(pred, "pred", device)
    label_t = _as_int_tensor(label, "label", pred_t.device)
    if pred_t.shape != label_t.shape:
        raise DataError(f"prediction of shape {tuple(pred_t.shape)} does not match the label of shape "
                        f"{tuple(label_t.shape)}")
    if label_map:
        original = label_t
        label_t = label_t.clone()
        for old_id, new_id in label_map.items():
            label_t[original == old_id] = new_id
    if reduce_zero_label:
        # 0.x's uint8 arithmetic: 0 -> 255, then all -1, then 254 (was 255 or 0) -> 255.
        label_t = torch.where(label_t == 0, torch.full_like(label_t, 255), label_t) - 1
        label_t[label_t == 254] = 255
    mask = label_t != ignore_index
    pred_t, label_t = pred_t[mask], label_t[mask]
    area_intersect = _count(pred_t[pred_t == label_t], num_classes)
    area_pred_label = _count(pred_t, num_classes)
    area_label = _count(label_t, num_classes)
    area_union = area_pred_label + area_label - area_intersect
    return area_intersect, area_union, area_pred_label, area_label


def total_intersect_and_union(results: Iterable[ArrayLike], gt_seg_maps: Iterable[ArrayLike],
                              num_classes: int, ignore_index: int,
                              label_map: Mapping[int, int] | None = None, reduce_zero_label: bool = False
                              ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """The four areas summed over pairs of predictions and labels (on the CPU)."""
    acc = MetricAccumulator(num_classes, ignore_index, reduce_zero_label=reduce_zero_label, label_map=label_map)
    for pred, label in zip(results, gt_seg_maps, strict=True):
        acc.update(pred, label)
    return tuple(acc.areas)  # type: ignore[return-value]


# --------------------------------------------------------------------------- areas -> metrics
def check_metrics(metrics: str | Sequence[str], key: str = "metric") -> list[str]:
    """``metrics`` as a list, each one of ``METRICS``; else a ``ConfigError`` naming ``key``."""
    metrics = [metrics] if isinstance(metrics, str) else list(metrics)
    for m in metrics:
        if m not in METRICS:
            raise ConfigError(f"{key}: {m!r} is not supported.{did_you_mean(str(m), METRICS)} "
                              f"Use one of {', '.join(METRICS)} (or a list of them)")
    return metrics


def _as_float_tensor(x: Any) -> torch.Tensor:
    return torch.as_tensor(np.asarray(x.cpu() if isinstance(x, torch.Tensor) else x), dtype=torch.float64)


def f_score(precision: torch.Tensor, recall: torch.Tensor, beta: float = 1) -> torch.Tensor:
    """F-beta score per class: ``(1 + b^2) P R / (b^2 P + R)`` (NaN where it is 0/0)."""
    return (1 + beta**2) * (precision * recall) / ((beta**2 * precision) + recall)


def total_area_to_metrics(total_area_intersect: ArrayLike, total_area_union: ArrayLike,
                          total_area_pred_label: ArrayLike, total_area_label: ArrayLike,
                          metrics: str | Sequence[str] = ("mIoU",), nan_to_num: float | None = None,
                          beta: float = 1) -> OrderedDict[str, np.ndarray]:
    """Metrics from summed areas, as 0.x returns them.

    Args:
        total_area_*: the four per-class areas summed over the data set.
        metrics: any of ``'mIoU'``, ``'mDice'``, ``'mFscore'``.
        nan_to_num: replace NaN (0/0 classes) by this number; None keeps NaN.
        beta: the F-score's beta.

    Returns:
        ``aAcc`` (a 0-d array) and, per metric, per-class float64 arrays: ``IoU`` and ``Acc`` for
        mIoU, ``Dice`` and ``Acc`` for mDice, ``Fscore``, ``Precision``, ``Recall`` for mFscore.
    """
    metrics = check_metrics(metrics)
    inter, union, pred_area, label_area = (_as_float_tensor(a) for a in (
        total_area_intersect, total_area_union, total_area_pred_label, total_area_label))
    ret: OrderedDict[str, torch.Tensor] = OrderedDict(aAcc=inter.sum() / label_area.sum())
    for metric in metrics:
        if metric == "mIoU":
            ret["IoU"] = inter / union
            ret["Acc"] = inter / label_area
        elif metric == "mDice":
            ret["Dice"] = 2 * inter / (pred_area + label_area)
            ret["Acc"] = inter / label_area
        else:
            precision, recall = inter / pred_area, inter / label_area
            ret["Fscore"] = f_score(precision, recall, beta)
            ret["Precision"] = precision
            ret["Recall"] = recall
    out = OrderedDict((k, v.numpy()) for k, v in ret.items())
    if nan_to_num is not None:
        out = OrderedDict((k, np.nan_to_num(v, nan=nan_to_num)) for k, v in out.items())
    return out


def eval_metrics(results: Iterable[ArrayLike], gt_seg_maps: Iterable[ArrayLike], num_classes: int,
                 ignore_index: int, metrics: str | Sequence[str] = ("mIoU",), nan_to_num: float | None = None,
                 label_map: Mapping[int, int] | None = None, reduce_zero_label: bool = False,
                 beta: float = 1) -> OrderedDict[str, np.ndarray]:
    """Metrics of predictions against labels (0.x's ``eval_metrics``)."""
    metrics = check_metrics(metrics)
    areas = total_intersect_and_union(results, gt_seg_maps, num_classes, ignore_index,
                                      label_map=label_map, reduce_zero_label=reduce_zero_label)
    return total_area_to_metrics(*areas, metrics=metrics, nan_to_num=nan_to_num, beta=beta)


def pre_eval_to_metrics(pre_eval_results: Iterable[Sequence[ArrayLike]], metrics: str | Sequence[str] = ("mIoU",),
                        nan_to_num: float | None = None, beta: float = 1) -> OrderedDict[str, np.ndarray]:
    """Metrics from per-image area tuples (what ``dataset.pre_eval`` returns), as in 0.x."""
    metrics = check_metrics(metrics)
    pre_eval_results = list(pre_eval_results)
    if not pre_eval_results:
        raise DataError("pre_eval_to_metrics got no results: evaluate at least one image")
    totals = torch.zeros(4, len(pre_eval_results[0][0]), dtype=torch.float64)
    for areas in pre_eval_results:
        if len(areas) != 4:
            raise DataError(f"each pre_eval result must be the 4 areas {AREA_NAMES}, got {len(areas)} items")
        totals += torch.stack([_as_float_tensor(a) for a in areas])
    return total_area_to_metrics(*totals, metrics=metrics, nan_to_num=nan_to_num, beta=beta)


def mean_iou(results: Iterable[ArrayLike], gt_seg_maps: Iterable[ArrayLike], num_classes: int,
             ignore_index: int, nan_to_num: float | None = None, label_map: Mapping[int, int] | None = None,
             reduce_zero_label: bool = False) -> OrderedDict[str, np.ndarray]:
    """``aAcc``, ``Acc``, ``IoU`` (0.x's ``mean_iou``)."""
    return eval_metrics(results, gt_seg_maps, num_classes, ignore_index, ["mIoU"], nan_to_num,
                        label_map, reduce_zero_label)


def mean_dice(results: Iterable[ArrayLike], gt_seg_maps: Iterable[ArrayLike], num_classes: int,
              ignore_index: int, nan_to_num: float | None = None, label_map: Mapping[int, int] | None = None,
              reduce_zero_label: bool = False) -> OrderedDict[str, np.ndarray]:
    """``aAcc``, ``Acc``, ``Dice`` (0.x's ``mean_dice``)."""
    return eval_metrics(results, gt_seg_maps, num_classes, ignore_index, ["mDice"], nan_to_num,
                        label_map, reduce_zero_label)


def mean_fscore(results: Iterable[ArrayLike], gt_seg_maps: Iterable[ArrayLike], num_classes: int,
                ignore_index: int, nan_to_num: float | None = None, label_map: Mapping[int, int] | None = None,
                reduce_zero_label: bool = False, beta: float = 1) -> OrderedDict[str, np.ndarray]:
    """``aAcc``, ``Fscore``, ``Precision``, ``Recall`` (0.x's ``mean_fscore``)."""
    return eval_metrics(results, gt_seg_maps, num_classes, ignore_index, ["mFscore"], nan_to_num,
                        label_map, reduce_zero_label, beta)


# --------------------------------------------------------------------------- accumulation
class MetricAccumulator:
    """Sums the per-class areas of many images; what evaluation loops and datasets share.

    ``areas`` is a ``(4, num_classes)`` float64 tensor (intersect, union, pred, label), so a
    distributed loop can ``all_reduce`` it (move it to the backend's device first and assign it
    back) before ``compute``.

    Args:
        num_classes: number of classes.
        ignore_index: label id left out of every area.
        reduce_zero_label: shift labels as 0.x does (0 -> ignored, others - 1) before counting.
        label_map: ``{old_id: new_id}`` applied to labels before counting.
        device: where ``areas`` lives.
    """

    def __init__(self, num_classes: int, ignore_index: int = 255, reduce_zero_label: bool = False,
                 label_map: Mapping[int, int] | None = None, device: torch.device | str = "cpu") -> None:
        if not isinstance(num_classes, int) or isinstance(num_classes, bool) or num_classes < 1:
            raise ConfigError(f"num_classes must be a positive integer, got {num_classes!r}")
        self.num_classes = num_classes
        self.ignore_index = ignore_index
        self.reduce_zero_label = reduce_zero_label
        self.label_map = dict(label_map) if label_map else None
        self.areas = torch.zeros(4, num_classes, dtype=torch.float64, device=device)

    def update(self, pred: ArrayLike, label: ArrayLike) -> None:
        """Add the areas of one prediction (or a batch of them) against its label(s)."""
        areas = intersect_and_union(pred, label, self.num_classes, self.ignore_index,
                                    label_map=self.label_map, reduce_zero_label=self.reduce_zero_label)
        self.add_areas(areas)

    def add_areas(self, areas: Sequence[ArrayLike] | torch.Tensor) -> None:
        """Add already counted areas (a ``pre_eval`` tuple or a ``(4, num_classes)`` tensor)."""
        stacked = torch.stack([torch.as_tensor(a, dtype=torch.float64).to(self.areas.device) for a in areas])
        if stacked.shape != self.areas.shape:
            raise DataError(f"areas of shape {tuple(stacked.shape)} do not fit this accumulator's "
                            f"{tuple(self.areas.shape)} ({self.num_classes} classes)")
        self.areas += stacked

    def reset(self) -> None:
        self.areas.zero_()

    def compute(self, metrics: str | Sequence[str] = ("mIoU",), nan_to_num: float | None = None,
                beta: float = 1) -> OrderedDict[str, np.ndarray]:
        """``total_area_to_metrics`` of the summed areas (per-class arrays; see ``summarize``)."""
        return total_area_to_metrics(*self.areas.cpu(), metrics=metrics, nan_to_num=nan_to_num, beta=beta)


# --------------------------------------------------------------------------- reporting
def _percent(value: float) -> float:
    # 0.x rounds percentages to two decimals before logging them as fractions.
    return float(np.round(value * 100, 2))


def summarize(ret_metrics: Mapping[str, np.ndarray], class_names: Sequence[str]
              ) -> tuple[dict[str, float], str]:
    """0.x's log keys and the per-class table.

    Returns:
        ``(summary, table)``: ``summary`` maps ``aAcc``, ``m<Metric>`` (nanmean over classes) and
        ``<Metric>.<class>`` to fractions rounded like 0.x (NaN for 0/0 classes); ``table`` is
        ``format_class_table(ret_metrics, class_names)``.
    """
    _check_class_names(ret_metrics, class_names)
    summary: dict[str, float] = {}
    for key, value in ret_metrics.items():
        name = key if key == "aAcc" else "m" + key
        summary[name] = _percent(_nanmean(value)) / 100
    for key, value in ret_metrics.items():
        if key != "aAcc":
            for name, v in zip(class_names, np.asarray(value)):
                summary[f"{key}.{name}"] = _percent(float(v)) / 100
    return summary, format_class_table(ret_metrics, class_names)


def _nanmean(value: np.ndarray) -> float:
    value = np.asarray(value, dtype=np.float64)
    return float("nan") if np.isnan(value).all() else float(np.nanmean(value))


def _check_class_names(ret_metrics: Mapping[str, np.ndarray], class_names: Sequence[str]) -> None:
    for key, value in ret_metrics.items():
        if key != "aAcc" and len(np.atleast_1d(value)) != len(class_names):
            raise DataError(f"{len(class_names)} class names for {len(np.atleast_1d(value))} "
                            f"per-class values of {key!r}")


def _format_cell(value: float) -> str:
    return "nan" if math.isnan(value) else f"{value * 100:.2f}"


def _render(header: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    rule = "+" + "+".join("-" * (w + 2) for w in widths) + "+"

    def line(cells: list[str]) -> str:
        first = f" {cells[0]:<{widths[0]}} "
        rest = [f" {c:>{w}} " for c, w in zip(cells[1:], widths[1:])]
        return "|" + "|".join([first, *rest]) + "|"

    return "\n".join([rule, line(header), rule, *(line(r) for r in rows), rule])


def format_class_table(ret_metrics: Mapping[str, np.ndarray], class_names: Sequence[str]) -> str:
    """Per-class metrics in % (two decimals), then a summary row of ``aAcc`` and the means."""
    _check_class_names(ret_metrics, class_names)
    per_class = [k for k in ret_metrics if k != "aAcc"]
    rows = [[str(name)] + [_format_cell(float(np.asarray(ret_metrics[k])[i])) for k in per_class]
            for i, name in enumerate(class_names)]
    class_table = _render(["Class", *per_class], rows)
    summary_keys = [k if k == "aAcc" else "m" + k for k in ret_metrics]
    summary_row = [_format_cell(_nanmean(v)) for v in ret_metrics.values()]
    summary_table = _render(["Summary", *summary_keys], [["all classes", *summary_row]])
    return f"{class_table}\n{summary_table}"
