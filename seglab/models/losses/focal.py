"""``FocalLoss``: sigmoid focal loss (Lin et al., 2017) with 0.x keys and normalisation.

Each logit channel is a binary problem against the one-hot label::

    loss = bce_with_logits(x, t) * (alpha * t + (1 - alpha) * (1 - t)) * |t - sigmoid(x)| ** gamma

then multiplied by ``class_weight[c]``, the element-wise ``weight`` and the valid mask, and
``'mean'`` divides by the number of elements (pixels x classes, ignored ones included), as 0.x.
"""
from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F

from seglab.errors import ConfigError
from seglab.models.losses.utils import (SegLoss, check_reduction, one_hot, resolve_reduction,
                                        weight_reduce_loss)
from seglab.registry import MODELS


def sigmoid_focal_loss(pred: torch.Tensor, target: torch.Tensor, valid: torch.Tensor,
                       weight: torch.Tensor | None = None, gamma: float = 2.0,
                       alpha: float | torch.Tensor = 0.5, class_weight: torch.Tensor | None = None,
                       reduction: str = "mean", avg_factor: float | torch.Tensor | None = None) -> torch.Tensor:
    """Focal loss of logits ``pred`` (N,C,...) against a one-hot/soft ``target`` of the same shape.

    ``valid`` (N,1,...) masks ignored pixels; ``weight`` (N,1,...) is element-wise; ``alpha`` and
    ``class_weight`` are scalars or already shaped (1,C,1,...) to broadcast per channel.
    """
    prob = pred.sigmoid()
    one_minus_pt = (1 - prob) * target + prob * (1 - target)
    focal_weight = (alpha * target + (1 - alpha) * (1 - target)) * one_minus_pt.pow(gamma)
    loss = F.binary_cross_entropy_with_logits(pred, target, reduction="none") * focal_weight
    element_weight = valid
    if weight is not None:
        element_weight = element_weight * weight
    if class_weight is not None:
        element_weight = element_weight * class_weight
    return weight_reduce_loss(loss, element_weight, reduction, avg_factor)


@MODELS.register
class FocalLoss(SegLoss):
    """Sigmoid focal loss (0.x keys).

    Args:
        use_sigmoid: must be True (only the sigmoid form exists, as in 0.x).
        gamma: focusing exponent.
        alpha: weight of the positive term (a float, or one per class).
        reduction: ``'none'`` (N,C,H,W), ``'mean'`` or ``'sum'``.
        class_weight: one weight per class, or a path to a .npy/.json/.txt/.pkl file holding them.
        loss_weight: factor of the reduced loss.
        loss_name: key of this loss in the head's loss dict.
    """

    def __init__(self, use_sigmoid: bool = True, gamma: float = 2.0, alpha: float | Sequence[float] = 0.5,
                 reduction: str = "mean", class_weight: Sequence[float] | str | None = None,
                 loss_weight: float = 1.0, loss_name: str = "loss_focal") -> None:
        super().__init__(loss_name, class_weight, loss_weight)
        if use_sigmoid is not True:
            raise ConfigError("FocalLoss supports only use_sigmoid=True (the sigmoid focal loss)")
        check_reduction(reduction, "FocalLoss")
        if isinstance(alpha, bool) or not isinstance(alpha, (int, float, Sequence)):
            raise ConfigError(f"FocalLoss alpha must be a number or a list of numbers, got {alpha!r}")
        self.use_sigmoid = use_sigmoid
        self.gamma = float(gamma)
        self.alpha = alpha if isinstance(alpha, (int, float)) else [float(a) for a in alpha]
        self.reduction = reduction

    def _per_channel(self, values: torch.Tensor, ndim: int) -> torch.Tensor:
        return values.view(1, -1, *([1] * (ndim - 2)))

    def forward(self, cls_score: torch.Tensor, label: torch.Tensor, weight: torch.Tensor | None = None,
                avg_factor: float | torch.Tensor | None = None, reduction_override: str | None = None,
                ignore_index: int = 255) -> torch.Tensor:
        """Focal loss of logits ``cls_score`` (N,C,H,W) against ``label`` (N,H,W) or a target (N,C,H,W).

        Args:
            cls_score: logits.
            label: class indices, or a one-hot/soft target of the logits' shape.
            weight: element-wise weight (N,H,W), e.g. the OHEM map.
            avg_factor: denominator of ``'mean'`` instead of the element count.
            reduction_override: reduction of this call instead of ``reduction``.
            ignore_index: label value that contributes nothing.
        """
        reduction = resolve_reduction(self.reduction, reduction_override)
        ndim = cls_score.dim()
        if label.shape == cls_score.shape:
            target = label.to(cls_score.dtype)
            valid = torch.ones_like(cls_score[:, :1])
        else:
            valid_mask = label != ignore_index
            labels = torch.where(valid_mask, label, 0).long()
            target = one_hot(labels, cls_score.size(1), cls_score.dtype)
            valid = valid_mask.unsqueeze(1).to(cls_score.dtype)
        if weight is not None:
            weight = weight.unsqueeze(1).to(cls_score.dtype)
        alpha = self.alpha
        if isinstance(alpha, list):
            alpha = self._per_channel(cls_score.new_tensor(alpha), ndim)
        class_weight = self._class_weight_like(cls_score)
        if class_weight is not None:
            class_weight = self._per_channel(class_weight, ndim)
        loss = sigmoid_focal_loss(cls_score, target, valid, weight, self.gamma, alpha, class_weight,
                                  reduction, avg_factor)
        return self.loss_weight * loss
