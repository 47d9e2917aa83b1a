"""``BaseDecodeHead``: what every decode head shares (0.x interface).

Subclasses build their layers and implement ``forward(inputs) -> logits``; this class turns
the backbone's tuple of feature maps into the head's input (``in_index`` /
``input_transform``), classifies features (``cls_seg``) and computes the training losses
(``losses``) with the configured ``loss_decode`` entries and pixel ``sampler``.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import nn

from seglab.errors import ConfigError
from seglab.models.layers import resize
from seglab.registry import MODELS, PIXEL_SAMPLERS

DEFAULT_LOSS = {"type": "CrossEntropyLoss", "use_sigmoid": False, "loss_weight": 1.0}


class BaseDecodeHead(nn.Module):
    """Base class of decode heads.

    Args:
        in_channels: input channels (a list with ``input_transform``).
        channels: channels after the head's own layers, before ``conv_seg``.
        num_classes: number of classes.
        out_channels: logit channels; ``None`` means ``num_classes`` (1 allows a binary
            sigmoid head with ``num_classes=2``).
        threshold: probability threshold of a one-channel head (default 0.3).
        dropout_ratio: dropout before ``conv_seg``.
        conv_cfg: conv layer config.
        norm_cfg: norm layer config.
        act_cfg: activation config.
        in_index: which backbone output(s) the head reads.
        input_transform: ``None``, ``'resize_concat'`` or ``'multiple_select'``.
        loss_decode: one loss config or a list of them.
        ignore_index: label value excluded from losses and accuracy.
        sampler: pixel sampler config (e.g. ``OHEMPixelSampler``) or ``None``.
        align_corners: ``align_corners`` of every resize in the head.
        init_cfg: accepted for 0.x compatibility; ``conv_seg`` is always initialised
            with N(0, 0.01) as 0.x does.
    """

    def __init__(self, in_channels: int | Sequence[int], channels: int, *, num_classes: int,
                 out_channels: int | None = None, threshold: float | None = None,
                 dropout_ratio: float = 0.1, conv_cfg: Mapping | None = None,
                 norm_cfg: Mapping | None = None, act_cfg: Mapping | None = {"type": "ReLU"},
                 in_index: int | Sequence[int] = -1, input_transform: str | None = None,
                 loss_decode: Mapping | Sequence[Mapping] = DEFAULT_LOSS, ignore_index: int = 255,
                 sampler: Mapping | None = None, align_corners: bool = False,
                 init_cfg: Any = None) -> None:
        super().__init__()
        self._init_inputs(in_channels, in_index, input_transform)
        self.channels = channels
        self.num_classes = num_classes
        self.out_channels = self._resolve_out_channels(num_classes, out_channels)
        self.threshold = threshold if threshold is not None else (0.3 if self.out_channels == 1 else None)
        self.dropout_ratio = dropout_ratio
        self.conv_cfg = conv_cfg
        self.norm_cfg = norm_cfg
        self.act_cfg = act_cfg
        self.ignore_index = ignore_index
        self.align_corners = align_corners
        self.loss_decode = self._build_losses(loss_decode)
        self.sampler = PIXEL_SAMPLERS.build(sampler, key="sampler", context=self) if sampler else None
        self.conv_seg = nn.Conv2d(channels, self.out_channels, kernel_size=1)
        self.dropout = nn.Dropout2d(dropout_ratio) if dropout_ratio > 0 else None
        nn.init.normal_(self.conv_seg.weight, mean=0.0, std=0.01)
        nn.init.zeros_(self.conv_seg.bias)

    @staticmethod
    def _resolve_out_channels(num_classes: int, out_channels: int | None) -> int:
        if out_channels is None:
            return num_classes
        if out_channels not in (1, num_classes):
            raise ConfigError(f"out_channels must be 1 or num_classes ({num_classes}), got {out_channels}")
        return out_channels

    def _build_losses(self, loss_decode: Mapping | Sequence[Mapping]) -> nn.Module:
        if isinstance(loss_decode, Mapping):
            return MODELS.build(loss_decode, key="loss_decode")
        if isinstance(loss_decode, Sequence) and not isinstance(loss_decode, str):
            return nn.ModuleList(MODELS.build(cfg, key=f"loss_decode.{i}") for i, cfg in enumerate(loss_decode))
        raise ConfigError(f"loss_decode must be a dict or a list of dicts, got {type(loss_decode).__name__}")

    def _init_inputs(self, in_channels: int | Sequence[int], in_index: int | Sequence[int],
                     input_transform: str | None) -> None:
        if input_transform not in (None, "resize_concat", "multiple_select"):
            raise ConfigError(f"input_transform must be None, 'resize_concat' or 'multiple_select', "
                              f"got {input_transform!r}")
        self.input_transform = input_transform
        self.in_index = in_index
        if input_transform is None:
            if not isinstance(in_channels, int) or not isinstance(in_index, int):
                raise ConfigError("in_channels and in_index must be integers when input_transform is None, "
                                  f"got {in_channels!r} and {in_index!r}")
            self.in_channels = in_channels
            return
        if isinstance(in_channels, int) or isinstance(in_index, int) or len(in_channels) != len(in_index):
            raise ConfigError(f"with input_transform={input_transform!r}, in_channels and in_index must be "
                              f"lists of the same length, got {in_channels!r} and {in_index!r}")
        self.in_index = list(in_index)
        self.in_channels = sum(in_channels) if input_transform == "resize_concat" else list(in_channels)

    def _transform_inputs(self, inputs: Sequence[torch.Tensor]) -> torch.Tensor | list[torch.Tensor]:
        """Pick (and for ``resize_concat`` upsample and concatenate) the backbone outputs."""
        if self.input_transform is None:
            return inputs[self.in_index]
        selected = [inputs[i] for i in self.in_index]
        if self.input_transform == "multiple_select":
            return selected
        size = selected[0].shape[2:]
        return torch.cat([resize(x, size, mode="bilinear", align_corners=self.align_corners)
                          for x in selected], dim=1)

    def cls_seg(self, feat: torch.Tensor) -> torch.Tensor:
        """Per-pixel class logits of the head's features."""
        if self.dropout is not None:
            feat = self.dropout(feat)
        return self.conv_seg(feat)

    def forward(self, inputs: Sequence[torch.Tensor]) -> torch.Tensor:
        raise NotImplementedError(f"{type(self).__name__} must implement forward(inputs)")

    def forward_train(self, inputs: Sequence[torch.Tensor], img_metas: list[dict],
                      gt_semantic_seg: torch.Tensor, train_cfg: Mapping | None = None) -> dict[str, torch.Tensor]:
        """Logits of ``inputs``, then their losses against ``gt_semantic_seg`` (N,1,H,W)."""
        return self.losses(self(inputs), gt_semantic_seg)

    def forward_test(self, inputs: Sequence[torch.Tensor], img_metas: list[dict],
                     test_cfg: Mapping | None = None) -> torch.Tensor:
        return self(inputs)
