"""``OHEMPixelSampler``: online hard example mining of pixels (0.x semantics).

Returns a 0/1 weight map that the head passes to every loss. With ``thresh``, a valid pixel is
kept when the softmax probability of its ground-truth class is below
``max(thresh, sorted_p[min(min_kept * N, count - 1)])`` (so at least ``min_kept`` per image stay
while there are enough); without ``thresh``, the ``min_kept * N`` valid pixels with the largest
summed per-pixel loss of the head's ``loss_decode`` entries are kept. See docs/semantics.md.

Everything is batched tensor work on the device: no Python loop over pixels or images, no full
sort (a top-k selection suffices) and no host synchronisation.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from seglab.errors import ConfigError
from seglab.registry import PIXEL_SAMPLERS


@PIXEL_SAMPLERS.register
class OHEMPixelSampler:
    """Online hard example mining sampler for segmentation.

    Args:
        context: the decode head using the sampler (its ``ignore_index`` and ``loss_decode`` are read).
        thresh: keep pixels whose ground-truth probability is below this; ``None`` ranks pixels by loss.
        min_kept: minimum number of pixels kept per image (must be > 1).
    """

    def __init__(self, context: nn.Module, thresh: float | None = None, min_kept: int = 100000) -> None:
        if isinstance(min_kept, bool) or not isinstance(min_kept, int) or min_kept <= 1:
            raise ConfigError(f"OHEMPixelSampler min_kept must be an integer > 1, got {min_kept!r}")
        if thresh is not None and (isinstance(thresh, bool) or not isinstance(thresh, (int, float))):
            raise ConfigError(f"OHEMPixelSampler thresh must be a number or None, got {thresh!r}")
        self.context = context
        self.thresh = thresh
        self.min_kept = min_kept

    @torch.no_grad()
    def sample(self, seg_logit: torch.Tensor, seg_label: torch.Tensor) -> torch.Tensor:
        """Weight map (N,H,W) of 0/1 for logits (N,C,H,W) and labels (N,1,H,W) of the same size."""
        if seg_logit.shape[2:] != seg_label.shape[2:] or seg_label.dim() != 4 or seg_label.size(1) != 1:
            raise ValueError(f"OHEMPixelSampler expects logits (N,C,H,W) and labels (N,1,H,W) of the same "
                             f"size, got {tuple(seg_logit.shape)} and {tuple(seg_label.shape)}")
        label = seg_label.squeeze(1).long()
        valid = label != self.context.ignore_index
        batch_kept = self.min_kept * label.size(0)
        if self.thresh is not None:
            keep = self._below_threshold(seg_logit, label, valid, batch_kept)
        else:
            keep = self._largest_losses(seg_logit, label, valid, batch_kept)
        return keep.to(seg_logit.dtype)

    def _below_threshold(self, seg_logit: torch.Tensor, label: torch.Tensor, valid: torch.Tensor,
                         batch_kept: int) -> torch.Tensor:
        """Valid pixels with gt probability below ``max(thresh, sorted_p[min(batch_kept, count-1)])``."""
        gt = torch.where(valid, label, 0).unsqueeze(1)
        prob = F.softmax(seg_logit, dim=1).gather(1, gt).squeeze(1)
        # Ignored pixels read 2 (above every probability), so they sort after the valid ones
        # and the (batch_kept+1)-th smallest is sorted_p[batch_kept] whenever batch_kept < count.
        flat = torch.where(valid, prob, 2.0).flatten()
        # The largest of the k smallest is the k-th smallest. topk, not kthvalue: on CUDA
        # kthvalue runs one block per slice and is slower than a full sort (pytorch#75599).
        kth = torch.topk(flat, min(batch_kept + 1, flat.numel()), largest=False, sorted=False).values.max()
        # Otherwise it is an ignored pixel (or the maximum): use sorted_p[count-1], the largest
        # valid probability; with no valid pixel that is -1, below any thresh (0.x uses 0).
        largest_valid = torch.where(valid, prob, -1.0).max()
        min_threshold = torch.where(kth > 1.0, largest_valid, kth)
        threshold = min_threshold.clamp(min=self.thresh)
        return valid & (prob < threshold)

    def _largest_losses(self, seg_logit: torch.Tensor, label: torch.Tensor, valid: torch.Tensor,
                        batch_kept: int) -> torch.Tensor:
        """The ``batch_kept`` valid pixels with the largest summed per-pixel loss."""
        losses = self._pixel_losses(seg_logit, label)
        flat = torch.where(valid, losses, float("-inf")).flatten()
        top = torch.topk(flat, min(batch_kept, flat.numel()), sorted=False).indices
        keep = torch.zeros_like(valid).flatten().index_fill_(0, top, True).view_as(valid)
        return keep & valid          # with batch_kept > count, topk also returned ignored pixels

    def _pixel_losses(self, seg_logit: torch.Tensor, label: torch.Tensor) -> torch.Tensor:
        """Sum of the per-pixel losses (``reduction_override='none'``, no weight) of every loss_decode entry.

        Losses with one value per channel (sigmoid cross-entropy, focal) are summed over channels.
        Losses with no per-pixel form (Dice, Tversky, Lovasz: one value per image or batch) are
        left out: 0.x adds them as one constant, which changes no ranking.
        """
        loss_decode = self.context.loss_decode
        entries = loss_decode if isinstance(loss_decode, nn.ModuleList) else [loss_decode]
        total = None
        for loss_module in entries:
            loss = loss_module(seg_logit, label, weight=None, ignore_index=self.context.ignore_index,
                               reduction_override="none")
            if loss.dim() == label.dim() + 1 and loss.shape[2:] == label.shape[1:]:
                loss = loss.sum(1)
            if loss.shape == label.shape:
                total = loss if total is None else total + loss
        if total is None:
            names = ", ".join(type(m).__name__ for m in entries)
            raise ConfigError(f"OHEMPixelSampler without thresh ranks pixels by their loss, but none of the "
                              f"head's loss_decode entries ({names}) gives a per-pixel loss; set sampler.thresh "
                              "or add a CrossEntropyLoss")
        return total
