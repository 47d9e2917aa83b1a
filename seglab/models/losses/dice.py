"""``DiceLoss``: the 0.x soft Dice loss over softmax probabilities.

For class ``c`` and image ``n``::

    dice_nc = 1 - (2 * sum(p * t * valid) + smooth) / (sum(p**exponent + t**exponent) + smooth)

with ``t`` the one-hot of the label clamped to ``[0, C-1]`` (an ignored pixel reads as class
``C-1``) and ``valid = label != ignore_index``: ignored pixels are masked in the numerator
only, as in 0.x. Class losses are weighted, summed and divided by ``C``; images are reduced
with ``reduction``. The element-wise ``weight`` (OHEM) is not applied, as in 0.x.
"""
from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F

from seglab.models.losses.utils import (SegLoss, check_reduction, one_hot, resolve_reduction,
                                        weight_reduce_loss)
from seglab.registry import MODELS


def flat_region_inputs(probs: torch.Tensor, label: torch.Tensor, ignore_index: int
                       ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``(probs, one-hot target, valid mask)`` flattened to (N,C,P), (N,C,P), (N,1,P): the inputs of
    the region losses (Dice, Tversky), with 0.x's clamping of ignored labels into the last class."""
    n, num_classes = probs.shape[:2]
    # 0.x clamps labels (the ignore value too) into [0, num_classes-1]; the valid mask drops ignored pixels
    target = one_hot(label.clamp(0, num_classes - 1), num_classes, probs.dtype).reshape(n, num_classes, -1)
    valid = (label != ignore_index).reshape(n, 1, -1).to(probs.dtype)
    return probs.reshape(n, num_classes, -1), target, valid


def average_classes(per_class: torch.Tensor, class_weight: torch.Tensor | None, ignore_index: int) -> torch.Tensor:
    """Per-image loss (N,) from per-class losses (N,C) as 0.x's region losses reduce them: a class
    equal to ``ignore_index`` is skipped, class weights multiply, the sum is divided by C."""
    num_classes = per_class.shape[1]
    if 0 <= ignore_index < num_classes:
        per_class = per_class.index_fill(1, torch.tensor([ignore_index], device=per_class.device), 0.0)
    if class_weight is not None:
        per_class = per_class * class_weight
    return per_class.sum(1) / num_classes


def dice_loss(probs: torch.Tensor, label: torch.Tensor, smooth: float = 1, exponent: float = 2,
              class_weight: torch.Tensor | None = None, ignore_index: int = 255) -> torch.Tensor:
    """Per-image Dice loss (N,) of probabilities ``probs`` (N,C,H,W) against ``label`` (N,H,W)."""
    probs, target, valid = flat_region_inputs(probs, label, ignore_index)
    numerator = 2 * (probs * target * valid).sum(-1) + smooth
    denominator = (probs.pow(exponent) + target.pow(exponent)).sum(-1) + smooth
    return average_classes(1 - numerator / denominator, class_weight, ignore_index)


@MODELS.register(name="DiceLoss0x")  # its name in a 1.x-dialect config, where DiceLoss is 1.x's Dice
@MODELS.register
class DiceLoss(SegLoss):
    """Soft Dice loss (0.x keys and formula).

    ``ignore_index`` is this loss's own key, as in 0.x: the value the head passes to
    ``forward`` is not used (both default to 255).

    Args:
        smooth: added to numerator and denominator.
        exponent: power of probabilities and targets in the denominator.
        reduction: reduction over images: ``'none'`` (per image), ``'mean'`` or ``'sum'``.
        class_weight: one weight per class, or a path to a .npy/.json/.txt/.pkl file holding them.
        loss_weight: factor of the reduced loss.
        ignore_index: label value masked out of the numerator.
        loss_name: key of this loss in the head's loss dict.
    """

    def __init__(self, smooth: float = 1, exponent: float = 2, reduction: str = "mean",
                 class_weight: Sequence[float] | str | None = None, loss_weight: float = 1.0,
                 ignore_index: int = 255, loss_name: str = "loss_dice") -> None:
        super().__init__(loss_name, class_weight, loss_weight)
        check_reduction(reduction, "DiceLoss")
        self.smooth = smooth
        self.exponent = exponent
        self.reduction = reduction
        self.ignore_index = ignore_index

    def forward(self, cls_score: torch.Tensor, label: torch.Tensor, weight: torch.Tensor | None = None,
                avg_factor: float | torch.Tensor | None = None, reduction_override: str | None = None,
                ignore_index: int = 255) -> torch.Tensor:
        """Dice loss of logits ``cls_score`` (N,C,H,W) against ``label`` (N,H,W).

        ``weight`` and ``ignore_index`` are accepted for the common loss interface and unused
        (0.x applies no element-wise weight to Dice and uses the loss's own ``ignore_index``).
        """
        reduction = resolve_reduction(self.reduction, reduction_override)
        per_image = dice_loss(F.softmax(cls_score, dim=1), label, self.smooth, self.exponent,
                              self._class_weight_like(cls_score), self.ignore_index)
        return self.loss_weight * weight_reduce_loss(per_image, None, reduction, avg_factor)
