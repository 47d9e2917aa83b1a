"""``BaseCascadeDecodeHead``: a decode head that refines the previous stage's logits (0.x interface).

A stage of ``CascadeEncoderDecoder``: ``forward(inputs, prev_output)`` takes the backbone's
features and the logits of the stage before it. Training and testing pass ``prev_output`` on;
the losses are ``BaseDecodeHead.losses``.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch

from seglab.models.heads.decode_head import BaseDecodeHead


class BaseCascadeDecodeHead(BaseDecodeHead):
    """Base class of cascade decode heads; takes ``BaseDecodeHead``'s arguments."""

    def forward(self, inputs: Sequence[torch.Tensor], prev_output: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError(f"{type(self).__name__} must implement forward(inputs, prev_output)")

    def forward_train(self, inputs: Sequence[torch.Tensor], prev_output: torch.Tensor, img_metas: list[dict],
                      gt_semantic_seg: torch.Tensor, train_cfg: Mapping | None = None) -> dict[str, torch.Tensor]:
        """Logits of ``inputs`` refined from ``prev_output``, then their losses against ``gt_semantic_seg``."""
        return self.losses(self(inputs, prev_output), gt_semantic_seg)

    def forward_test(self, inputs: Sequence[torch.Tensor], prev_output: torch.Tensor, img_metas: list[dict],
                     test_cfg: Mapping | None = None) -> torch.Tensor:
        return self(inputs, prev_output)
