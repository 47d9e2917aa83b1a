"""Pixel counts per class and the class weights made from them (``seglab.data.class_stats``)."""
from __future__ import annotations

import numpy as np

from seglab.data.class_stats import count_label_pixels


def test_counts_leave_out_ignore_index_and_count_stray_ids():
    label = np.array([[0, 0, 1, 255], [7, 1, 1, 255]], dtype=np.uint8)
    counts, stray = count_label_pixels(label, num_classes=3, ignore_index=255)
    assert counts.tolist() == [2, 3, 0] and stray == 1
    counts, stray = count_label_pixels(label, num_classes=3, ignore_index=1)  # an ignore_index among the ids
    assert counts.tolist() == [2, 0, 0] and stray == 3
