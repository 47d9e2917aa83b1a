"""Top-k pixel accuracy in percent: 0.x's ``accuracy()`` function and ``Accuracy`` module.

A prediction is correct when the target is among its ``topk`` highest scores (and, with
``thresh``, that score is above ``thresh``). Pixels labelled ``ignore_index`` are left out of both
counts; ``eps`` is added to both, so an all-ignored batch reads 100, not NaN (0.x's rule). Computed
with masks rather than boolean indexing, so it never waits for the device.
"""
from __future__ import annotations

import torch
from torch import nn

_EPS = torch.finfo(torch.float32).eps


def accuracy(pred: torch.Tensor, target: torch.Tensor, topk: int | tuple[int, ...] = 1,
             thresh: float | None = None, ignore_index: int | None = None
             ) -> torch.Tensor | list[torch.Tensor]:
    """Top-k accuracy (%) of scores ``pred`` (N, C, ...) against class ids ``target`` (N, ...).

    Args:
        pred: scores, classes along dim 1.
        target: class ids, ``pred``'s shape without dim 1.
        topk: one k (returns one tensor) or a tuple of them (returns a list, one per k).
        thresh: a correct prediction's score must also be above this.
        ignore_index: label value left out of the accuracy.

    Returns:
        Tensors of shape (1,), as 0.x returns them.
    """
    if not isinstance(topk, (int, tuple)):
        raise TypeError(f"topk must be an int or a tuple of ints, got {topk!r}")
    ks = (topk,) if isinstance(topk, int) else topk
    if pred.size(0) == 0:
        zeros = [pred.new_zeros(1) for _ in ks]
        return zeros[0] if isinstance(topk, int) else zeros
    if pred.dim() != target.dim() + 1 or pred.size(0) != target.size(0) or pred.shape[2:] != target.shape[1:]:
        raise ValueError(f"accuracy: pred (N, C, ...) and target (N, ...) do not match: "
                         f"{tuple(pred.shape)} and {tuple(target.shape)}")
    maxk = max(ks)
    if maxk > pred.size(1):
        raise ValueError(f"accuracy: maxk {maxk} exceeds pred dimension {pred.size(1)}")
    # k = 1: max, which is faster than topk on CPU and takes the first of tied scores, like argmax
    scores, labels = pred.max(dim=1, keepdim=True) if maxk == 1 else pred.topk(maxk, dim=1)
    correct = labels == target.unsqueeze(1)  # (N, maxk, ...)
    if thresh is not None:
        correct = correct & (scores > thresh)
    valid = torch.ones_like(target, dtype=torch.bool) if ignore_index is None else target != ignore_index
    correct = correct & valid.unsqueeze(1)
    total = valid.sum().float() + _EPS
    res = [(correct[:, :k].sum().float().reshape(1) + _EPS) * (100.0 / total) for k in ks]
    return res[0] if isinstance(topk, int) else res


class Accuracy(nn.Module):
    """``accuracy`` as a module (0.x's ``Accuracy``; not a loss, so not registered).

    Args:
        topk: one k, or a tuple of them.
        thresh: a correct prediction's score must also be above this.
        ignore_index: label value left out of the accuracy.
    """

    def __init__(self, topk: int | tuple[int, ...] = (1,), thresh: float | None = None,
                 ignore_index: int | None = None) -> None:
        super().__init__()
        self.topk = topk
        self.thresh = thresh
        self.ignore_index = ignore_index

    def forward(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor | list[torch.Tensor]:
        return accuracy(pred, target, self.topk, self.thresh, self.ignore_index)
