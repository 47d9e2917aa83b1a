"""pre_eval / evaluate of CustomDataset: 0.x keys, fractions rounded like 0.x, hand-computed values.

Label (2x4, one ignored pixel)      Prediction
    0 0 1 1                             0 1 1 1
    0 . 1 1                             0 0 1 0
class 0: label 3, pred 3, intersect 2, union 4;  class 1: label 4, pred 4, intersect 3, union 5.
"""
from __future__ import annotations

import logging

import numpy as np
import pytest

import seglab.evaluation
from seglab.data import build_dataset
from seglab.errors import ConfigError, DataError

pytestmark = pytest.mark.skipif(
    not all(hasattr(seglab.evaluation, f) for f in ("intersect_and_union", "total_area_to_metrics",
                                                    "format_class_table")),
    reason="seglab.evaluation metrics not available yet")

LABEL = np.array([[0, 0, 1, 1], [0, 255, 1, 1]], dtype=np.uint8)
PRED = np.array([[0, 1, 1, 1], [0, 0, 1, 0]], dtype=np.int64)


@pytest.fixture
def one_image(tmp_path, helpers):
    helpers.write_pair(tmp_path, "x", LABEL)
    return build_dataset(helpers.tiny_cfg(tmp_path, pipeline=[]), default_args={"test_mode": True})


def test_pre_eval_areas(one_image):
    (inter, union, pred_area, label_area), = one_image.pre_eval([PRED], [0])
    np.testing.assert_array_equal(np.asarray(inter), [2, 3])
    np.testing.assert_array_equal(np.asarray(union), [4, 5])
    np.testing.assert_array_equal(np.asarray(pred_area), [3, 4])
    np.testing.assert_array_equal(np.asarray(label_area), [3, 4])
    assert len(one_image.pre_eval(PRED, 0)) == 1  # a single prediction and index work too


def test_evaluate_miou_keys_and_values(one_image, caplog):
    with caplog.at_level(logging.INFO):
        res = one_image.evaluate(one_image.pre_eval([PRED], [0]), metric="mIoU")
    # 0.x rounds percentages to 2 decimals, then divides by 100
    assert res == pytest.approx({"aAcc": 0.7143, "mIoU": 0.55, "mAcc": 0.7083, "IoU.bg": 0.5, "IoU.fg": 0.6,
                                 "Acc.bg": 0.6667, "Acc.fg": 0.75}, abs=1e-12)
    assert list(res) == ["aAcc", "mIoU", "mAcc", "IoU.bg", "IoU.fg", "Acc.bg", "Acc.fg"]
    assert "per class results" in caplog.text
    assert one_image.evaluate([PRED], metric="mIoU", logger="silent") == res  # predictions work too


def test_evaluate_dice_and_fscore(one_image):
    res = one_image.evaluate(one_image.pre_eval([PRED], [0]), metric=["mDice", "mFscore"], logger="silent")
    expected = {"mDice": 0.7083, "Dice.bg": 0.6667, "Dice.fg": 0.75, "mFscore": 0.7083, "mPrecision": 0.7083,
                "mRecall": 0.7083, "Fscore.fg": 0.75, "Recall.bg": 0.6667, "aAcc": 0.7143, "mAcc": 0.7083}
    assert {k: res[k] for k in expected} == pytest.approx(expected, abs=1e-12)


def test_evaluate_rejects_unknown_metric(one_image):
    with pytest.raises(ConfigError, match="'mIOU' is not supported. Did you mean 'mIoU'"):
        one_image.evaluate([], metric="mIOU")


def test_pre_eval_shape_mismatch_names_label(one_image):
    with pytest.raises(DataError, match=r"does not match the label .*x_seg\.png"):
        one_image.pre_eval([PRED[:, :2]], [0])


def test_reduce_zero_label_is_applied_once(tmp_path, helpers):
    helpers.write_pair(tmp_path, "ade", np.array([[0, 1, 2]], dtype=np.uint8), img_suffix=".jpg", seg_suffix=".png")
    ds = build_dataset(dict(type="ADE20KDataset", data_root=str(tmp_path), img_dir="img_dir", ann_dir="ann_dir",
                            pipeline=[], test_mode=True))
    res = ds.evaluate(ds.pre_eval([np.array([[7, 0, 1]])], [0]), logger="silent")
    assert res["aAcc"] == 1.0 and res["mIoU"] == 1.0 and res["IoU.wall"] == 1.0
    assert np.isnan(res["IoU.flag"])  # a class absent from label and prediction is NaN
