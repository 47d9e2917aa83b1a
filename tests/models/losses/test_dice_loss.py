"""DiceLoss: the 0.x formula by hand on a 2x2 image with an ignored pixel."""
import pytest
import torch

from seglab.models.losses import DiceLoss


def tiny_case():
    """One 2x2 image, 2 classes, logits 0 everywhere (p = 1/2), labels [[0, 1], [1, 255]].

    The one-hot target clamps 255 to class 1, so t0 = [1,0,0,0], t1 = [0,1,1,1]; valid = [1,1,1,0].
    class 0: num = 2 * (1/2) + 1 = 2,           den = 4 * 1/4 + 1 + 1 = 3   -> 1 - 2/3 = 1/3
    class 1: num = 2 * (1/2 + 1/2) + 1 = 3,     den = 4 * 1/4 + 3 + 1 = 5   -> 1 - 3/5 = 2/5
    (the ignored pixel is masked in the numerator only, as in 0.x)
    loss = (1/3 + 2/5) / 2 = 11/30
    """
    return torch.zeros(1, 2, 2, 2), torch.tensor([[[0, 1], [1, 255]]])


def test_dice_by_hand_with_ignored_pixel():
    logits, label = tiny_case()
    assert DiceLoss()(logits, label).item() == pytest.approx(11 / 30, rel=1e-6)


def test_dice_class_weight_and_loss_weight():
    logits, label = tiny_case()
    assert DiceLoss(class_weight=[2.0, 1.0])(logits, label).item() == pytest.approx((2 / 3 + 2 / 5) / 2, rel=1e-6)
    assert DiceLoss(loss_weight=3.0)(logits, label).item() == pytest.approx(3 * 11 / 30, rel=1e-6)


def test_dice_ignores_elementwise_weight_and_reduces_over_images():
    logits, label = tiny_case()
    assert DiceLoss()(logits, label, weight=torch.zeros(1, 2, 2)).item() == pytest.approx(11 / 30, rel=1e-6)
    logits2 = torch.cat([logits, torch.zeros(1, 2, 2, 2)])
    label2 = torch.cat([label, torch.zeros(1, 2, 2, dtype=torch.long)])
    # second image: all class 0, p = 1/2: class 0 -> 1 - (4+1)/(1+4+1) = 1/6; class 1 -> 1 - 1/(1+0+1) = 1/2
    per_image = DiceLoss()(logits2, label2, reduction_override="none")
    torch.testing.assert_close(per_image, torch.tensor([11 / 30, (1 / 6 + 1 / 2) / 2]))
    assert DiceLoss(reduction="sum")(logits2, label2).item() == pytest.approx(per_image.sum().item())


def test_dice_uses_its_own_ignore_index_and_skips_that_class():
    logits, _ = tiny_case()
    label = torch.tensor([[[0, 1], [1, 1]]])
    # ignore_index=1 is a class index: class 1 is skipped, valid = [1,0,0,0]; t0 = [1,0,0,0]
    # class 0: num = 2 * 1/2 + 1 = 2, den = 1 + 1 + 1 = 3 -> 1/3; divided by C = 2.
    assert DiceLoss(ignore_index=1)(logits, label, ignore_index=255).item() == pytest.approx(1 / 6, rel=1e-6)


def test_dice_gradient():
    logits, label = tiny_case()
    logits.requires_grad_(True)
    DiceLoss()(logits, label).backward()
    assert torch.isfinite(logits.grad).all() and logits.grad.abs().sum() > 0
