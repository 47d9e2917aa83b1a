"""``CascadeEncoderDecoder``: an encoder-decoder whose decode head is a chain of stages (0.x's).

``decode_head`` is a list of ``num_stages`` head configs: the first is a ``BaseDecodeHead``, each
later one a ``BaseCascadeDecodeHead`` that refines the logits of the stage before it::

    out = decode_head[0].forward_test(x, img_metas, test_cfg)
    for head in decode_head[1:]:
        out = head.forward_test(x, out, img_metas, test_cfg)

In training every stage has its losses (keys ``decode_0.``, ``decode_1.``, ...); stage ``i``
refines the test-mode output of the stages before it, as in 0.x. State-dict names:
``decode_head.0.*``, ``decode_head.1.*``.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import nn

from seglab.errors import ConfigError
from seglab.models.segmentors.encoder_decoder import EncoderDecoder
from seglab.models.utils import add_prefix
from seglab.registry import MODELS


@MODELS.register
class CascadeEncoderDecoder(EncoderDecoder):
    """Cascade encoder-decoder segmentor.

    Args:
        num_stages: number of decode-head stages; ``decode_head`` lists that many configs.
        **kwargs: the arguments of ``EncoderDecoder`` (``backbone``, ``decode_head``, ...).
    """

    def __init__(self, num_stages: int, **kwargs: Any) -> None:
        if not isinstance(num_stages, int) or num_stages < 1:
            raise ConfigError(f"model.num_stages must be a positive integer, got {num_stages!r}")
        self.num_stages = num_stages
        super().__init__(**kwargs)

    def _init_decode_head(self, decode_head: Sequence[Mapping]) -> None:
        if isinstance(decode_head, Mapping) or not isinstance(decode_head, Sequence) \
                or len(decode_head) != self.num_stages:
            given = f"{len(decode_head)} configs" if isinstance(decode_head, Sequence) else repr(decode_head)
            raise ConfigError(f"model.decode_head of CascadeEncoderDecoder must be a list of num_stages="
                              f"{self.num_stages} head configs, got {given}")
        self.decode_head = nn.ModuleList(MODELS.build(cfg, key=f"decode_head.{i}")
                                         for i, cfg in enumerate(decode_head))
        self._take_output_attributes(self.decode_head[-1])

    def _output_head(self) -> nn.Module:
        return self.decode_head[-1]

    def _decode_head_forward_test(self, x: tuple[torch.Tensor, ...], img_metas: list[dict] | None) -> torch.Tensor:
        out = self.decode_head[0].forward_test(x, img_metas, self.test_cfg)
        for head in self.decode_head[1:]:
            out = head.forward_test(x, out, img_metas, self.test_cfg)
        return out

    def _decode_head_forward_train(self, x: tuple[torch.Tensor, ...], img_metas: list[dict],
                                   gt_semantic_seg: torch.Tensor) -> dict[str, torch.Tensor]:
        losses = add_prefix(self.decode_head[0].forward_train(x, img_metas, gt_semantic_seg, self.train_cfg),
                            "decode_0")
        prev = None
        for i in range(1, self.num_stages):
            # the stages before, run again through forward_test, as 0.x does
            prev = (self.decode_head[0].forward_test(x, img_metas, self.test_cfg) if i == 1 else
                    self.decode_head[i - 1].forward_test(x, prev, img_metas, self.test_cfg))
            stage = self.decode_head[i].forward_train(x, prev, img_metas, gt_semantic_seg, self.train_cfg)
            losses.update(add_prefix(stage, f"decode_{i}"))
        return losses
