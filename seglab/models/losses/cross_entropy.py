"""``CrossEntropyLoss``: softmax, sigmoid (binary) and mask cross-entropy with 0.x semantics.

Per-pixel losses are 0 at ignored pixels; an element-wise ``weight`` (the OHEM map)
multiplies them; ``'mean'`` divides by the number of pixels — all of them, ignored and
zero-weight ones included — or, with ``avg_non_ignore=True``, by the number of non-ignored
pixels. Class weights scale each pixel's loss but do not enter the denominator (unlike
PyTorch's own weighted mean). See docs/semantics.md ("Cross-entropy").
"""
from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F

from seglab.errors import ConfigError, DataError
from seglab.models.losses.utils import (SegLoss, check_reduction, one_hot, resolve_reduction,
                                        weight_reduce_loss)
from seglab.registry import MODELS


def cross_entropy(pred: torch.Tensor, label: torch.Tensor, weight: torch.Tensor | None = None,
                  class_weight: torch.Tensor | None = None, reduction: str = "mean",
                  avg_factor: float | torch.Tensor | None = None, ignore_index: int = 255,
                  avg_non_ignore: bool = False) -> torch.Tensor:
    """Softmax cross-entropy of logits ``pred`` (N,C,...) against class indices ``label`` (N,...)."""
    label = label.long()
    loss = F.cross_entropy(pred, label, weight=class_weight, reduction="none", ignore_index=ignore_index)
    if avg_factor is None and avg_non_ignore and reduction == "mean":
        avg_factor = (label != ignore_index).sum()
    return weight_reduce_loss(loss, None if weight is None else weight.float(), reduction, avg_factor)


def _check_binary_labels(label: torch.Tensor, valid: torch.Tensor) -> None:
    """One logit channel means labels 0/1: anything larger is a data/config mismatch."""
    too_large = valid & (label > 1)
    try:  # an asynchronous device-side assert on a GPU: no per-step wait for the host
        torch._assert_async(~too_large.any(), "one-channel sigmoid head: labels must be 0, 1 or ignore_index")
    except RuntimeError:  # raised here on CPU, where reading the value costs nothing extra
        raise DataError(f"CrossEntropyLoss(use_sigmoid=True) on a one-channel head needs labels 0 or 1 "
                        f"(or ignore_index), but found label {int(label[too_large].max())}; use "
                        "out_channels=num_classes for more than two classes, or fix the label maps") from None


def binary_cross_entropy(pred: torch.Tensor, label: torch.Tensor, weight: torch.Tensor | None = None,
                         class_weight: torch.Tensor | None = None, reduction: str = "mean",
                         avg_factor: float | torch.Tensor | None = None, ignore_index: int = 255,
                         avg_non_ignore: bool = False) -> torch.Tensor:
    """Sigmoid cross-entropy with logits.

    ``pred`` (N,1,H,W) with ``label`` (N,H,W): the label (0/1) is the target. ``pred`` (N,C,H,W)
    with ``label`` (N,H,W): labels are one-hot expanded. ``pred`` and ``label`` of one shape: the
    label is the target as is. Ignored pixels get weight 0. ``class_weight`` is the
    ``pos_weight`` of each channel (applied per channel, not along the last axis).
    """
    valid = (label >= 0) & (label != ignore_index)
    if pred.size(1) == 1 and label.dim() == pred.dim() - 1:
        _check_binary_labels(label, valid)
        pred = pred.squeeze(1)
        target = torch.where(valid, label, 0).to(pred.dtype)
        valid_mask = valid.to(pred.dtype)
    elif label.dim() == pred.dim() - 1:
        labels = torch.where(valid, label, 0).long()
        target = one_hot(labels, pred.size(1), pred.dtype)
        valid_mask = valid.unsqueeze(1).to(pred.dtype).expand_as(pred)
        if weight is not None:
            weight = weight.unsqueeze(1)
        if class_weight is not None:
            class_weight = class_weight.view(-1, *([1] * (pred.dim() - 2)))
    elif label.shape == pred.shape:
        target = torch.where(valid, label, 0).to(pred.dtype)
        valid_mask = valid.to(pred.dtype)
        if class_weight is not None and pred.dim() > 2:
            class_weight = class_weight.view(-1, *([1] * (pred.dim() - 2)))
    else:
        raise ValueError(f"binary cross-entropy takes pred (N,C,...) with label (N,...) or of the same "
                         f"shape, got pred {tuple(pred.shape)} and label {tuple(label.shape)}")
    element_weight = valid_mask if weight is None else valid_mask * weight.float()
    if avg_factor is None and avg_non_ignore and reduction == "mean":
        avg_factor = valid_mask.sum()
    loss = F.binary_cross_entropy_with_logits(pred, target, pos_weight=class_weight, reduction="none")
    return weight_reduce_loss(loss, element_weight, reduction, avg_factor)


