"""CrossEntropyLoss: hand-computed values on a 2x2 image, the 0.x normalisation, sigmoid and mask
variants, class weights from files, and no state-dict entries."""
import json
import math
import pickle

import numpy as np
import pytest
import torch

from seglab.errors import ConfigError, DataError
from seglab.models.losses import CrossEntropyLoss, load_class_weight
from seglab.registry import MODELS

LN2, LN3, LN4, LN43 = math.log(2), math.log(3), math.log(4), math.log(4 / 3)


def tiny_softmax_case():
    """One 2x2 image, 2 classes. Pixels (row-major) a, b, c, d:
    a: logits (0, 0),   label 0 -> p_gt = 1/2, CE = ln 2
    b: logits (ln3, 0), label 0 -> p_gt = 3/4, CE = ln 4/3
    c: logits (ln3, 0), label 1 -> p_gt = 1/4, CE = ln 4
    d: logits (0, 0),   label 255 (ignored) -> 0
    """
    logits = torch.tensor([[[[0.0, LN3], [LN3, 0.0]],
                            [[0.0, 0.0], [0.0, 0.0]]]])
    label = torch.tensor([[[0, 0], [1, 255]]])
    return logits, label


def test_softmax_mean_is_over_all_pixels_including_ignored():
    logits, label = tiny_softmax_case()
    loss = CrossEntropyLoss()(logits, label, ignore_index=255)
    # (ln2 + ln4/3 + ln4 + 0) / 4 pixels = ln(32/3) / 4
    assert loss.item() == pytest.approx(math.log(32 / 3) / 4, rel=1e-6)


def test_avg_non_ignore_divides_by_valid_pixels():
    logits, label = tiny_softmax_case()
    loss = CrossEntropyLoss(avg_non_ignore=True)(logits, label, ignore_index=255)
    assert loss.item() == pytest.approx(math.log(32 / 3) / 3, rel=1e-6)


def test_class_weighted_mean_divides_by_pixel_count_not_weight_sum():
    logits, label = tiny_softmax_case()
    loss = CrossEntropyLoss(class_weight=[1.0, 3.0])(logits, label, ignore_index=255)
    # w[y] * CE: a 1*ln2, b 1*ln4/3, c 3*ln4 -> sum over 4 pixels (PyTorch would divide by 1+1+3 = 5).
    expected = (LN2 + LN43 + 3 * LN4) / 4
    assert loss.item() == pytest.approx(expected, rel=1e-6)
    torch_mean = torch.nn.functional.cross_entropy(logits, label, weight=torch.tensor([1.0, 3.0]),
                                                   ignore_index=255)
    assert torch_mean.item() == pytest.approx((LN2 + LN43 + 3 * LN4) / 5, rel=1e-6)


def test_class_weight_with_avg_non_ignore_and_loss_weight():
    logits, label = tiny_softmax_case()
    loss = CrossEntropyLoss(class_weight=[1.0, 3.0], avg_non_ignore=True, loss_weight=0.5)(logits, label)
    assert loss.item() == pytest.approx(0.5 * (LN2 + LN43 + 3 * LN4) / 3, rel=1e-6)


def test_elementwise_weight_keeps_the_all_pixel_denominator():
    logits, label = tiny_softmax_case()
    weight = torch.tensor([[[1.0, 0.0], [1.0, 0.0]]])          # keep a and c (as OHEM would)
    loss = CrossEntropyLoss()(logits, label, weight=weight)
    assert loss.item() == pytest.approx((LN2 + LN4) / 4, rel=1e-6)


def test_reductions_and_override():
    logits, label = tiny_softmax_case()
    ce = CrossEntropyLoss(reduction="sum")
    assert ce(logits, label).item() == pytest.approx(LN2 + LN43 + LN4, rel=1e-6)
    per_pixel = ce(logits, label, reduction_override="none")
    assert per_pixel.shape == (1, 2, 2)
    torch.testing.assert_close(per_pixel, torch.tensor([[[LN2, LN43], [LN4, 0.0]]]))
    with pytest.raises(ValueError, match="reduction_override"):
        ce(logits, label, reduction_override="avg")
    with pytest.raises(ConfigError, match="reduction"):
        CrossEntropyLoss(reduction="average")


def test_all_ignored_gives_zero_not_nan():
    logits, _ = tiny_softmax_case()
    label = torch.full((1, 2, 2), 255)
    assert CrossEntropyLoss()(logits, label).item() == 0.0
    assert CrossEntropyLoss(avg_non_ignore=True)(logits, label).item() == 0.0


def test_sigmoid_single_channel_label_is_the_target():
    # One channel, pixels: (x=0, y=1) ln2; (x=ln3, y=1) -ln sigmoid(ln3) = ln 4/3;
    # (x=ln3, y=0) -ln(1 - 3/4) = ln4; (x=0, ignored) 0.
    logits = torch.tensor([[[[0.0, LN3], [LN3, 0.0]]]])
    label = torch.tensor([[[1, 1], [0, 255]]])
    assert CrossEntropyLoss(use_sigmoid=True)(logits, label).item() == pytest.approx(math.log(32 / 3) / 4, rel=1e-6)
    # class_weight is the pos_weight: positive terms (the first two pixels) are doubled.
    weighted = CrossEntropyLoss(use_sigmoid=True, class_weight=[2.0])(logits, label)
    assert weighted.item() == pytest.approx((2 * LN2 + 2 * LN43 + LN4) / 4, rel=1e-6)
    non_ignore = CrossEntropyLoss(use_sigmoid=True, avg_non_ignore=True)(logits, label)
    assert non_ignore.item() == pytest.approx(math.log(32 / 3) / 3, rel=1e-6)


