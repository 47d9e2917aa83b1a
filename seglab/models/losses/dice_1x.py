"""``DiceLoss1x``: MMSegmentation 1.x's ``DiceLoss`` (keys and formula of 1.2.2).

1.x replaced 0.x's per-class Dice (``smooth``, ``exponent``, see dice.py) by one Dice per image
over all classes and pixels together. For image ``n``, with ``p`` the activated logits and ``t``
the one-hot target, both flattened over classes and pixels::

    naive_dice=False:  loss_n = 1 - 2 * sum(p * t) / (sum(p**2) + eps + sum(t**2) + eps)
    naive_dice=True:   loss_n = 1 - (2 * sum(p * t) + eps) / (sum(p) + sum(t) + eps)

- Activation: ``sigmoid`` of each channel by default (``use_sigmoid=True``); softmax over the
  channels with ``use_sigmoid=False`` (none for a one-channel head); none with ``activate=False``.
- Target: labels (N,H,W) are one-hot encoded over the ``C`` logit channels; a label ``>= C``
  (the ignore value 255 included) becomes an all-zero row, a negative one class 0. A target of
  the logits' shape is used as it is. So an ignored pixel adds nothing to ``sum(p * t)`` and
  ``sum(t**2)``, but its prediction still counts in ``sum(p**2)``.
- ``ignore_index`` is a *channel*: when ``0 <= ignore_index < C`` that class's channel is left
  out of the sums. The default 255 leaves out nothing. The value the head passes to ``forward``
  is not used (the loss's own key is, as in 1.x).
- The per-image losses (N,) are multiplied by a per-image ``weight`` (N,), reduced with
  ``reduction`` (or ``avg_factor``) and multiplied by ``loss_weight``.

``weight`` of the label's shape (the OHEM map) is not applied. 1.x fails on it
(``assert weight.ndim == loss.ndim``), 0.x's Dice ignores it, and seglab follows 0.x. The sampler
chooses pixels for the pixel-wise losses. A region loss still compares whole images. Weighting
pixels inside the ratio would turn the loss into the Dice of the kept (hard) pixels alone.
See docs/dialects.md.
"""
from __future__ import annotations

import torch

from seglab.errors import ConfigError
from seglab.models.losses.utils import SegLoss, check_reduction, one_hot, resolve_reduction, weight_reduce_loss
from seglab.registry import MODELS


def drop_channel(x: torch.Tensor, channel: int) -> torch.Tensor:
    """``x`` (N,C,...) without channel ``channel`` (slices, no index tensor: nothing to copy to the device)."""
    return torch.cat([x[:, :channel], x[:, channel + 1:]], dim=1)


def dice_loss_1x(probs: torch.Tensor, target: torch.Tensor, eps: float = 1e-3, naive_dice: bool = False
                 ) -> torch.Tensor:
    """Per-image 1.x Dice loss (N,) of activated predictions ``probs`` against ``target`` of the same shape."""
    probs = probs.flatten(1)
    target = target.flatten(1).to(probs.dtype)
    intersection = (probs * target).sum(1)
    if naive_dice:
        return 1 - (2 * intersection + eps) / (probs.sum(1) + target.sum(1) + eps)
    return 1 - 2 * intersection / ((probs * probs).sum(1) + eps + (target * target).sum(1) + eps)


