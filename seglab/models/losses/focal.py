"""``FocalLoss``: sigmoid focal loss (Lin et al., 2017) with 0.x keys and normalisation.

Each logit channel is a binary problem against the one-hot label::

    loss = bce_with_logits(x, t) * (alpha * t + (1 - alpha) * (1 - t)) * |t - sigmoid(x)| ** gamma

then multiplied by ``class_weight[c]``, the element-wise ``weight`` and the valid mask, and
``'mean'`` divides by the number of elements (pixels x classes, ignored ones included), as 0.x.
0.x flattens logits to (N*H*W, C) and takes weights in that layout; seglab computes in
(N, C, H, W) and accepts both those flattened weights and an (N, H, W) map. Soft targets are
used as they are on every device (0.x's CPU code; its CUDA kernel takes their argmax).
"""
from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F

from seglab.errors import ConfigError
from seglab.models.layers import class_ids
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
            label: class indices, or a one-hot/soft target of the logits' shape (pixels whose
                largest target entry is class ``ignore_index`` are ignored, as in 0.x).
            weight: element-wise weight: (N,H,W) like the OHEM map, or 0.x's flattened
                (N*H*W,), (N*H*W, 1) or (N*H*W, C).
            avg_factor: denominator of ``'mean'`` instead of the element count.
            reduction_override: reduction of this call instead of ``reduction``.
            ignore_index: label value that contributes nothing.
        """
        reduction = resolve_reduction(self.reduction, reduction_override)
        ndim = cls_score.dim()
        if label.shape == cls_score.shape:
            target = label.to(cls_score.dtype)
            valid = self._soft_target_valid(target, ignore_index)
        else:
            valid_mask = label != ignore_index
            labels = torch.where(valid_mask, label, 0).long()
            target = one_hot(labels, cls_score.size(1), cls_score.dtype)
            valid = valid_mask.unsqueeze(1).to(cls_score.dtype)
        if weight is not None:
            weight = element_weight_like(weight, cls_score)
        alpha = self.alpha
        if isinstance(alpha, list):
            alpha = self._per_channel(cls_score.new_tensor(alpha), ndim)
        class_weight = self._class_weight_like(cls_score)
        if class_weight is not None:
            class_weight = self._per_channel(class_weight, ndim)
        loss = sigmoid_focal_loss(cls_score, target, valid, weight, self.gamma, alpha, class_weight,
                                  reduction, avg_factor)
        return self.loss_weight * loss

    @staticmethod
    def _soft_target_valid(target: torch.Tensor, ignore_index: int) -> torch.Tensor:
        """(N,1,...) mask of pixels whose target's largest entry is not class ``ignore_index`` (0.x)."""
        if not 0 <= ignore_index < target.size(1):  # no class can be it: every pixel counts
            return torch.ones_like(target[:, :1])
        return (class_ids(target) != ignore_index).unsqueeze(1).to(target.dtype)


def element_weight_like(weight: torch.Tensor, pred: torch.Tensor) -> torch.Tensor:
    """An element-wise weight as (N, 1 or C, ...) to broadcast over ``pred`` (N, C, ...).

    Accepts a per-pixel map (N, ...) such as the OHEM sampler's, and 0.x's flattened forms, pixels
    in (N, ...) row-major order: (N*P,), (N*P, 1) or (N*P, C) with P pixels per image.
    """
    batch, channels, spatial = pred.size(0), pred.size(1), tuple(pred.shape[2:])
    pixels = batch * math.prod(spatial)
    if tuple(weight.shape) == (batch, *spatial):
        return weight.unsqueeze(1).to(pred.dtype)
    if weight.dim() == 1 and weight.numel() == pixels:
        weight = weight.unsqueeze(1)
    if weight.dim() == 2 and weight.size(0) == pixels and weight.size(1) in (1, channels):
        return weight.reshape(batch, *spatial, weight.size(1)).movedim(-1, 1).to(pred.dtype)
    raise ValueError(f"FocalLoss weight of shape {tuple(weight.shape)} does not fit logits {tuple(pred.shape)}: "
                     f"give (N, ...) = {(batch, *spatial)}, or 0.x's flattened ({pixels},), ({pixels}, 1) or "
                     f"({pixels}, {channels})")
