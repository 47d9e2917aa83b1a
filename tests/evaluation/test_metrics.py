"""Metrics against hand-computed areas and values on tiny maps (0.x semantics)."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from seglab.errors import ConfigError, DataError
from seglab.evaluation import (
    MetricAccumulator,
    eval_metrics,
    format_class_table,
    intersect_and_union,
    mean_dice,
    mean_fscore,
    mean_iou,
    pre_eval_to_metrics,
    summarize,
    total_area_to_metrics,
)

# 3x3 case, 4 classes, class 3 absent from both maps, two ignored pixels (255).
PRED = np.array([[0, 1, 1], [2, 2, 0], [1, 1, 1]])
LABEL = np.array([[0, 1, 255], [2, 0, 0], [1, 2, 255]], dtype=np.uint8)
# Valid pixels: 7. Hand count per class 0..3:
INTERSECT = [2, 2, 1, 0]
PRED_AREA = [2, 3, 2, 0]
LABEL_AREA = [3, 2, 2, 0]
UNION = [3, 3, 3, 0]


def _areas(*args, **kwargs):
    return [a.tolist() for a in intersect_and_union(*args, **kwargs)]


def test_areas_hand_counted_with_ignored_pixels():
    areas = intersect_and_union(PRED, LABEL, 4, 255)
    assert [a.tolist() for a in areas] == [INTERSECT, UNION, PRED_AREA, LABEL_AREA]
    assert all(a.dtype == torch.float64 and a.shape == (4,) for a in areas)


def test_torch_and_numpy_inputs_agree():
    expected = _areas(PRED, LABEL, 4, 255)
    assert _areas(torch.from_numpy(PRED), torch.from_numpy(LABEL), 4, 255) == expected
    assert _areas(torch.from_numpy(PRED), LABEL, 4, 255) == expected
    assert _areas(PRED.astype(np.uint8), torch.from_numpy(LABEL).long(), 4, 255) == expected


def test_reduce_zero_label():
    # 0 -> 255 (ignored), 1..3 -> 0..2, 255 stays ignored.
    label = np.array([[0, 1, 2], [3, 255, 1]], dtype=np.uint8)
    pred = np.array([[0, 0, 1], [2, 1, 1]])
    assert _areas(pred, label, 3, 255, reduce_zero_label=True) == [[1, 1, 1], [2, 2, 1], [1, 2, 1], [2, 1, 1]]


def test_label_map_applies_before_reduce_zero_label():
    label = np.array([[1, 2], [0, 2]])
    pred = np.array([[2, 1], [0, 0]])
    # {1: 2, 2: 1} swaps the ids, read from the original label (no chained remap).
    assert _areas(pred, label, 3, 255, label_map={1: 2, 2: 1}) == [[1, 1, 1], [2, 2, 1], [2, 1, 1], [1, 2, 1]]
    # Map 2 -> 0, then reduce_zero_label turns every 0 into ignored and 1 into 0.
    areas = _areas(np.zeros((2, 2), dtype=np.int64), label, 2, 255, label_map={2: 0}, reduce_zero_label=True)
    assert areas[3] == [1, 0]  # only the original 1 survives, as class 0
    assert areas[0] == [1, 0]


def test_ids_outside_the_class_range_are_not_counted():
    pred = np.array([5, 0, 1])
    label = np.array([0, 0, 7])
    inter, union, pred_area, label_area = _areas(pred, label, 2, 255)
    assert pred_area == [1, 1] and label_area == [2, 0] and inter == [1, 0]


def test_shape_mismatch_and_float_input_are_errors():
    with pytest.raises(DataError, match=r"\(2, 2\) does not match the label of shape \(3, 3\)"):
        intersect_and_union(np.zeros((2, 2), np.int64), LABEL, 4, 255)
    with pytest.raises(TypeError, match="integer class ids"):
        intersect_and_union(PRED.astype(np.float32), LABEL, 4, 255)


def test_metrics_values_hand_computed():
    areas = intersect_and_union(PRED, LABEL, 4, 255)
    ret = total_area_to_metrics(*areas, metrics=["mIoU", "mDice", "mFscore"])
    assert list(ret) == ["aAcc", "IoU", "Acc", "Dice", "Fscore", "Precision", "Recall"]
    assert float(ret["aAcc"]) == pytest.approx(5 / 7)
    np.testing.assert_allclose(ret["IoU"][:3], [2 / 3, 2 / 3, 1 / 3])
    np.testing.assert_allclose(ret["Acc"][:3], [2 / 3, 1, 1 / 2])
    np.testing.assert_allclose(ret["Dice"][:3], [4 / 5, 4 / 5, 1 / 2])
    np.testing.assert_allclose(ret["Precision"][:3], [1, 2 / 3, 1 / 2])
    np.testing.assert_allclose(ret["Recall"][:3], [2 / 3, 1, 1 / 2])
    np.testing.assert_allclose(ret["Fscore"][:3], [4 / 5, 4 / 5, 1 / 2])  # F1 equals Dice
    for key in ret:
        if key != "aAcc":
            assert math.isnan(ret[key][3]), key  # class 3 is 0/0
    assert np.nanmean(ret["IoU"]) == pytest.approx(5 / 9)  # NaN left out of the mean


def test_fscore_beta_and_nan_to_num():
    areas = intersect_and_union(PRED, LABEL, 4, 255)
    ret = total_area_to_metrics(*areas, metrics="mFscore", beta=2)
    # F2 = 5PR / (4P + R); class 0: P=1, R=2/3.
    assert ret["Fscore"][0] == pytest.approx(5 * (2 / 3) / (4 + 2 / 3))
    ret = total_area_to_metrics(*areas, metrics=["mIoU"], nan_to_num=-1)
    assert ret["IoU"][3] == -1 and ret["Acc"][3] == -1


def test_unknown_metric_is_a_config_error_with_suggestion():
    areas = intersect_and_union(PRED, LABEL, 4, 255)
    with pytest.raises(ConfigError) as err:
        total_area_to_metrics(*areas, metrics=["mIOU"])
    msg = str(err.value)
    assert "'mIOU'" in msg and "Did you mean 'mIoU'" in msg and "mIoU, mDice, mFscore" in msg
    with pytest.raises(ConfigError, match="mAP"):
        eval_metrics([PRED], [LABEL], 4, 255, metrics="mAP")


def _second_image():
    pred = np.array([[3, 3, 0], [1, 255, 2]])
    label = np.array([[3, 0, 0], [1, 1, 255]])
    return pred, label


def test_accumulator_equals_sum_of_images_and_eval_metrics():
    pred2, label2 = _second_image()
    acc = MetricAccumulator(4, ignore_index=255)
    acc.update(PRED, LABEL)
    acc.update(torch.from_numpy(pred2), torch.from_numpy(label2))
    summed = torch.stack(intersect_and_union(PRED, LABEL, 4, 255)) + torch.stack(
        intersect_and_union(pred2, label2, 4, 255))
    assert acc.areas.shape == (4, 4) and acc.areas.dtype == torch.float64
    assert torch.equal(acc.areas, summed)

    via_acc = acc.compute(["mIoU", "mDice"])
    via_eval = eval_metrics([PRED, pred2], [LABEL, label2], 4, 255, metrics=["mIoU", "mDice"])
    pre_eval = [intersect_and_union(PRED, LABEL, 4, 255), intersect_and_union(pred2, label2, 4, 255)]
    via_pre_eval = pre_eval_to_metrics(pre_eval, metrics=["mIoU", "mDice"])
    for key in via_acc:
        np.testing.assert_array_equal(via_acc[key], via_eval[key])
        np.testing.assert_array_equal(via_acc[key], via_pre_eval[key])

    acc.reset()
    assert acc.areas.sum() == 0


def test_accumulator_add_areas_and_options():
    acc = MetricAccumulator(3, reduce_zero_label=True)
    label = np.array([[0, 1, 2], [3, 255, 1]], dtype=np.uint8)
    pred = np.array([[0, 0, 1], [2, 1, 1]])
    acc.update(pred, label)
    assert acc.areas[3].tolist() == [2, 1, 1]
    acc.add_areas(torch.ones(4, 3, dtype=torch.float64))
    assert acc.areas[3].tolist() == [3, 2, 2]
    with pytest.raises(DataError, match=r"\(4, 2\) do not fit .* \(4, 3\) \(3 classes\)"):
        acc.add_areas(torch.ones(4, 2))
    with pytest.raises(ConfigError, match="num_classes"):
        MetricAccumulator(0)


def test_batched_update_equals_per_image():
    torch.manual_seed(0)
    preds = torch.randint(0, 5, (3, 8, 8))
    labels = torch.randint(0, 5, (3, 8, 8))
    labels[:, 0] = 255
    batched = MetricAccumulator(5)
    batched.update(preds, labels)
    single = MetricAccumulator(5)
    for p, lab in zip(preds, labels):
        single.update(p, lab)
    assert torch.equal(batched.areas, single.areas)


def test_mean_helpers_match_eval_metrics():
    assert list(mean_iou([PRED], [LABEL], 4, 255)) == ["aAcc", "IoU", "Acc"]
    assert list(mean_dice([PRED], [LABEL], 4, 255)) == ["aAcc", "Dice", "Acc"]
    assert list(mean_fscore([PRED], [LABEL], 4, 255)) == ["aAcc", "Fscore", "Precision", "Recall"]


def test_summarize_keys_are_rounded_fractions():
    ret = total_area_to_metrics(*intersect_and_union(PRED, LABEL, 4, 255), metrics=["mIoU", "mDice"])
    summary, table = summarize(ret, ["a", "b", "c", "d"])
    assert list(summary)[:4] == ["aAcc", "mIoU", "mAcc", "mDice"]
    assert summary["aAcc"] == pytest.approx(0.7143)  # 71.43 %
    assert summary["mIoU"] == pytest.approx(0.5556)
    assert summary["mAcc"] == pytest.approx(0.7222)
    assert summary["mDice"] == pytest.approx(0.70)
    assert summary["IoU.a"] == pytest.approx(0.6667)
    assert summary["Dice.c"] == pytest.approx(0.5)
    assert math.isnan(summary["IoU.d"])
    assert table == format_class_table(ret, ["a", "b", "c", "d"])


def test_format_class_table():
    ret = total_area_to_metrics(*intersect_and_union(PRED, LABEL, 4, 255), metrics=["mIoU"])
    table = format_class_table(ret, ["road", "b", "c", "sky"])
    lines = table.splitlines()
    assert lines[1].split("|")[1:-1] == [" Class ", "   IoU ", "    Acc "]
    assert "| road  | 66.67 |  66.67 |" in table
    assert "| sky   |   nan |    nan |" in table
    assert "aAcc" in table and "mIoU" in table and "71.43" in table and "55.56" in table and "72.22" in table
    with pytest.raises(DataError, match="3 class names for 4 per-class values"):
        format_class_table(ret, ["a", "b", "c"])


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_tensors_counted_on_device():
    pred = torch.from_numpy(PRED).cuda()
    areas = intersect_and_union(pred, LABEL, 4, 255)
    assert all(a.device == pred.device for a in areas)
    assert [a.tolist() for a in areas] == [INTERSECT, UNION, PRED_AREA, LABEL_AREA]
    acc = MetricAccumulator(4, device="cuda")
    acc.update(pred, torch.from_numpy(LABEL).cuda())
    assert acc.compute()["IoU"][:3].tolist() == pytest.approx([2 / 3, 2 / 3, 1 / 3])
