"""DiceLoss1x and CrossEntropyLoss1x worked out by hand: activation, one-hot of ignored pixels, eps,
naive_dice, ignore_index as a channel, per-image weight, reductions, config errors."""
import math

import pytest
import torch

from seglab.errors import ConfigError
from seglab.models.losses import CrossEntropyLoss, CrossEntropyLoss1x, DiceLoss1x
from seglab.registry import MODELS

LN3 = math.log(3)


def tiny_case():
    """One 2x2 image, 2 classes, labels [[0, 1], [1, 255]]; logits (ln3, 0) at every pixel.

    softmax: p0 = 3/4, p1 = 1/4.  sigmoid: p0 = 3/4, p1 = 1/2.
    one-hot: t0 = [1,0,0,0], t1 = [0,1,1,0] (255 matches no channel), so sum(t**2) = 3.
    """
    logits = torch.stack([torch.full((2, 2), LN3), torch.zeros(2, 2)]).unsqueeze(0)
    return logits, torch.tensor([[[0, 1], [1, 255]]])


def test_sigmoid_dice_default_counts_ignored_predictions_in_the_denominator():
    # sum(p*t) = 3/4 + 1/2 + 1/2 = 7/4; sum(p**2) = 4 * 9/16 + 4 * 1/4 = 13/4 (the ignored pixel too)
    logits, label = tiny_case()
    expected = 1 - 2 * 7 / 4 / (13 / 4 + 1e-3 + 3 + 1e-3)
    assert DiceLoss1x()(logits, label).item() == pytest.approx(expected, rel=1e-6)


def test_softmax_dice():
    # sum(p*t) = 3/4 + 1/4 + 1/4 = 5/4; sum(p**2) = 4 * 9/16 + 4 * 1/16 = 5/2
    logits, label = tiny_case()
    expected = 1 - 2 * 5 / 4 / (5 / 2 + 3 + 2e-3)
    assert DiceLoss1x(use_sigmoid=False)(logits, label).item() == pytest.approx(expected, rel=1e-6)
    assert DiceLoss1x(use_sigmoid=False, eps=0.0)(logits, label).item() == pytest.approx(6 / 11, rel=1e-6)


def test_naive_dice_puts_eps_in_the_numerator_and_first_powers_below():
    # softmax: sum(p) = 4 (probabilities sum to 1 per pixel), sum(t) = 3: 1 - (5/2 + 1) / (4 + 3 + 1) = 9/16
    logits, label = tiny_case()
    assert DiceLoss1x(use_sigmoid=False, naive_dice=True, eps=1.0)(logits, label).item() == \
        pytest.approx(9 / 16, rel=1e-6)


def test_ignore_index_leaves_out_a_channel_and_the_head_value_is_unused():
    # channel 1 left out: p0 = 3/4 x 4, t0 = [1,0,0,0]: 1 - (3/2) / (9/4 + 1) = 7/13
    logits, label = tiny_case()
    loss = DiceLoss1x(use_sigmoid=False, eps=0.0, ignore_index=1)
    assert loss(logits, label, ignore_index=255).item() == pytest.approx(7 / 13, rel=1e-6)
    assert DiceLoss1x(use_sigmoid=False, eps=0.0)(logits, label, ignore_index=1).item() == \
        pytest.approx(6 / 11, rel=1e-6)
    with pytest.raises(ValueError, match="only channel"):
        DiceLoss1x(ignore_index=0)(torch.zeros(1, 1, 2, 2), torch.zeros(1, 2, 2, dtype=torch.long))


def test_target_of_the_logits_shape_and_no_activation():
    logits, label = tiny_case()
    target = torch.stack([label == 0, label == 1], dim=1).float()
    assert DiceLoss1x()(logits, target).item() == pytest.approx(DiceLoss1x()(logits, label).item(), rel=1e-6)
    probs = logits.sigmoid()
    assert DiceLoss1x(activate=False)(probs, label).item() == pytest.approx(DiceLoss1x()(logits, label).item(),
                                                                            rel=1e-6)
    # one channel with use_sigmoid=False: 1.x applies no softmax, the score is used as it is
    score = torch.full((1, 1, 1, 2), 0.5)
    label1 = torch.tensor([[[1, 0]]])  # label 1 >= C = 1 matches no channel: t = [0, 1]
    # sum(p*t) = 1/2, sum(p**2) = 1/2, sum(t**2) = 1: 1 - 1 / (3/2) = 1/3
    assert DiceLoss1x(use_sigmoid=False, eps=0.0)(score, label1).item() == pytest.approx(1 / 3, rel=1e-6)
    # negative labels read as class 0
    assert DiceLoss1x()(logits, label.masked_fill(label == 0, -1)).item() == \
        pytest.approx(DiceLoss1x()(logits, label).item(), rel=1e-6)


