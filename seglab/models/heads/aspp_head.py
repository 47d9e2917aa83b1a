"""``ASPPHead``: the atrous spatial pyramid pooling head of DeepLabV3 (Chen et al., 2017).

As in MMSegmentation 0.x: an image-level branch (global average pool, 1x1 conv, upsampled back)
and one conv per dilation (1x1 for dilation 1, 3x3 dilated otherwise), concatenated in that
order and fused by a 3x3 ``bottleneck``. State-dict names: ``image_pool.1``,
``aspp_modules.N``, ``bottleneck``, ``conv_seg``.
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


@MODELS.register
class ASPPHead(BaseDecodeHead):
    """DeepLabV3's ASPP head.

    Args:
        in_channels: input channels (a list with ``input_transform='resize_concat'``).
        channels: channels of each ASPP branch and of the bottleneck.
        dilations: dilation of each ASPP branch (1 gives a 1x1 conv).
        **kwargs: the arguments of ``BaseDecodeHead`` (``num_classes``, ``loss_decode``,
            ``sampler``, ...).
    """

    def __init__(self, in_channels: int | Sequence[int], channels: int, *,
                 dilations: Sequence[int] = (1, 6, 12, 18), **kwargs: Any) -> None:
        if (not isinstance(dilations, (list, tuple)) or not dilations
                or not all(isinstance(d, int) and d >= 1 for d in dilations)):
            raise ConfigError(f"{type(self).__name__} dilations must be a non-empty list or tuple of "
                              f"integers >= 1, got {dilations!r}")
        super().__init__(in_channels, channels, **kwargs)
        self._require_one_input()
        self.dilations = tuple(dilations)
        self.image_pool = nn.Sequential(nn.AdaptiveAvgPool2d(1), self._conv(self.in_channels, channels, 1))
        self.aspp_modules = nn.ModuleList(self._aspp_branch(d) for d in self.dilations)
        self.bottleneck = self._conv((len(self.dilations) + 1) * channels, channels, 3, padding=1)

    def _conv(self, in_channels: int, out_channels: int, kernel_size: int, padding: int = 0,
              dilation: int = 1) -> ConvModule:
        return ConvModule(in_channels, out_channels, kernel_size, padding=padding, dilation=dilation,
                          conv_cfg=self.conv_cfg, norm_cfg=self.norm_cfg, act_cfg=self.act_cfg)

    def _aspp_branch(self, dilation: int) -> nn.Module:
        """One ASPP branch; subclasses change the kind of conv."""
        if dilation == 1:
            return self._conv(self.in_channels, self.channels, 1)
        return self._conv(self.in_channels, self.channels, 3, padding=dilation, dilation=dilation)

    def _aspp_features(self, x: torch.Tensor) -> torch.Tensor:
        """Image-pool branch (upsampled to ``x``'s size), then every dilation branch, fused."""
        pooled = resize(self.image_pool(x), x.shape[2:], mode="bilinear", align_corners=self.align_corners)
        return self.bottleneck(torch.cat([pooled, *(branch(x) for branch in self.aspp_modules)], dim=1))

    def _forward_feature(self, inputs: Sequence[torch.Tensor]) -> torch.Tensor:
        return self._aspp_features(self._transform_inputs(inputs))

    def forward(self, inputs: Sequence[torch.Tensor]) -> torch.Tensor:
        return self.cls_seg(self._forward_feature(inputs))
