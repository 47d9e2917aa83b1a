"""``FCNHead``: a stack of convs, optionally concatenated with its input, then ``conv_seg``.

The head of FCN (Long et al., 2015) as MMSegmentation 0.x builds it; also the usual auxiliary
head of PSPNet/DeepLab and the decode head of UNet. State-dict names: ``convs.N.conv``,
``convs.N.bn``, ``conv_cat`` (with ``concat_input``), ``conv_seg``.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from seglab.errors import ConfigError
from seglab.models.heads.decode_head import BaseDecodeHead
from seglab.models.layers import ConvModule
from seglab.registry import MODELS


@MODELS.register
class FCNHead(BaseDecodeHead):
    """Fully convolutional head.

    Args:
        in_channels: input channels (a list with ``input_transform='resize_concat'``).
        channels: channels of every conv of the head.
        num_convs: number of convs; 0 passes the input through (then ``in_channels`` must
            equal ``channels``).
        kernel_size: kernel size of the convs and of ``conv_cat``.
        concat_input: concatenate the input with the convs' output and fuse them with
            ``conv_cat``.
        dilation: dilation of the convs (not of ``conv_cat``, as in 0.x).
        **kwargs: the arguments of ``BaseDecodeHead`` (``num_classes``, ``loss_decode``,
            ``sampler``, ...).
    """

    def __init__(self, in_channels: int | Sequence[int], channels: int, *, num_convs: int = 2,
                 kernel_size: int = 3, concat_input: bool = True, dilation: int = 1, **kwargs: Any) -> None:
        if not isinstance(num_convs, int) or num_convs < 0:
            raise ConfigError(f"FCNHead num_convs must be an integer >= 0, got {num_convs!r}")
        if not isinstance(dilation, int) or dilation < 1:
            raise ConfigError(f"FCNHead dilation must be an integer >= 1, got {dilation!r}")
        super().__init__(in_channels, channels, **kwargs)
        self._require_one_input()
        self.num_convs = num_convs
        self.kernel_size = kernel_size
        self.concat_input = concat_input
        if num_convs == 0:
            if self.in_channels != channels:
                raise ConfigError(f"FCNHead with num_convs=0 passes its input through, so in_channels "
                                  f"({self.in_channels}) must equal channels ({channels})")
            self.convs = nn.Identity()
        else:
            self.convs = nn.Sequential(*(
                self._conv(self.in_channels if i == 0 else channels, channels, kernel_size, dilation)
                for i in range(num_convs)))
        if concat_input:
            self.conv_cat = self._conv(self.in_channels + channels, channels, kernel_size, 1)

    def _conv(self, in_channels: int, out_channels: int, kernel_size: int, dilation: int) -> ConvModule:
        return ConvModule(in_channels, out_channels, kernel_size, padding=(kernel_size // 2) * dilation,
                          dilation=dilation, conv_cfg=self.conv_cfg, norm_cfg=self.norm_cfg,
                          act_cfg=self.act_cfg)

    def _forward_feature(self, inputs: Sequence[torch.Tensor]) -> torch.Tensor:
        """Features before ``cls_seg`` (used by heads that build on FCN)."""
        x = self._transform_inputs(inputs)
        feats = self.convs(x)
        if self.concat_input:
            feats = self.conv_cat(torch.cat([x, feats], dim=1))
        return feats

    def forward(self, inputs: Sequence[torch.Tensor]) -> torch.Tensor:
        return self.cls_seg(self._forward_feature(inputs))
