"""Class statistics of label maps: pixels per class, and class weights for a weighted loss.

Frequencies ``f = class pixels / all counted pixels`` (``ignore_index`` and ids that are not a
class are not counted) become weights by one of:

    inverse_log  1 / ln(1.02 + f)          (ENet, Paszke et al. 2016)
    median_freq  median(f) / f             (SegNet, Badrinarayanan et al. 2017; median over present classes)
    inverse      (1 / f) / mean(1 / f)     (present classes' weights average 1)

A class that never occurs gets weight 0. ``seglab class-weights`` and ``seglab check-data`` use
these functions, so both report the same numbers.
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

from seglab.errors import ConfigError, DataError
from seglab.registry import did_you_mean

METHODS = ("inverse_log", "median_freq", "inverse")


def count_label_pixels(label: np.ndarray, num_classes: int, ignore_index: int) -> tuple[np.ndarray, int]:
    """``(pixels per class, stray pixels)`` of one label map; stray pixels hold an id that is
    neither a class (0..num_classes-1) nor ``ignore_index``."""
    values = np.bincount(np.asarray(label).ravel().astype(np.int64), minlength=max(num_classes, 256))
    if 0 <= ignore_index < len(values):
        values[ignore_index] = 0
    return values[:num_classes].astype(np.int64), int(values[num_classes:].sum())


def label_pixel_counts(dataset, indices: Iterable[int] | None = None) -> tuple[np.ndarray, int]:
    """``(pixels per class, stray pixels)`` over the label maps of ``indices`` (default: all), read
    as the metrics see them (after ``reduce_zero_label`` and the dataset's class map).

    Args:
        dataset: a dataset with ``CLASSES``, ``ignore_index`` and ``get_gt_seg_map_by_idx``.
        indices: which images to read.
    """
    num_classes = len(dataset.CLASSES)
    counts, stray = np.zeros(num_classes, dtype=np.int64), 0
    for index in range(len(dataset)) if indices is None else indices:
        label_counts, label_stray = count_label_pixels(dataset.get_gt_seg_map_by_idx(index), num_classes,
                                                       dataset.ignore_index)
        counts += label_counts
        stray += label_stray
    return counts, stray


def class_weights(counts: Sequence[int] | np.ndarray, method: str = "inverse_log") -> tuple[np.ndarray, np.ndarray]:
    """``(frequencies, weights)`` from per-class pixel counts; absent classes weigh 0.

    Args:
        counts: pixels per class.
        method: ``'inverse_log'``, ``'median_freq'`` or ``'inverse'`` (see the module docstring).
    """
    counts = np.asarray(counts, dtype=np.float64)
    if counts.sum() <= 0:
        raise DataError("no labelled pixels to compute class weights from")
    freqs = counts / counts.sum()
    present = counts > 0
    weights = np.zeros_like(freqs)
    if method == "inverse_log":
        weights[present] = 1.0 / np.log(1.02 + freqs[present])
    elif method == "median_freq":
        weights[present] = np.median(freqs[present]) / freqs[present]
    elif method == "inverse":
        inverse = 1.0 / freqs[present]
        weights[present] = inverse / inverse.mean()
    else:
        raise ConfigError(f"--method {method}: unknown.{did_you_mean(method, METHODS)} Use one of {', '.join(METHODS)}")
    return freqs, weights
