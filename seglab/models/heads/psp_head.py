"""``PSPHead``: the pyramid pooling head of PSPNet (Zhao et al., 2017), as in MMSegmentation 0.x.

The input is average-pooled to each of ``pool_scales`` (a grid of s x s cells), reduced to
``channels`` by a 1x1 conv, upsampled back, concatenated after the input and fused by a 3x3
``bottleneck``. State-dict names: ``psp_modules.N.1`` (index 0 is the pooling layer),
``bottleneck``, ``conv_seg``.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import nn

from seglab.errors import ConfigError
from seglab.models.heads.decode_head import BaseDecodeHead
from seglab.models.layers import ConvModule, resize
from seglab.registry import MODELS


class PPM(nn.ModuleList):
    """Pyramid pooling module: one (AdaptiveAvgPool2d, 1x1 ConvModule) branch per scale.

    Args:
        pool_scales: output grid size of each branch's pooling.
        in_channels: input channels.
        channels: channels of each branch.
        conv_cfg: conv layer config.
        norm_cfg: norm layer config.
        act_cfg: activation config.
        align_corners: ``align_corners`` of the upsampling back to the input size.
    """

    def __init__(self, pool_scales: Sequence[int], in_channels: int, channels: int,
                 conv_cfg: Mapping | None, norm_cfg: Mapping | None, act_cfg: Mapping | None,
                 align_corners: bool) -> None:
        super().__init__(
            nn.Sequential(nn.AdaptiveAvgPool2d(scale),
                          ConvModule(in_channels, channels, 1, conv_cfg=conv_cfg, norm_cfg=norm_cfg,
                                     act_cfg=act_cfg))
            for scale in pool_scales)
        self.align_corners = align_corners

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Each branch's output, upsampled (bilinear) to the size of ``x``."""
        return [resize(branch(x), x.shape[2:], mode="bilinear", align_corners=self.align_corners)
                for branch in self]


def check_pool_scales(pool_scales: Sequence[int], owner: str) -> tuple[int, ...]:
    """``pool_scales`` as a tuple; a ``ConfigError`` naming ``owner`` unless it is a non-empty list of sizes."""
    if not isinstance(pool_scales, (list, tuple)) or not pool_scales:
        raise ConfigError(f"{owner} pool_scales must be a non-empty list or tuple of grid sizes, got {pool_scales!r}")
    return tuple(pool_scales)


@MODELS.register
class PSPHead(BaseDecodeHead):
    """Pyramid scene parsing head.

    Args:
        in_channels: input channels (a list with ``input_transform='resize_concat'``).
        channels: channels of each pooling branch and of the bottleneck.
        pool_scales: grid sizes of the pooling branches.
        **kwargs: the arguments of ``BaseDecodeHead`` (``num_classes``, ``loss_decode``,
            ``sampler``, ...).
    """

    def __init__(self, in_channels: int | Sequence[int], channels: int, *,
                 pool_scales: Sequence[int] = (1, 2, 3, 6), **kwargs: Any) -> None:
        pool_scales = check_pool_scales(pool_scales, type(self).__name__)
        super().__init__(in_channels, channels, **kwargs)
        self._require_one_input()
        self.pool_scales = pool_scales
        self.psp_modules = PPM(self.pool_scales, self.in_channels, channels, self.conv_cfg, self.norm_cfg,
                               self.act_cfg, self.align_corners)
        self.bottleneck = ConvModule(self.in_channels + len(self.pool_scales) * channels, channels, 3,
                                     padding=1, conv_cfg=self.conv_cfg, norm_cfg=self.norm_cfg,
                                     act_cfg=self.act_cfg)

    def _forward_feature(self, inputs: Sequence[torch.Tensor]) -> torch.Tensor:
        x = self._transform_inputs(inputs)
        return self.bottleneck(torch.cat([x, *self.psp_modules(x)], dim=1))

    def forward(self, inputs: Sequence[torch.Tensor]) -> torch.Tensor:
        return self.cls_seg(self._forward_feature(inputs))