def test_reductions_loss_weight_avg_factor_and_per_image_weight():
    logits, label = tiny_case()
    logits2 = torch.cat([logits, torch.zeros_like(logits)])
    label2 = torch.cat([label, torch.zeros_like(label)])
    # image 2: p = 1/2 everywhere, t0 all ones: 1 - 2 * 2 / (2 + 4 + 2e-3)
    per_image = DiceLoss1x()(logits2, label2, reduction_override="none")
    torch.testing.assert_close(per_image, torch.tensor([DiceLoss1x()(logits, label).item(), 1 - 4 / 6.002]))
    assert DiceLoss1x(reduction="sum")(logits2, label2).item() == pytest.approx(per_image.sum().item(), rel=1e-6)
    assert DiceLoss1x(loss_weight=3.0)(logits2, label2).item() == pytest.approx(3 * per_image.mean().item(),
                                                                                rel=1e-6)
    assert DiceLoss1x()(logits2, label2, avg_factor=4).item() == pytest.approx(per_image.sum().item() / 4, rel=1e-6)
    weighted = DiceLoss1x()(logits2, label2, weight=torch.tensor([2.0, 0.0]))
    assert weighted.item() == pytest.approx(per_image[0].item(), rel=1e-6)
    # a pixel map (the OHEM weight) is not applied; a wrong per-image length is an error
    assert DiceLoss1x()(logits2, label2, weight=torch.zeros(2, 2, 2)).item() == \
        pytest.approx(per_image.mean().item(), rel=1e-6)
    with pytest.raises(ValueError, match="one value per image"):
        DiceLoss1x()(logits2, label2, weight=torch.ones(3))


def test_dice_1x_config_keys_and_errors():
    loss = MODELS.build(dict(type="DiceLoss1x", use_sigmoid=False, activate=True, reduction="sum", naive_dice=True,
                             loss_weight=2.0, ignore_index=0, eps=1.0, loss_name="loss_d"))
    assert (loss.use_sigmoid, loss.activate, loss.reduction, loss.naive_dice, loss.loss_weight, loss.ignore_index,
            loss.eps, loss.loss_name) == (False, True, "sum", True, 2.0, 0, 1.0, "loss_d")
    assert loss.class_weight is None
    with pytest.raises(ConfigError, match="does not take the key 'smooth'"):
        MODELS.build(dict(type="DiceLoss1x", smooth=1))
    with pytest.raises(ConfigError, match="reduction"):
        DiceLoss1x(reduction="avg")
    with pytest.raises(ConfigError, match="use_sigmoid must be True or False"):
        DiceLoss1x(use_sigmoid="yes")
    with pytest.raises(ConfigError, match="eps"):
        DiceLoss1x(eps=-1)


def test_dice_1x_gradient_and_state_dict():
    logits, label = tiny_case()
    logits.requires_grad_(True)
    DiceLoss1x()(logits, label).backward()
    assert torch.isfinite(logits.grad).all() and logits.grad.abs().sum() > 0
    assert list(DiceLoss1x().state_dict()) == []


# ---------------------------------------------------------------- CrossEntropyLoss1x
def test_ce_1x_divides_by_the_labels_class_weights():
    # logits 0: every pixel costs ln2 times its class weight; labels 0, 1, 1 with weights 1, 3
    logits, label = torch.zeros(1, 2, 1, 3), torch.tensor([[[0, 1, 1]]])
    ln2 = math.log(2)
    assert CrossEntropyLoss1x(class_weight=[1.0, 3.0])(logits, label).item() == pytest.approx(ln2, rel=1e-6)
    assert CrossEntropyLoss(class_weight=[1.0, 3.0])(logits, label).item() == pytest.approx(7 * ln2 / 3, rel=1e-6)


def test_ce_1x_equals_0x_where_1x_did_not_change():
    torch.manual_seed(0)
    logits = torch.randn(2, 3, 4, 4)
    label = torch.randint(0, 3, (2, 4, 4))
    label[0, 0] = 255
    weight = (torch.rand(2, 4, 4) > 0.5).float()
    for kwargs, call in [({}, {}), ({"avg_non_ignore": True}, {"weight": weight}),
                         ({"class_weight": [1.0, 2.0, 3.0]}, {"reduction_override": "sum"}),
                         ({"class_weight": [1.0, 2.0, 3.0]}, {"reduction_override": "none"}),
                         ({"class_weight": [1.0, 2.0, 3.0]}, {"avg_factor": 7.0}),
                         ({"use_sigmoid": True, "class_weight": [1.0, 2.0, 3.0]}, {})]:
        torch.testing.assert_close(CrossEntropyLoss1x(**kwargs)(logits, label, **call),
                                   CrossEntropyLoss(**kwargs)(logits, label, **call))


def test_ce_1x_ohem_weight_multiplies_losses_not_the_class_weight_denominator():
    logits, label = torch.zeros(1, 2, 1, 3), torch.tensor([[[0, 1, 1]]])
    weight = torch.tensor([[[1.0, 0.0, 1.0]]])
    # kept: one class-0 pixel (weight 1) and one class-1 pixel (weight 3); denominator 1 + 3 + 3
    expected = 4 * math.log(2) / 7
    assert CrossEntropyLoss1x(class_weight=[1.0, 3.0])(logits, label, weight=weight).item() == \
        pytest.approx(expected, rel=1e-6)


def test_ce_1x_keys_are_0x_keys():
    loss = MODELS.build(dict(type="CrossEntropyLoss1x", use_sigmoid=False, use_mask=False, reduction="mean",
                             class_weight=[1.0, 2.0], loss_weight=0.5, loss_name="loss_x", avg_non_ignore=True))
    assert (loss.class_weight, loss.loss_weight, loss.loss_name, loss.avg_non_ignore) == \
        ([1.0, 2.0], 0.5, "loss_x", True)
    with pytest.raises(ConfigError, match="does not take the key 'ignore_index'"):
        MODELS.build(dict(type="CrossEntropyLoss1x", ignore_index=255))
    assert list(loss.state_dict()) == []
