"""``TverskyLoss``: the 0.x Tversky (and focal Tversky) loss over softmax probabilities.

For class ``c`` and image ``n``, over non-ignored pixels::

    TP = sum(p * t), FP = sum(p * (1 - t)), FN = sum((1 - p) * t)
    loss_nc = (1 - (TP + smooth) / (TP + alpha * FP + beta * FN + smooth)) ** gamma

Class losses are weighted, summed and divided by ``C``; images are averaged (0.x has no
``reduction`` key here; ``reduction_override`` still works). No element-wise ``weight``.
"""
from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F

from seglab.errors import ConfigError
from seglab.models.losses.dice import average_classes, flat_region_inputs
from seglab.models.losses.utils import SegLoss, resolve_reduction, weight_reduce_loss
from seglab.registry import MODELS


def tversky_loss(probs: torch.Tensor, label: torch.Tensor, alpha: float = 0.3, beta: float = 0.7,
                 gamma: float = 1.0, smooth: float = 1, class_weight: torch.Tensor | None = None,
                 ignore_index: int = 255) -> torch.Tensor:
    """Per-image Tversky loss (N,) of probabilities ``probs`` (N,C,H,W) against ``label`` (N,H,W)."""
    probs, target, valid = flat_region_inputs(probs, label, ignore_index)
    tp = (probs * target * valid).sum(-1)
    fp = (probs * (1 - target) * valid).sum(-1)
    fn = ((1 - probs) * target * valid).sum(-1)
    per_class = (1 - (tp + smooth) / (tp + alpha * fp + beta * fn + smooth)) ** gamma   # (N, C)
    return average_classes(per_class, class_weight, ignore_index)


@MODELS.register
class TverskyLoss(SegLoss):
    """Tversky loss (0.x keys); ``gamma > 1`` gives the focal Tversky loss.

    ``ignore_index`` is this loss's own key, as in 0.x: the value the head passes to
    ``forward`` is not used (both default to 255).

    Args:
        smooth: added to numerator and denominator.
        class_weight: one weight per class, or a path to a .npy/.json/.txt/.pkl file holding them.
        loss_weight: factor of the loss.
        ignore_index: label value excluded from TP, FP and FN.
        alpha: weight of false positives.
        beta: weight of false negatives (``alpha + beta`` must be 1).
        gamma: focal exponent, at least 1.
        loss_name: key of this loss in the head's loss dict.
    """

    def __init__(self, smooth: float = 1, class_weight: Sequence[float] | str | None = None,
                 loss_weight: float = 1.0, ignore_index: int = 255, alpha: float = 0.3,
                 beta: float = 0.7, gamma: float = 1.0, loss_name: str = "loss_tversky") -> None:
        super().__init__(loss_name, class_weight, loss_weight)
        if not math.isclose(alpha + beta, 1.0):
            raise ConfigError(f"TverskyLoss alpha + beta must be 1.0, got alpha={alpha}, beta={beta}")
        if gamma < 1.0:
            raise ConfigError(f"TverskyLoss gamma must be at least 1.0, got {gamma}")
        self.smooth = smooth
        self.ignore_index = ignore_index
        self.alpha = alpha
        self.beta = beta
        self.gamma = gamma

    def forward(self, cls_score: torch.Tensor, label: torch.Tensor, weight: torch.Tensor | None = None,
                avg_factor: float | torch.Tensor | None = None, reduction_override: str | None = None,
                ignore_index: int = 255) -> torch.Tensor:
        """Tversky loss of logits ``cls_score`` (N,C,H,W) against ``label`` (N,H,W).

        ``weight`` and ``ignore_index`` are accepted for the common loss interface and unused
        (as in 0.x). ``reduction_override='none'`` gives the per-image losses.
        """
        reduction = resolve_reduction("mean", reduction_override)
        per_image = tversky_loss(F.softmax(cls_score, dim=1), label, self.alpha, self.beta, self.gamma,
                                 self.smooth, self._class_weight_like(cls_score), self.ignore_index)
        return self.loss_weight * weight_reduce_loss(per_image, None, reduction, avg_factor)
