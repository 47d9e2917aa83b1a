"""Pixel counts per class in a dataset's label maps: what class weights are computed from and
what the run report shows them next to.

Labels are read as the metrics see them (after ``reduce_zero_label`` and the dataset's class
map); pixels of ``ignore_index`` are left out, and ids outside ``0..num_classes-1`` are counted
apart as strays.
"""
from __future__ import annotations

from collections.abc import Iterable

import numpy as np


def unwrap_repeats(dataset):
    """The dataset a ``RepeatDataset`` (or a chain of them) repeats; any other dataset as is."""
    from seglab.data.datasets.repeat import RepeatDataset

    while isinstance(dataset, RepeatDataset):
        dataset = dataset.dataset
    return dataset


def label_pixel_counts(dataset, indices: Iterable[int] | None = None) -> tuple[np.ndarray, int]:
    """``(pixels per class, stray pixels)`` over the label maps of ``indices`` (default: all).

    Args:
        dataset: a dataset with ``CLASSES``, ``ignore_index`` and ``get_gt_seg_map_by_idx``.
        indices: which images to read.
    """
    num_classes = len(dataset.CLASSES)
    counts = np.zeros(num_classes, dtype=np.int64)
    stray = 0
    for index in range(len(dataset)) if indices is None else indices:
        label = np.asarray(dataset.get_gt_seg_map_by_idx(index)).ravel().astype(np.int64)
        label = label[label != dataset.ignore_index]
        in_range = (label >= 0) & (label < num_classes)
        stray += int((~in_range).sum())
        counts += np.bincount(label[in_range], minlength=num_classes)
    return counts, stray


def spread_sample(total: int, size: int) -> list[int]:
    """``size`` indices spread evenly over ``range(total)`` (all of them when ``size >= total``)."""
    if size >= total:
        return list(range(total))
    return sorted({int(i) for i in np.linspace(0, total - 1, size)})