@MODELS.register
class DiceLoss1x(SegLoss):
    """Dice loss with MMSegmentation 1.x's keys and formula (the module docstring gives it).

    A 1.x config's ``DiceLoss`` is translated to this class; 0.x configs keep ``DiceLoss``.

    Args:
        use_sigmoid: activate each channel with a sigmoid; ``False`` uses a softmax over channels.
        activate: activate the logits at all; ``False`` takes ``cls_score`` as probabilities.
        reduction: reduction over images: ``'none'`` (per image), ``'mean'`` or ``'sum'``.
        naive_dice: first powers in the denominator and ``eps`` in the numerator too (see above).
        loss_weight: factor of the reduced loss.
        ignore_index: a class channel left out of the loss (255, the default, leaves out none).
        eps: added to the denominator (twice unless ``naive_dice``) to avoid dividing by zero.
        loss_name: key of this loss in the head's loss dict.
    """

    def __init__(self, use_sigmoid: bool = True, activate: bool = True, reduction: str = "mean",
                 naive_dice: bool = False, loss_weight: float = 1.0, ignore_index: int = 255,
                 eps: float = 1e-3, loss_name: str = "loss_dice") -> None:
        super().__init__(loss_name, None, loss_weight)
        check_reduction(reduction, "DiceLoss1x")
        for key, value in (("use_sigmoid", use_sigmoid), ("activate", activate), ("naive_dice", naive_dice)):
            if not isinstance(value, bool):
                raise ConfigError(f"DiceLoss1x {key} must be True or False, got {value!r}")
        if isinstance(eps, bool) or not isinstance(eps, (int, float)) or eps < 0:
            raise ConfigError(f"DiceLoss1x eps must be a number >= 0, got {eps!r}")
        if isinstance(ignore_index, bool) or not isinstance(ignore_index, int):
            raise ConfigError(f"DiceLoss1x ignore_index must be an integer, got {ignore_index!r}")
        self.use_sigmoid = use_sigmoid
        self.activate = activate
        self.reduction = reduction
        self.naive_dice = naive_dice
        self.ignore_index = ignore_index
        self.eps = float(eps)

    def forward(self, cls_score: torch.Tensor, label: torch.Tensor, weight: torch.Tensor | None = None,
                avg_factor: float | torch.Tensor | None = None, reduction_override: str | None = None,
                ignore_index: int = 255) -> torch.Tensor:
        """1.x Dice loss of logits ``cls_score`` (N,C,H,W) against ``label`` (N,H,W) or a target (N,C,H,W).

        Args:
            cls_score: logits (probabilities with ``activate=False``).
            label: class indices, or a one-hot/soft target of ``cls_score``'s shape.
            weight: per-image weight (N,); a weight map of the label's shape (OHEM) is not
                applied (see the module docstring).
            avg_factor: denominator of ``'mean'`` instead of the number of images.
            reduction_override: reduction of this call instead of ``reduction``.
            ignore_index: accepted for the common loss interface and unused (the loss's own
                ``ignore_index`` is, as in 1.x).
        """
        reduction = resolve_reduction(self.reduction, reduction_override)
        num_classes = cls_score.size(1)
        probs = self._activate(cls_score)
        if label.shape == cls_score.shape:
            target = label
        else:
            # negative labels read as class 0; labels >= C (255 too) match no channel: all-zero rows
            target = one_hot(label.clamp(min=0), num_classes, probs.dtype)
        if 0 <= self.ignore_index < num_classes:
            if num_classes == 1:
                raise ValueError(f"DiceLoss1x ignore_index={self.ignore_index} leaves out the only channel of "
                                 "a one-channel head; set ignore_index to a value that is not a class (e.g. 255)")
            probs = drop_channel(probs, self.ignore_index)
            target = drop_channel(target, self.ignore_index)
        per_image = dice_loss_1x(probs, target, self.eps, self.naive_dice)
        return self.loss_weight * weight_reduce_loss(per_image, self._per_image_weight(weight, per_image),
                                                     reduction, avg_factor)

    def _activate(self, cls_score: torch.Tensor) -> torch.Tensor:
        if not self.activate:
            return cls_score
        if self.use_sigmoid:
            return cls_score.sigmoid()
        # a softmax over one channel would be 1 everywhere: 1.x leaves a one-channel score as it is
        return cls_score.softmax(dim=1) if cls_score.size(1) != 1 else cls_score

    @staticmethod
    def _per_image_weight(weight: torch.Tensor | None, per_image: torch.Tensor) -> torch.Tensor | None:
        """1.x's per-image ``weight`` (N,); an element-wise map (N,H,W) is not applied (module docstring)."""
        if weight is None or weight.dim() > 1:
            return None
        if weight.shape != per_image.shape:
            raise ValueError(f"DiceLoss1x weight must have one value per image ({per_image.numel()}) or be a "
                             f"pixel weight map, got shape {tuple(weight.shape)}")
        return weight.to(per_image.dtype)

    def extra_repr(self) -> str:
        return (f"use_sigmoid={self.use_sigmoid}, activate={self.activate}, naive_dice={self.naive_dice}, "
                f"eps={self.eps}, ignore_index={self.ignore_index}, " + super().extra_repr())
