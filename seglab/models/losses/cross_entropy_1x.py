"""``CrossEntropyLoss1x``: MMSegmentation 1.x's ``CrossEntropyLoss`` (1.2.2).

Keys and per-pixel losses are 0.x's (cross_entropy.py). One rule changed in 1.x: with
``class_weight``, softmax cross-entropy and ``'mean'`` reduction, the sum of the per-pixel losses
is divided by the sum of the labels' class weights, ``sum_i class_weight[y_i]`` (PyTorch's
weighted mean), instead of by the number of pixels. An element-wise ``weight`` (OHEM) multiplies
the losses but not that denominator, as in 1.x. Without class weights, with ``use_sigmoid``,
``use_mask``, another reduction or an explicit ``avg_factor``, the two dialects agree.

Ignored pixels: 1.x looks up ``class_weight[255]`` and fails (IndexError) as soon as a batch
holds an ignored pixel. seglab gives an ignored pixel the weight it has in the unweighted mean:
it adds 0 to the sum of losses and 1 to the denominator, or 0 with ``avg_non_ignore=True``.
So ``class_weight=[1, ..., 1]`` gives the same value as no class weights, in both modes. See
docs/dialects.md.
"""
from __future__ import annotations


import torch

from seglab.models.losses.cross_entropy import CrossEntropyLoss
from seglab.models.losses.utils import resolve_reduction
from seglab.registry import MODELS


def class_weighted_count(label: torch.Tensor, class_weight: torch.Tensor, ignore_index: int,
                         avg_non_ignore: bool) -> torch.Tensor:
    """1.x's denominator of a class-weighted mean: ``sum_i class_weight[label_i]``, a device tensor.

    Each ignored pixel adds 1 (0 with ``avg_non_ignore``), as it does to the unweighted mean's pixel count.
    """
    valid = label != ignore_index
    per_pixel = class_weight[torch.where(valid, label, 0).long()]
    return torch.where(valid, per_pixel, 0.0 if avg_non_ignore else 1.0).sum()


@MODELS.register
class CrossEntropyLoss1x(CrossEntropyLoss):
    """Cross-entropy loss with MMSegmentation 1.x's class-weighted mean (module docstring).

    A 1.x config's class-weighted ``CrossEntropyLoss`` is translated to this class; its keys are
    ``CrossEntropyLoss``'s.
    """

    def forward(self, cls_score: torch.Tensor, label: torch.Tensor, weight: torch.Tensor | None = None,
                avg_factor: float | torch.Tensor | None = None, reduction_override: str | None = None,
                ignore_index: int = 255) -> torch.Tensor:
        """Loss of logits ``cls_score`` (N,C,H,W) against ``label`` (N,H,W); arguments as ``CrossEntropyLoss``."""
        reduction = resolve_reduction(self.reduction, reduction_override)
        if (avg_factor is None and reduction == "mean" and self.class_weight is not None
                and not self.use_sigmoid and not self.use_mask):
            avg_factor = class_weighted_count(label, self._class_weight_like(cls_score), ignore_index,
                                              self.avg_non_ignore)
        return super().forward(cls_score, label, weight, avg_factor, reduction_override, ignore_index)
