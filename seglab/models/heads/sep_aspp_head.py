"""``DepthwiseSeparableASPPHead``: the decoder of DeepLabV3+ (Chen et al., 2018), as in 0.x.

ASPP with depthwise-separable dilated branches; its output is upsampled to the size of the
backbone's first feature map (``inputs[0]``), concatenated after that map reduced by
``c1_bottleneck``, and refined by two depthwise-separable 3x3 convs (``sep_bottleneck``).
State-dict names: those of ``ASPPHead`` plus ``aspp_modules.N.depthwise_conv`` /
``pointwise_conv`` (dilation > 1), ``c1_bottleneck``, ``sep_bottleneck.0`` / ``.1``.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import nn

from seglab.errors import ConfigError
from seglab.models.heads.aspp_head import ASPPHead
from seglab.models.heads.decode_head import DEFAULT_LOSS
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
        num_classes: number of classes.
        out_channels: logit channels (see ``BaseDecodeHead``).
        threshold: probability threshold of a one-channel head.
        dropout_ratio: dropout before ``conv_seg``.
        conv_cfg: conv layer config (plain convs only; separable convs are always Conv2d).
        norm_cfg: norm layer config.
        act_cfg: activation config.
        in_index: which backbone output the ASPP part reads.
        input_transform: ``None`` or ``'resize_concat'``.
        loss_decode: one loss config or a list of them.
        ignore_index: label value excluded from losses.
        sampler: pixel sampler config or ``None``.
        align_corners: ``align_corners`` of every resize in the head.
        init_cfg: accepted for 0.x compatibility.
    """

    def __init__(self, in_channels: int | Sequence[int], channels: int, *, c1_in_channels: int,
                 c1_channels: int, dilations: Sequence[int] = (1, 6, 12, 18),
                 num_classes: int, out_channels: int | None = None, threshold: float | None = None,
                 dropout_ratio: float = 0.1, conv_cfg: Mapping | None = None,
                 norm_cfg: Mapping | None = None, act_cfg: Mapping | None = {"type": "ReLU"},
                 in_index: int | Sequence[int] = -1, input_transform: str | None = None,
                 loss_decode: Mapping | Sequence[Mapping] = DEFAULT_LOSS, ignore_index: int = 255,
                 sampler: Mapping | None = None, align_corners: bool = False,
                 init_cfg: Any = None) -> None:
        if not isinstance(c1_in_channels, int) or c1_in_channels < 0:
            raise ConfigError(f"DepthwiseSeparableASPPHead c1_in_channels must be an integer >= 0, "
                              f"got {c1_in_channels!r}")
        if c1_in_channels == 0 and c1_channels != 0:
            raise ConfigError(f"DepthwiseSeparableASPPHead: c1_in_channels=0 disables the low-level "
                              f"path, so c1_channels must be 0 too, got {c1_channels!r}")
        super().__init__(in_channels, channels, dilations=dilations, num_classes=num_classes,
                         out_channels=out_channels, threshold=threshold, dropout_ratio=dropout_ratio,
                         conv_cfg=conv_cfg, norm_cfg=norm_cfg, act_cfg=act_cfg, in_index=in_index,
                         input_transform=input_transform, loss_decode=loss_decode,
                         ignore_index=ignore_index, sampler=sampler, align_corners=align_corners,
                         init_cfg=init_cfg)
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
