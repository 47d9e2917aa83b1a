"""``seglab.data.check`` as the trainer uses it: a sample of the training labels, one-line errors."""
from __future__ import annotations

import cv2
import numpy as np
import pytest

from seglab.data import build_dataset
from seglab.data.check import check_split, check_training_labels
from seglab.errors import DataError


def test_colour_mask_in_the_sample_is_one_line_with_the_command(tmp_path, helpers):
    for i in range(4):
        helpers.write_pair(tmp_path, f"{i}", np.eye(4, 6, dtype=np.uint8), seed=i)
    helpers.write_pair(tmp_path, "rgb", np.eye(4, 6, dtype=np.uint8))
    colour = np.dstack([np.eye(4, 6, dtype=np.uint8) * 200, np.zeros((4, 6, 2), np.uint8)])
    assert cv2.imwrite(str(tmp_path / "ann_dir" / "rgb_seg.png"), colour)
    dataset = build_dataset(dict(type="RepeatDataset", times=3, dataset=helpers.tiny_cfg(tmp_path)))
    with pytest.raises(DataError) as info:
        check_training_labels(dataset, samples=8, config="my.py")
    message = str(info.value)
    assert "\n" not in message and "5 training label files checked" in message
    assert "colour mask, e.g." in message and "rgb_seg.png" in message and "tools/convert_masks.py" in message
    assert "seglab check-data my.py" in message
    check_training_labels(dataset, samples=0)  # check_data=False


def test_sampled_check_leaves_absent_classes_alone(tmp_path, helpers):
    helpers.write_pair(tmp_path, "a", np.zeros((4, 6), np.uint8))
    dataset = build_dataset(helpers.tiny_cfg(tmp_path))
    check_training_labels(dataset, samples=4)  # a sample need not hold every class
    report = check_split(dataset, "data.train", progress=False)
    assert [f.kind for f in report.errors] == ["class never appears"]


def test_loader_and_dataset_reduce_zero_label_differ(tmp_path, helpers):
    helpers.write_pair(tmp_path, "a", np.array([[1, 2], [2, 1]], np.uint8))
    pipeline = [dict(type="LoadImageFromFile"), dict(type="LoadAnnotations", reduce_zero_label=True)]
    report = check_split(build_dataset(helpers.tiny_cfg(tmp_path, pipeline)), "data.train", progress=False)
    [fault] = report.warnings
    assert fault.kind == "reduce_zero_label differs" and "metrics read other ids than training" in fault.message
    assert any("0 becomes 255" in note for note in report.notes)
