"""``DepthwiseSeparableASPPHead``: the decoder of DeepLabV3+ (Chen et al., 2018), as in 0.x.

ASPP with depthwise-separable dilated branches; its output is upsampled to the size of the
backbone's first feature map (``inputs[0]``), concatenated after that map reduced by
``c1_bottleneck``, and refined by two depthwise-separable 3x3 convs (``sep_bottleneck``).
State-dict names: those of ``ASPPHead`` plus ``aspp_modules.N.depthwise_conv`` /
``pointwise_conv`` (dilation > 1), ``c1_bottleneck``, ``sep_bottleneck.0`` / ``.1``.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from seglab.errors import ConfigError
from seglab.models.heads.aspp_head import ASPPHead
from seglab.models.layers import DepthwiseSeparableConvModule, resize
from seglab.registry import MODELS


@MODELS.register
class DepthwiseSeparableASPPHead(ASPPHead):
    """DeepLabV3+ head.

    Args:
        in_channels: input channels of the ASPP part.
        channels: channels of the ASPP branches and of the decoder.
        c1_in_channels: channels of ``inputs[0]`` (the low-level feature map); 0 disables the
            low-level path (then ``c1_channels`` must be 0 too).
        c1_channels: channels ``c1_bottleneck`` reduces the low-level map to.
        dilations: dilation of each ASPP branch (1 gives a plain 1x1 conv).
        **kwargs: the arguments of ``BaseDecodeHead`` (``num_classes``, ``loss_decode``,
            ``sampler``, ...).
    """

    def __init__(self, in_channels: int | Sequence[int], channels: int, *, c1_in_channels: int,
                 c1_channels: int, dilations: Sequence[int] = (1, 6, 12, 18), **kwargs: Any) -> None:
        if not isinstance(c1_in_channels, int) or c1_in_channels < 0:
            raise ConfigError(f"DepthwiseSeparableASPPHead c1_in_channels must be an integer >= 0, "
                              f"got {c1_in_channels!r}")
        if c1_in_channels == 0 and c1_channels != 0:
            raise ConfigError(f"DepthwiseSeparableASPPHead: c1_in_channels=0 disables the low-level "
                              f"path, so c1_channels must be 0 too, got {c1_channels!r}")
        super().__init__(in_channels, channels, dilations=dilations, **kwargs)
        self.c1_bottleneck = self._conv(c1_in_channels, c1_channels, 1) if c1_in_channels > 0 else None
        self.sep_bottleneck = nn.Sequential(self._separable(channels + c1_channels, channels, 1),
                                            self._separable(channels, channels, 1))

    def _separable(self, in_channels: int, out_channels: int, dilation: int) -> DepthwiseSeparableConvModule:
        return DepthwiseSeparableConvModule(in_channels, out_channels, 3, padding=dilation, dilation=dilation,
                                            norm_cfg=self.norm_cfg, act_cfg=self.act_cfg)

    def _aspp_branch(self, dilation: int) -> nn.Module:
        # 0.x keeps the dilation-1 branch a plain 1x1 ConvModule; the dilated ones are separable.
        if dilation == 1:
            return super()._aspp_branch(dilation)
        return self._separable(self.in_channels, self.channels, dilation)

    def forward(self, inputs: Sequence[torch.Tensor]) -> torch.Tensor:
        output = self._forward_feature(inputs)
        if self.c1_bottleneck is not None:
            # The low-level map is the backbone's first output, whatever in_index says (0.x).
            c1_output = self.c1_bottleneck(inputs[0])
            output = resize(output, c1_output.shape[2:], mode="bilinear", align_corners=self.align_corners)
            output = torch.cat([output, c1_output], dim=1)
        return self.cls_seg(self.sep_bottleneck(output))
