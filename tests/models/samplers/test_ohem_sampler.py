"""OHEMPixelSampler: weight maps worked out by hand on a 2x2 image, both modes, edge cases."""
import math
from types import SimpleNamespace

import pytest
import torch
from torch import nn

from seglab.errors import ConfigError
from seglab.models.losses import CrossEntropyLoss, DiceLoss
from seglab.models.samplers import OHEMPixelSampler
from seglab.registry import PIXEL_SAMPLERS

LN3 = math.log(3)


def tiny_case(n=1):
    """2x2 image, 2 classes; pixels a, b, c, d (row-major):
    a: logits (0, 0),   label 0   -> p_gt = 1/2, CE = ln2   = 0.693
    b: logits (ln3, 0), label 0   -> p_gt = 3/4, CE = ln4/3 = 0.288
    c: logits (ln3, 0), label 1   -> p_gt = 1/4, CE = ln4   = 1.386
    d: logits (0, 0),   label 255 (ignored)
    """
    logits = torch.tensor([[[[0.0, LN3], [LN3, 0.0]],
                            [[0.0, 0.0], [0.0, 0.0]]]]).repeat(n, 1, 1, 1)
    label = torch.tensor([[[[0, 0], [1, 255]]]]).repeat(n, 1, 1, 1)
    return logits, label


def sampler(loss_decode=None, **kwargs):
    head = SimpleNamespace(ignore_index=255, loss_decode=loss_decode or CrossEntropyLoss())
    return OHEMPixelSampler(head, **kwargs)


def test_thresh_min_kept_dominates():
    # valid p sorted: [1/4 (c), 1/2 (a), 3/4 (b)]; min_kept 2 -> sorted[min(2, 3-1)] = 3/4;
    # threshold = max(3/4, 0.7) = 3/4; kept: p < 3/4 -> a and c (b sits exactly at the threshold).
    weight = sampler(thresh=0.7, min_kept=2).sample(*tiny_case())
    torch.testing.assert_close(weight, torch.tensor([[[1.0, 0.0], [1.0, 0.0]]]))


def test_thresh_dominates():
    # threshold = max(3/4, 0.8) = 0.8: every valid pixel is below it.
    weight = sampler(thresh=0.8, min_kept=2).sample(*tiny_case())
    torch.testing.assert_close(weight, torch.tensor([[[1.0, 1.0], [1.0, 0.0]]]))


def test_batch_kept_is_min_kept_times_batch():
    # two copies: sorted p [1/4, 1/4, 1/2, 1/2, 3/4, 3/4], batch_kept 4 -> sorted[4] = 3/4 -> a, c kept in both
    weight = sampler(thresh=0.1, min_kept=2).sample(*tiny_case(n=2))
    torch.testing.assert_close(weight, torch.tensor([[[1.0, 0.0], [1.0, 0.0]]]).repeat(2, 1, 1))
    # without thresh: the 4 largest losses of 6 valid pixels are c, c, a, a
    weight = sampler(min_kept=2).sample(*tiny_case(n=2))
    torch.testing.assert_close(weight, torch.tensor([[[1.0, 0.0], [1.0, 0.0]]]).repeat(2, 1, 1))


def test_without_thresh_keeps_the_largest_losses():
    # CE alone: c (1.386) and a (0.693) are the 2 largest.
    weight = sampler(min_kept=2).sample(*tiny_case())
    torch.testing.assert_close(weight, torch.tensor([[[1.0, 0.0], [1.0, 0.0]]]))


def test_without_thresh_sums_every_loss_decode_entry():
    # CE + CE(class_weight=[5, 0]): a = ln2 + 5 ln2 = 4.16, b = 6 ln4/3 = 1.73, c = ln4 + 0 = 1.39
    # -> the 2 largest are now a and b.
    losses = nn.ModuleList([CrossEntropyLoss(), CrossEntropyLoss(class_weight=[5.0, 0.0])])
    weight = sampler(losses, min_kept=2).sample(*tiny_case())
    torch.testing.assert_close(weight, torch.tensor([[[1.0, 1.0], [0.0, 0.0]]]))
    # Dice has no per-pixel loss (0.x adds it as one constant): the ranking is CE's.
    weight = sampler(nn.ModuleList([CrossEntropyLoss(), DiceLoss()]), min_kept=2).sample(*tiny_case())
    torch.testing.assert_close(weight, torch.tensor([[[1.0, 0.0], [1.0, 0.0]]]))
    with pytest.raises(ConfigError, match="per-pixel loss.*thresh"):
        sampler(DiceLoss(), min_kept=2).sample(*tiny_case())


def test_min_kept_larger_than_valid_count():
    # thresh: sorted[min(10, 3-1)] = 3/4 -> threshold 3/4 -> a, c (0.x keeps p < max, not all).
    weight = sampler(thresh=0.7, min_kept=10).sample(*tiny_case())
    torch.testing.assert_close(weight, torch.tensor([[[1.0, 0.0], [1.0, 0.0]]]))
    # without thresh: every valid pixel.
    weight = sampler(min_kept=10).sample(*tiny_case())
    torch.testing.assert_close(weight, torch.tensor([[[1.0, 1.0], [1.0, 0.0]]]))


@pytest.mark.parametrize("thresh", [0.7, None])
def test_all_ignored_batch_gives_zero_weight_and_zero_loss(thresh):
    logits, _ = tiny_case(n=2)
    label = torch.full((2, 1, 2, 2), 255)
    weight = sampler(thresh=thresh, min_kept=2).sample(logits, label)
    assert weight.shape == (2, 2, 2) and weight.sum() == 0
    loss = CrossEntropyLoss()(logits, label.squeeze(1), weight=weight)
    assert loss.item() == 0.0 and not torch.isnan(loss)


def test_weights_carry_no_gradient():
    logits, label = tiny_case()
    logits.requires_grad_(True)
    for s in (sampler(thresh=0.7, min_kept=2), sampler(min_kept=2)):
        weight = s.sample(logits, label)
        assert not weight.requires_grad and weight.dtype == logits.dtype


def test_config_errors():
    with pytest.raises(ConfigError, match="min_kept must be an integer > 1"):
        sampler(min_kept=1)
    with pytest.raises(ConfigError, match="thresh"):
        sampler(thresh="high")
    with pytest.raises(ValueError, match="same size"):
        sampler(min_kept=2).sample(torch.zeros(1, 2, 2, 2), torch.zeros(1, 1, 3, 3, dtype=torch.long))
    built = PIXEL_SAMPLERS.build(dict(type="OHEMPixelSampler", thresh=0.5, min_kept=4),
                                 context=SimpleNamespace(ignore_index=255, loss_decode=None))
    assert built.thresh == 0.5 and built.min_kept == 4