def test_sigmoid_single_channel_rejects_labels_above_one():
    logits = torch.zeros(1, 1, 2, 2)
    label = torch.tensor([[[0, 1], [2, 255]]])
    with pytest.raises(DataError, match="labels 0 or 1.*found label 2"):
        CrossEntropyLoss(use_sigmoid=True)(logits, label)


def test_sigmoid_multi_channel_one_hot():
    """Two channels, one-hot targets; mean over N*C*H*W = 8 elements.
    a: (0, 0) label 0        -> ln2 + ln2
    b: (ln3, -ln3) label 0   -> ch0 target 1, p=3/4: ln4/3; ch1 target 0, p=1/4: ln4/3
    c: (ln3, -ln3) label 1   -> ch0 target 0, p=3/4: ln4;   ch1 target 1, p=1/4: ln4
    d: ignored               -> 0
    """
    logits = torch.tensor([[[[0.0, LN3], [LN3, 0.0]],
                            [[0.0, -LN3], [-LN3, 0.0]]]])
    label = torch.tensor([[[0, 0], [1, 255]]])
    total = 2 * LN2 + 2 * LN43 + 2 * LN4
    assert CrossEntropyLoss(use_sigmoid=True)(logits, label).item() == pytest.approx(total / 8, rel=1e-6)
    assert CrossEntropyLoss(use_sigmoid=True, avg_non_ignore=True)(logits, label).item() == \
        pytest.approx(total / 6, rel=1e-6)
    # pos_weight per channel: only c's channel-1 term is positive in channel 1 -> 3 * ln4.
    weighted = CrossEntropyLoss(use_sigmoid=True, class_weight=[1.0, 3.0])(logits, label)
    assert weighted.item() == pytest.approx((total + 2 * LN4) / 8, rel=1e-6)
    assert CrossEntropyLoss(use_sigmoid=True)(logits, label, reduction_override="none").shape == (1, 2, 2, 2)


def test_mask_variant_uses_each_masks_class_channel():
    pred = torch.tensor([[[[0.0, LN3]], [[5.0, 5.0]]],
                         [[[9.0, 9.0]], [[LN3, 0.0]]]])        # (R=2, C=2, 1, 2)
    masks = torch.tensor([[[1.0, 0.0]], [[1.0, 1.0]]])
    classes = torch.tensor([0, 1])
    loss = CrossEntropyLoss(use_mask=True)(pred, masks, weight=classes)
    # mask 0 reads channel 0: (0, y=1) ln2, (ln3, y=0) ln4; mask 1 reads channel 1: (ln3, 1) ln4/3, (0, 1) ln2
    assert loss.item() == pytest.approx((2 * LN2 + LN4 + LN43) / 4, rel=1e-6)
    with pytest.raises(ConfigError, match="use_sigmoid and use_mask"):
        CrossEntropyLoss(use_sigmoid=True, use_mask=True)


def test_gradient_flows_to_logits():
    logits, label = tiny_softmax_case()
    logits.requires_grad_(True)
    CrossEntropyLoss()(logits, label).backward()
    assert logits.grad.abs().sum() > 0
    assert torch.all(logits.grad[0, :, 1, 1] == 0)     # the ignored pixel gets no gradient


def test_losses_add_no_state_dict_entries_and_follow_the_module(tmp_path):
    ce = MODELS.build(dict(type="CrossEntropyLoss", class_weight=[1.0, 2.0], loss_name="loss_x"))
    assert ce.loss_name == "loss_x"
    assert ce.class_weight == [1.0, 2.0]
    assert len(ce.state_dict()) == 0
    assert ce.double().class_weight_tensor.dtype == torch.float64


@pytest.mark.parametrize("suffix", [".npy", ".json", ".txt", ".pkl"])
def test_class_weight_from_file(tmp_path, suffix):
    values = [0.5, 1.25, 2.0]
    path = tmp_path / f"weights{suffix}"
    if suffix == ".npy":
        np.save(path, np.array(values, dtype=np.float32))
    elif suffix == ".json":
        path.write_text(json.dumps(values))
    elif suffix == ".txt":
        path.write_text("0.5, 1.25\n2.0\n")
    else:
        path.write_bytes(pickle.dumps(values))
    ce = CrossEntropyLoss(class_weight=str(path))
    assert ce.class_weight == pytest.approx(values)
    assert load_class_weight(path) == pytest.approx(values)


def test_class_weight_file_errors(tmp_path):
    with pytest.raises(DataError, match="missing.npy.*does not exist"):
        CrossEntropyLoss(class_weight=str(tmp_path / "missing.npy"))
    (tmp_path / "w.csv").write_text("1,2")
    with pytest.raises(ConfigError, match="unsupported extension '.csv'"):
        CrossEntropyLoss(class_weight=str(tmp_path / "w.csv"))
    (tmp_path / "bad.txt").write_text("1 two 3")
    with pytest.raises(DataError, match="cannot read class_weight file"):
        CrossEntropyLoss(class_weight=str(tmp_path / "bad.txt"))
    with pytest.raises(ConfigError, match="flat"):
        CrossEntropyLoss(class_weight=[[1.0, 2.0]])
