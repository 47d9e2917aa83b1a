"""Evaluation: 0.x segmentation metrics, their accumulation and reports, and visualisation."""
from seglab.evaluation.metrics import (
    METRICS,
    MetricAccumulator,
    check_metrics,
    eval_metrics,
    f_score,
    format_class_table,
    intersect_and_union,
    mean_dice,
    mean_fscore,
    mean_iou,
    pre_eval_to_metrics,
    summarize,
    total_area_to_metrics,
    total_intersect_and_union,
)
from seglab.evaluation.visualize import colorize, default_palette, overlay, save_png

__all__ = [
    "METRICS",
    "MetricAccumulator",
    "check_metrics",
    "colorize",
    "default_palette",
    "eval_metrics",
    "f_score",
    "format_class_table",
    "intersect_and_union",
    "mean_dice",
    "mean_fscore",
    "mean_iou",
    "overlay",
    "pre_eval_to_metrics",
    "save_png",
    "summarize",
    "total_area_to_metrics",
    "total_intersect_and_union",
]
