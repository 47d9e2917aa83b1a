"""``UPerHead``: the decode head of UPerNet (Xiao et al., 2018), as MMSegmentation 0.x builds it.

A pyramid pooling module (``psp_modules`` + ``bottleneck``, PSPNet's, see ``psp_head.py``) on the
coarsest input starts a feature pyramid: every finer input gets a 1x1 ``lateral_convs`` conv, the
coarser level is upsampled and added top-down, each level but the top is smoothed by a 3x3
``fpn_convs`` conv, all levels are upsampled to the finest one, concatenated and fused by the 3x3
``fpn_bottleneck``, then classified. State-dict names: ``psp_modules.N.1``, ``bottleneck``,
``lateral_convs.N``, ``fpn_convs.N``, ``fpn_bottleneck``, ``conv_seg``.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from seglab.models.heads.decode_head import BaseDecodeHead
from seglab.models.heads.psp_head import PPM, check_pool_scales
from seglab.models.layers import ConvModule, resize
from seglab.registry import MODELS


@MODELS.register
class UPerHead(BaseDecodeHead):
    """Unified perceptual parsing head: PPM on the coarsest input, then an FPN over all inputs.

    Args:
        in_channels: channels of each selected backbone output, finest first.
        channels: channels of every conv of the head.
        pool_scales: grid sizes of the pyramid pooling branches.
        input_transform: must be ``'multiple_select'`` (its default here): the head fuses several maps.
        **kwargs: the arguments of ``BaseDecodeHead`` (``num_classes``, ``in_index``,
            ``loss_decode``, ...).
    """

    def __init__(self, in_channels: Sequence[int], channels: int, *, pool_scales: Sequence[int] = (1, 2, 3, 6),
                 input_transform: str | None = "multiple_select", **kwargs: Any) -> None:
        pool_scales = check_pool_scales(pool_scales, type(self).__name__)
        super().__init__(in_channels, channels, input_transform=input_transform, **kwargs)
        self._require_multiple_inputs()
        self.pool_scales = pool_scales
        layer = dict(conv_cfg=self.conv_cfg, norm_cfg=self.norm_cfg, act_cfg=self.act_cfg)
        top = self.in_channels[-1]
        self.psp_modules = PPM(pool_scales, top, channels, align_corners=self.align_corners, **layer)
        self.bottleneck = ConvModule(top + len(pool_scales) * channels, channels, 3, padding=1, **layer)
        self.lateral_convs = nn.ModuleList(ConvModule(c, channels, 1, inplace=False, **layer)
                                           for c in self.in_channels[:-1])
        self.fpn_convs = nn.ModuleList(ConvModule(channels, channels, 3, padding=1, inplace=False, **layer)
                                       for _ in self.in_channels[:-1])
        self.fpn_bottleneck = ConvModule(len(self.in_channels) * channels, channels, 3, padding=1, **layer)

    def _upsample(self, x: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
        return resize(x, like.shape[2:], mode="bilinear", align_corners=self.align_corners)

    def _forward_feature(self, inputs: Sequence[torch.Tensor]) -> torch.Tensor:
        """The fused pyramid features, before ``cls_seg``."""
        inputs = self._transform_inputs(inputs)
        top = inputs[-1]
        laterals = [conv(x) for conv, x in zip(self.lateral_convs, inputs)]
        laterals.append(self.bottleneck(torch.cat([top, *self.psp_modules(top)], dim=1)))
        for i in range(len(laterals) - 1, 0, -1):  # top-down: add each coarser level to the next finer one
            laterals[i - 1] = laterals[i - 1] + self._upsample(laterals[i], laterals[i - 1])
        outs = [conv(x) for conv, x in zip(self.fpn_convs, laterals)] + [laterals[-1]]
        outs = [outs[0]] + [self._upsample(x, outs[0]) for x in outs[1:]]
        return self.fpn_bottleneck(torch.cat(outs, dim=1))

    def forward(self, inputs: Sequence[torch.Tensor]) -> torch.Tensor:
        return self.cls_seg(self._forward_feature(inputs))