def mask_cross_entropy(pred: torch.Tensor, target: torch.Tensor, label: torch.Tensor,
                       class_weight: torch.Tensor | None = None, reduction: str = "mean",
                       avg_factor: float | torch.Tensor | None = None, ignore_index: int = 255,
                       avg_non_ignore: bool = False) -> torch.Tensor:
    """Sigmoid cross-entropy of each mask's own class channel (0.x ``use_mask``).

    ``pred`` (R,C,h,w) logits, ``target`` (R,h,w) binary masks, ``label`` (R,) the class of
    each mask (0.x passes it in the ``weight`` slot). Mask pixels equal to ``ignore_index``
    get weight 0; ``class_weight[label]`` scales each mask's loss.
    """
    if label is None:
        raise ValueError("CrossEntropyLoss(use_mask=True) needs the class of each mask, passed as weight=")
    label = label.long()
    pred_slice = pred[torch.arange(pred.size(0), device=pred.device), label]
    valid = target != ignore_index
    element_weight = valid.to(pred.dtype)
    if class_weight is not None:
        element_weight = element_weight * class_weight[label].view(-1, *([1] * (pred_slice.dim() - 1)))
    if avg_factor is None and avg_non_ignore and reduction == "mean":
        avg_factor = valid.sum()
    target = torch.where(valid, target, 0).to(pred.dtype)
    loss = F.binary_cross_entropy_with_logits(pred_slice, target, reduction="none")
    return weight_reduce_loss(loss, element_weight, reduction, avg_factor)


@MODELS.register(name="CrossEntropyLoss0x")  # its name in a 1.x-dialect config (docs/dialects.md)
@MODELS.register
class CrossEntropyLoss(SegLoss):
    """Cross-entropy loss (0.x keys and numbers).

    Args:
        use_sigmoid: binary cross-entropy with logits instead of softmax cross-entropy.
        use_mask: mask cross-entropy (``label`` = binary masks, ``weight`` = their classes).
        reduction: ``'none'``, ``'mean'`` or ``'sum'``.
        class_weight: one weight per class, or a path to a .npy/.json/.txt/.pkl file holding them.
        loss_weight: factor of the reduced loss.
        loss_name: key of this loss in the head's loss dict.
        avg_non_ignore: average over non-ignored pixels instead of all pixels.
    """

    def __init__(self, use_sigmoid: bool = False, use_mask: bool = False, reduction: str = "mean",
                 class_weight: Sequence[float] | str | None = None, loss_weight: float = 1.0,
                 loss_name: str = "loss_ce", avg_non_ignore: bool = False) -> None:
        super().__init__(loss_name, class_weight, loss_weight)
        if use_sigmoid and use_mask:
            raise ConfigError("CrossEntropyLoss: use_sigmoid and use_mask cannot both be True; choose one")
        check_reduction(reduction, "CrossEntropyLoss")
        self.use_sigmoid = use_sigmoid
        self.use_mask = use_mask
        self.reduction = reduction
        self.avg_non_ignore = avg_non_ignore

    def forward(self, cls_score: torch.Tensor, label: torch.Tensor, weight: torch.Tensor | None = None,
                avg_factor: float | torch.Tensor | None = None, reduction_override: str | None = None,
                ignore_index: int = 255) -> torch.Tensor:
        """Loss of logits ``cls_score`` (N,C,H,W) against ``label`` (N,H,W).

        Args:
            cls_score: logits.
            label: class indices (masks with ``use_mask``).
            weight: element-wise weight (N,H,W), e.g. the OHEM map; classes with ``use_mask``.
            avg_factor: denominator of ``'mean'`` instead of the pixel count.
            reduction_override: reduction of this call instead of ``reduction``.
            ignore_index: label value that contributes nothing.
        """
        reduction = resolve_reduction(self.reduction, reduction_override)
        class_weight = self._class_weight_like(cls_score)
        if self.use_mask:
            loss = mask_cross_entropy(cls_score, label, weight, class_weight, reduction, avg_factor,
                                      ignore_index, self.avg_non_ignore)
        else:
            criterion = binary_cross_entropy if self.use_sigmoid else cross_entropy
            loss = criterion(cls_score, label, weight, class_weight, reduction, avg_factor,
                             ignore_index, self.avg_non_ignore)
        return self.loss_weight * loss

    def extra_repr(self) -> str:
        return f"avg_non_ignore={self.avg_non_ignore}"  # 0.x's repr
