"""``SegformerHead``: the all-MLP decoder of SegFormer (Xie et al., 2021), as MMSegmentation 0.x builds it.

Every selected backbone output goes through a 1x1 ConvModule to ``channels`` (the "MLP" of the
paper, applied per pixel), is resized to the largest map (the first selected, stride 4 for MiT),
the results are concatenated and fused by a 1x1 ``fusion_conv``, then classified. State-dict
names: ``convs.N.conv``/``convs.N.bn``, ``fusion_conv``, ``conv_seg``.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from seglab.errors import ConfigError
from seglab.models.heads.decode_head import BaseDecodeHead
from seglab.models.layers import ConvModule, resize
from seglab.registry import MODELS

INTERPOLATE_MODES = ("bilinear", "nearest", "bicubic", "area", "nearest-exact")


@MODELS.register
class SegformerHead(BaseDecodeHead):
    """All-MLP decode head.

    Args:
        in_channels: channels of each selected backbone output (one per ``in_index``).
        channels: channels of every per-input conv and of the fused features.
        interpolate_mode: resize mode of the per-input features (``align_corners`` is the head's).
        input_transform: must be ``'multiple_select'`` (its default here): the head fuses several maps.
        **kwargs: the arguments of ``BaseDecodeHead`` (``num_classes``, ``in_index``,
            ``loss_decode``, ...).
    """

    def __init__(self, in_channels: Sequence[int], channels: int, *, interpolate_mode: str = "bilinear",
                 input_transform: str | None = "multiple_select", **kwargs: Any) -> None:
        if interpolate_mode not in INTERPOLATE_MODES:
            raise ConfigError(f"SegformerHead interpolate_mode must be one of {', '.join(INTERPOLATE_MODES)}, "
                              f"got {interpolate_mode!r}")
        super().__init__(in_channels, channels, input_transform=input_transform, **kwargs)
        self._require_multiple_inputs()
        self.interpolate_mode = interpolate_mode
        self.convs = nn.ModuleList(
            ConvModule(c, channels, 1, conv_cfg=self.conv_cfg, norm_cfg=self.norm_cfg, act_cfg=self.act_cfg)
            for c in self.in_channels)
        self.fusion_conv = ConvModule(channels * len(self.in_channels), channels, 1, conv_cfg=self.conv_cfg,
                                      norm_cfg=self.norm_cfg)

    def forward(self, inputs: Sequence[torch.Tensor]) -> torch.Tensor:
        inputs = self._transform_inputs(inputs)
        size = inputs[0].shape[2:]
        outs = [resize(conv(x), size, mode=self.interpolate_mode, align_corners=self.align_corners)
                for conv, x in zip(self.convs, inputs)]
        return self.cls_seg(self.fusion_conv(torch.cat(outs, dim=1)))
