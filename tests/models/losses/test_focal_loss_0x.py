"""FocalLoss against 0.x's definition, written out here in 0.x's flattened (N*H*W, C) layout:
one-hot and soft targets with ignore_index, and element weights as (N*H*W,), (N*H*W, 1),
(N*H*W, C) or an (N, H, W) map."""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from seglab.models.losses import FocalLoss

N, C, H, W = 2, 5, 3, 4


def flat(x: torch.Tensor) -> torch.Tensor:
    """(N, C, H, W) -> (N*H*W, C), 0.x's layout."""
    return x.transpose(0, 1).reshape(x.size(1), -1).transpose(0, 1)


def reference(pred, target, valid, weight=None, gamma=2.0, alpha=0.5, reduction="mean"):
    """0.x's sigmoid focal loss on flattened pred (P, C), target (P, C), valid (P, 1), weight (P, 1|C)."""
    p = pred.sigmoid()
    focal = (alpha * target + (1 - alpha) * (1 - target)) * ((1 - p) * target + p * (1 - target)).pow(gamma)
    loss = F.binary_cross_entropy_with_logits(pred, target, reduction="none") * focal
    final = torch.ones(1, pred.size(1)) * valid
    if weight is not None:
        final = final * weight
    loss = loss * final
    return {"mean": loss.mean(), "sum": loss.sum(), "none": loss}[reduction]


@pytest.fixture
def data():
    torch.manual_seed(0)
    logits = torch.randn(N, C, H, W)
    label = torch.randint(0, C, (N, H, W))
    label[0, 0, :2] = 255
    return logits, label


def label_reference(logits, label, ignore_index=255, **kwargs):
    flat_label = label.reshape(-1)
    valid = (flat_label != ignore_index).float().unsqueeze(1)
    target = F.one_hot(torch.where(flat_label == ignore_index, 0, flat_label), C).float()
    return reference(flat(logits), target, valid, **kwargs)


def test_labels_with_ignored_pixels_match_0x(data):
    logits, label = data
    assert torch.allclose(FocalLoss()(logits, label), label_reference(logits, label))
    assert torch.allclose(FocalLoss(gamma=1.0, alpha=[0.2, 0.3, 0.4, 0.5, 0.6])(logits, label),
                          label_reference(logits, label, gamma=1.0, alpha=torch.tensor([0.2, 0.3, 0.4, 0.5, 0.6])))


def test_one_hot_target_equals_labels():
    torch.manual_seed(1)
    logits, label = torch.randn(3, 4, 5, 6), torch.randint(0, 4, (3, 5, 6))
    one_hot = F.one_hot(label, 4).permute(0, 3, 1, 2)
    assert torch.equal(FocalLoss()(logits, label), FocalLoss()(logits, one_hot))


def test_ignore_index_inside_the_classes_for_labels_and_one_hot_targets():
    """0.x masks a one-hot/soft target's pixels whose argmax is ignore_index, like ignored labels."""
    torch.manual_seed(2)
    logits, label = torch.randn(3, 5, 5, 6), torch.randint(0, 4, (3, 5, 6))
    label[0, 1, :3] = 4
    label[2, 4, 4] = 4
    one_hot = F.one_hot(label, 5).permute(0, 3, 1, 2)
    by_label = FocalLoss()(logits, label, ignore_index=4)
    assert torch.equal(by_label, FocalLoss()(logits, one_hot, ignore_index=4))
    assert torch.allclose(by_label, label_reference(logits, label, ignore_index=4))
    assert not torch.allclose(by_label, FocalLoss()(logits, one_hot))  # ignore_index=255: every pixel counts


def test_soft_targets_are_used_as_they_are(data):
    logits, _ = data
    soft = torch.rand(N, C, H, W).softmax(1)
    expected = reference(flat(logits), flat(soft), torch.ones(N * H * W, 1))
    assert torch.allclose(FocalLoss()(logits, soft), expected)
    keep = (soft.argmax(1) != 2).reshape(-1, 1).float()
    assert torch.allclose(FocalLoss()(logits, soft, ignore_index=2), reference(flat(logits), flat(soft), keep))


def test_flattened_0x_weights_and_an_ohem_map_agree(data):
    logits, label = data
    pixel_weight = torch.rand(N, H, W)
    expected = label_reference(logits, label, weight=pixel_weight.reshape(-1, 1))
    loss = FocalLoss()
    for weight in (pixel_weight.reshape(-1), pixel_weight.reshape(-1, 1), pixel_weight.reshape(-1, 1).repeat(1, C),
                   pixel_weight):
        assert torch.allclose(loss(logits, label, weight=weight), expected), tuple(weight.shape)


def test_per_class_flattened_weight(data):
    logits, label = data
    weight = torch.rand(N * H * W, C)
    expected = label_reference(logits, label, weight=weight)
    assert torch.allclose(FocalLoss()(logits, label, weight=weight), expected)
    assert torch.allclose(FocalLoss()(logits, label, weight=weight, avg_factor=10.0),
                          label_reference(logits, label, weight=weight, reduction="sum") / (10.0 + 1.1920929e-07))


def test_reduction_none_is_n_c_h_w_and_sum_matches(data):
    logits, label = data
    none = FocalLoss(reduction="none")(logits, label, weight=torch.rand(N * H * W))
    assert none.shape == (N, C, H, W)
    weight = torch.rand(N * H * W)
    got = FocalLoss()(logits, label, weight=weight, reduction_override="none")
    want = label_reference(logits, label, weight=weight.unsqueeze(1), reduction="none")
    assert torch.allclose(flat(got), want)
    assert torch.allclose(FocalLoss(loss_weight=2.0, reduction="sum")(logits, label),
                          2.0 * label_reference(logits, label, reduction="sum"))


def test_a_weight_of_another_shape_is_an_error_naming_the_accepted_ones(data):
    logits, label = data
    with pytest.raises(ValueError, match=r"\(24,\), \(24, 1\) or \(24, 5\)"):
        FocalLoss()(logits, label, weight=torch.rand(N * H * W, 3))
