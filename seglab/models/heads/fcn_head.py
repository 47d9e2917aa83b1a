"""``FCNHead``: a stack of convs, optionally concatenated with its input, then ``conv_seg``.

The head of FCN (Long et al., 2015) as MMSegmentation 0.x builds it; also the usual auxiliary
head of PSPNet/DeepLab and the decode head of UNet. State-dict names: ``convs.N.conv``,
``convs.N.bn``, ``conv_cat`` (with ``concat_input``), ``conv_seg``.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import nn

from seglab.errors import ConfigError
from seglab.models.heads.decode_head import DEFAULT_LOSS, BaseDecodeHead
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
        num_classes: number of classes.
        out_channels: logit channels (see ``BaseDecodeHead``).
        threshold: probability threshold of a one-channel head.
        dropout_ratio: dropout before ``conv_seg``.
        conv_cfg: conv layer config.
        norm_cfg: norm layer config.
        act_cfg: activation config.
        in_index: which backbone output(s) the head reads.
        input_transform: ``None`` or ``'resize_concat'``.
        loss_decode: one loss config or a list of them.
        ignore_index: label value excluded from losses.
        sampler: pixel sampler config or ``None``.
        align_corners: ``align_corners`` of every resize in the head.
        init_cfg: accepted for 0.x compatibility.
    """

    def __init__(self, in_channels: int | Sequence[int], channels: int, *, num_convs: int = 2,
                 kernel_size: int = 3, concat_input: bool = True, dilation: int = 1,
                 num_classes: int, out_channels: int | None = None, threshold: float | None = None,
                 dropout_ratio: float = 0.1, conv_cfg: Mapping | None = None,
                 norm_cfg: Mapping | None = None, act_cfg: Mapping | None = {"type": "ReLU"},
                 in_index: int | Sequence[int] = -1, input_transform: str | None = None,
                 loss_decode: Mapping | Sequence[Mapping] = DEFAULT_LOSS, ignore_index: int = 255,
                 sampler: Mapping | None = None, align_corners: bool = False,
                 init_cfg: Any = None) -> None:
        if not isinstance(num_convs, int) or num_convs < 0:
            raise ConfigError(f"FCNHead num_convs must be an integer >= 0, got {num_convs!r}")
        if not isinstance(dilation, int) or dilation < 1:
            raise ConfigError(f"FCNHead dilation must be an integer >= 1, got {dilation!r}")
        super().__init__(in_channels, channels, num_classes=num_classes, out_channels=out_channels,
                         threshold=threshold, dropout_ratio=dropout_ratio, conv_cfg=conv_cfg,
                         norm_cfg=norm_cfg, act_cfg=act_cfg, in_index=in_index,
                         input_transform=input_transform, loss_decode=loss_decode,
                         ignore_index=ignore_index, sampler=sampler, align_corners=align_corners,
                         init_cfg=init_cfg)
        if not isinstance(self.in_channels, int):
            raise ConfigError("FCNHead reads one feature map: use input_transform=None or "
                              f"'resize_concat', not {input_transform!r}")
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
