"""``LovaszLoss``: the Lovasz-softmax and Lovasz-hinge losses (Berman et al., 2018), 0.x keys.

Both are the dot product of sorted errors with the gradient of the Lovasz extension of the
Jaccard loss. Images (``per_image=True``) and classes are handled as batch dimensions of one
sort: ignored pixels are given the lowest error so they sort last, where they cannot change the
cumulative sums of the valid pixels before them, and their errors are then zeroed.
"""
from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F

from seglab.errors import ConfigError
from seglab.models.losses.utils import (SegLoss, check_reduction, one_hot, resolve_reduction,
                                        weight_reduce_loss)
from seglab.registry import MODELS


def lovasz_grad(gt_sorted: torch.Tensor) -> torch.Tensor:
    """Gradient of the Lovasz extension w.r.t. errors sorted descending; ``gt_sorted`` (..., P) of 0/1."""
    gts = gt_sorted.sum(-1, keepdim=True)
    intersection = gts - gt_sorted.cumsum(-1)
    union = gts + (1 - gt_sorted).cumsum(-1)
    jaccard = 1.0 - intersection / union
    return torch.cat([jaccard[..., :1], jaccard[..., 1:] - jaccard[..., :-1]], dim=-1)


def _sorted_dot(errors: torch.Tensor, gt: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
    """sum(errors_sorted * lovasz_grad(gt_sorted)) over the last axis, ignoring invalid entries."""
    errors = errors.masked_fill(~valid, float("-inf"))
    errors_sorted, perm = torch.sort(errors, dim=-1, descending=True)
    gt_sorted = gt.gather(-1, perm)
    valid_sorted = valid.gather(-1, perm)
    errors_sorted = torch.where(valid_sorted, errors_sorted, torch.zeros_like(errors_sorted))
    return (errors_sorted * lovasz_grad(gt_sorted)).sum(-1)


def lovasz_hinge(logits: torch.Tensor, label: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
    """Binary Lovasz hinge per row: ``logits``, ``label`` (0/1) and ``valid`` of shape (B, P) -> (B,)."""
    gt = torch.where(valid, label, 0).to(logits.dtype)
    errors = 1.0 - logits * (2.0 * gt - 1.0)
    return _sorted_dot(F.relu(errors), gt, valid)


def lovasz_softmax(probs: torch.Tensor, label: torch.Tensor, valid: torch.Tensor,
                   classes: str | Sequence[int] = "present",
                   class_weight: torch.Tensor | None = None) -> torch.Tensor:
    """Lovasz-softmax per row: ``probs`` (B,C,P), ``label``/``valid`` (B,P) -> (B,).

    Each row's loss is the mean over the selected classes (``'all'``, ``'present'`` in that row's
    valid pixels, or a list of class indices) of the class losses times ``class_weight``.
    """
    num_classes = probs.size(1)
    gt = one_hot(torch.where(valid, label, 0), num_classes, probs.dtype)
    valid_c = valid.unsqueeze(1).expand_as(probs)
    gt = gt * valid_c
    per_class = _sorted_dot((gt - probs).abs(), gt, valid_c)        # (B, C)
    if class_weight is not None:
        per_class = per_class * class_weight
    if classes == "all":
        selected = torch.ones_like(per_class)
    elif classes == "present":
        selected = (gt.sum(-1) > 0).to(per_class.dtype)
    else:
        selected = torch.zeros_like(per_class)
        selected[:, list(classes)] = 1.0
    return (per_class * selected).sum(1) / selected.sum(1).clamp(min=1)


@MODELS.register
class LovaszLoss(SegLoss):
    """Lovasz loss (0.x keys): ``'multi_class'`` (Lovasz-softmax) or ``'binary'`` (Lovasz hinge).

    Args:
        loss_type: ``'multi_class'`` or ``'binary'`` (one logit channel or (N,H,W) logits, labels 0/1).
        classes: classes averaged in Lovasz-softmax: ``'all'``, ``'present'`` or a list of indices.
        per_image: compute the loss per image, then reduce with ``reduction``; otherwise one loss
            over the whole batch (``reduction`` then has nothing to reduce).
        reduction: ``'none'``, ``'mean'`` or ``'sum'`` over images (with ``per_image``).
        class_weight: one weight per class, or a path to a .npy/.json/.txt/.pkl file holding them.
        loss_weight: factor of the loss.
        loss_name: key of this loss in the head's loss dict.
    """

    def __init__(self, loss_type: str = "multi_class", classes: str | Sequence[int] = "present",
                 per_image: bool = False, reduction: str = "mean",
                 class_weight: Sequence[float] | str | None = None, loss_weight: float = 1.0,
                 loss_name: str = "loss_lovasz") -> None:
        super().__init__(loss_name, class_weight, loss_weight)
        if loss_type not in ("binary", "multi_class"):
            raise ConfigError(f"LovaszLoss loss_type must be 'binary' or 'multi_class', got {loss_type!r}")
        valid_list = (isinstance(classes, Sequence) and not isinstance(classes, str)
                      and all(isinstance(c, int) and not isinstance(c, bool) for c in classes) and len(classes))
        if classes not in ("all", "present") and not valid_list:
            raise ConfigError(f"LovaszLoss classes must be 'all', 'present' or a list of class indices, "
                              f"got {classes!r}")
        check_reduction(reduction, "LovaszLoss")
        self.loss_type = loss_type
        self.classes = classes if isinstance(classes, str) else list(classes)
        self.per_image = per_image
        self.reduction = reduction

    def forward(self, cls_score: torch.Tensor, label: torch.Tensor, weight: torch.Tensor | None = None,
                avg_factor: float | torch.Tensor | None = None, reduction_override: str | None = None,
                ignore_index: int = 255) -> torch.Tensor:
        """Lovasz loss of logits ``cls_score`` (N,C,H,W) against ``label`` (N,H,W).

        ``weight`` is accepted for the common loss interface and unused (as in 0.x).
        """
        reduction = resolve_reduction(self.reduction, reduction_override)
        n = cls_score.size(0)
        rows = n if self.per_image else 1
        valid = (label != ignore_index).reshape(rows, -1)
        label = label.reshape(rows, -1)
        if self.loss_type == "binary":
            loss = lovasz_hinge(cls_score.reshape(rows, -1), label, valid)
        else:
            if cls_score.size(1) < 2:
                raise ConfigError("LovaszLoss(loss_type='multi_class') needs at least two logit channels; "
                                  "use loss_type='binary' for a one-channel head")
            num_classes = cls_score.size(1)
            # (N,C,H,W) -> (rows, C, pixels of the row), pixels in the same order as the labels'.
            probs = F.softmax(cls_score, dim=1).reshape(rows, n // rows, num_classes, -1)
            probs = probs.transpose(1, 2).reshape(rows, num_classes, -1)
            loss = lovasz_softmax(probs, label, valid, self.classes, self._class_weight_like(cls_score))
        if self.per_image:
            loss = weight_reduce_loss(loss, None, reduction, avg_factor)
        else:
            loss = loss[0]
        return self.loss_weight * loss
