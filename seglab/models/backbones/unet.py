"""UNet backbone (Ronneberger et al., 2015) as MMSegmentation 0.x builds it, with its blocks and upsample layers.

Reading order: ``Upsample`` (a parameter-free resize), the upsample layers registered in
``UPSAMPLE_LAYERS`` (``InterpConv``: resize then 1x1 ConvModule; ``DeconvModule``: transposed
conv, norm, activation), the blocks (``BasicConvBlock``: a stack of 3x3 ConvModules;
``UpConvBlock``: upsample, concatenate the skip, BasicConvBlock), then ``UNet``.

State-dict names equal 0.x's: ``encoder.I.K`` (K is 1 after the MaxPool that opens every
downsampling stage), ``decoder.I.upsample.interp_upsample.1.conv``, ``decoder.I.conv_block.convs.N``.
``forward`` returns the decoder outputs coarsest first: the bottleneck, then each decoder stage.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch
import torch.utils.checkpoint as cp
from torch import nn

from seglab.models.weights import StateDict
from seglab.errors import ConfigError
from seglab.models.backbones.pretrained import pretrained_source, reject_unsupported, strip_segmentor_prefix
from seglab.models.layers import (ConvModule, build_activation_layer, build_norm_layer, init_convs_and_norms,
                                  resize, set_batch_norms_eval)
from seglab.registry import MODELS, UPSAMPLE_LAYERS, current_build_path

DEFAULT_NORM = {"type": "BN"}
DEFAULT_ACT = {"type": "ReLU"}
DEFAULT_INTERP = {"scale_factor": 2, "mode": "bilinear", "align_corners": False}


def _run(module: nn.Module, x: torch.Tensor, with_cp: bool) -> torch.Tensor:
    """``module(x)``, recomputed in backward when ``with_cp`` (saves activation memory)."""
    if with_cp and x.requires_grad:
        return cp.checkpoint(module, x, use_reentrant=False)
    return module(x)


# ----------------------------------------------------------------------- upsample layers
class Upsample(nn.Module):
    """Resize to ``size`` or by ``scale_factor`` (0.x's ``mmseg.ops.Upsample``; no parameters).

    Args:
        size: output size, or ``None`` to scale.
        scale_factor: multiplier of the input size when ``size`` is ``None``.
        mode: interpolation mode.
        align_corners: ``align_corners`` of the interpolation (ignored by ``'nearest'``).
    """

    def __init__(self, size: Sequence[int] | None = None, scale_factor: float | None = None,
                 mode: str = "nearest", align_corners: bool | None = None) -> None:
        super().__init__()
        if size is None and scale_factor is None:
            raise ConfigError("Upsample needs size or scale_factor")
        self.size = tuple(size) if size is not None else None
        self.scale_factor = float(scale_factor) if scale_factor is not None else None
        self.mode = mode
        self.align_corners = align_corners

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # 0.x rounds the scaled size down itself rather than passing scale_factor on.
        size = self.size or tuple(int(s * self.scale_factor) for s in x.shape[-2:])
        return resize(x, size, mode=self.mode, align_corners=self.align_corners)


@UPSAMPLE_LAYERS.register
class InterpConv(nn.Module):
    """Interpolate, then a ConvModule (or the reverse with ``conv_first``); 0.x's default UNet upsampler.

    Args:
        in_channels: input channels.
        out_channels: output channels.
        with_cp: gradient checkpointing.
        norm_cfg: norm config of the conv.
        act_cfg: activation config of the conv.
        conv_cfg: conv layer config.
        conv_first: conv before the interpolation.
        kernel_size: conv kernel size.
        stride: conv stride.
        padding: conv padding.
        upsample_cfg: ``Upsample`` arguments (``size``/``scale_factor``, ``mode``, ``align_corners``).
    """

    def __init__(self, in_channels: int, out_channels: int, with_cp: bool = False,
                 norm_cfg: Mapping | None = DEFAULT_NORM, act_cfg: Mapping | None = DEFAULT_ACT, *,
                 conv_cfg: Mapping | None = None, conv_first: bool = False, kernel_size: int = 1,
                 stride: int = 1, padding: int = 0, upsample_cfg: Mapping = DEFAULT_INTERP) -> None:
        super().__init__()
        self.with_cp = with_cp
        conv = ConvModule(in_channels, out_channels, kernel_size, stride=stride, padding=padding,
                          conv_cfg=conv_cfg, norm_cfg=norm_cfg, act_cfg=act_cfg)
        unknown = sorted(set(upsample_cfg) - {"size", "scale_factor", "mode", "align_corners"})
        if unknown:
            raise ConfigError(f"InterpConv upsample_cfg does not take {', '.join(unknown)}; it takes size, "
                              f"scale_factor, mode, align_corners")
        upsample = Upsample(**upsample_cfg)
        self.interp_upsample = nn.Sequential(conv, upsample) if conv_first else nn.Sequential(upsample, conv)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return _run(self.interp_upsample, x, self.with_cp)


@UPSAMPLE_LAYERS.register
class DeconvModule(nn.Module):
    """Transposed conv, norm, activation (``deconv_upsamping.0/1/2``, 0.x's spelling kept for checkpoints).

    Args:
        in_channels: input channels.
        out_channels: output channels.
        with_cp: gradient checkpointing.
        norm_cfg: norm config.
        act_cfg: activation config.
        kernel_size: transposed-conv kernel size.
        scale_factor: upsampling factor (the transposed conv's stride).
    """

    def __init__(self, in_channels: int, out_channels: int, with_cp: bool = False,
                 norm_cfg: Mapping = DEFAULT_NORM, act_cfg: Mapping | None = DEFAULT_ACT, *,
                 kernel_size: int = 4, scale_factor: int = 2) -> None:
        super().__init__()
        if kernel_size < scale_factor or (kernel_size - scale_factor) % 2:
            raise ConfigError(f"DeconvModule: kernel_size - scale_factor must be even and >= 0 so the output is "
                              f"exactly scale_factor times larger; got kernel_size={kernel_size}, "
                              f"scale_factor={scale_factor}")
        self.with_cp = with_cp
        deconv = nn.ConvTranspose2d(in_channels, out_channels, kernel_size, stride=scale_factor,
                                    padding=(kernel_size - scale_factor) // 2)
        layers = [deconv, build_norm_layer(norm_cfg, out_channels)[1]]
        activation = build_activation_layer(act_cfg, inplace=True)
        if activation is not None:
            layers.append(activation)
        self.deconv_upsamping = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return _run(self.deconv_upsamping, x, self.with_cp)


# ------------------------------------------------------------------------------- blocks
class BasicConvBlock(nn.Module):
    """``num_convs`` 3x3 ConvModules (``convs.N``); the first has the stride, the others the dilation.

    Args:
        in_channels: input channels.
        out_channels: output channels of every conv.
        num_convs: number of convs.
        stride: stride of the first conv.
        dilation: dilation (and padding) of every conv but the first.
        with_cp: gradient checkpointing.
        conv_cfg: conv layer config.
        norm_cfg: norm config.
        act_cfg: activation config.
    """

    def __init__(self, in_channels: int, out_channels: int, num_convs: int = 2, stride: int = 1,
                 dilation: int = 1, with_cp: bool = False, conv_cfg: Mapping | None = None,
                 norm_cfg: Mapping | None = DEFAULT_NORM, act_cfg: Mapping | None = DEFAULT_ACT) -> None:
        super().__init__()
        self.with_cp = with_cp
        self.convs = nn.Sequential(*(
            ConvModule(in_channels if i == 0 else out_channels, out_channels, 3,
                       stride=stride if i == 0 else 1, dilation=1 if i == 0 else dilation,
                       padding=1 if i == 0 else dilation, conv_cfg=conv_cfg, norm_cfg=norm_cfg, act_cfg=act_cfg)
            for i in range(num_convs)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return _run(self.convs, x, self.with_cp)


class UpConvBlock(nn.Module):
    """One decoder stage: upsample the deeper map to ``skip_channels``, concatenate the skip, convs.

    Args:
        in_channels: channels of the deeper (coarser) input.
        skip_channels: channels of the skip connection (and of the upsampled map).
        out_channels: output channels.
        num_convs: convs of the ``conv_block``.
        stride: stride of the first conv of the ``conv_block``.
        dilation: dilation of the ``conv_block``.
        with_cp: gradient checkpointing.
        conv_cfg: conv layer config.
        norm_cfg: norm config.
        act_cfg: activation config.
        upsample_cfg: an ``UPSAMPLE_LAYERS`` config, or ``None`` for a 1x1 ConvModule (the stage
            did not downsample).
    """

    def __init__(self, in_channels: int, skip_channels: int, out_channels: int, num_convs: int = 2,
                 stride: int = 1, dilation: int = 1, with_cp: bool = False, conv_cfg: Mapping | None = None,
                 norm_cfg: Mapping | None = DEFAULT_NORM, act_cfg: Mapping | None = DEFAULT_ACT,
                 upsample_cfg: Mapping | None = {"type": "InterpConv"}) -> None:
        super().__init__()
        self.conv_block = BasicConvBlock(2 * skip_channels, out_channels, num_convs, stride=stride,
                                         dilation=dilation, with_cp=with_cp, conv_cfg=conv_cfg,
                                         norm_cfg=norm_cfg, act_cfg=act_cfg)
        if upsample_cfg is not None:
            self.upsample = UPSAMPLE_LAYERS.build(upsample_cfg, key="upsample_cfg", in_channels=in_channels,
                                                  out_channels=skip_channels, with_cp=with_cp,
                                                  norm_cfg=norm_cfg, act_cfg=act_cfg)
        else:
            self.upsample = ConvModule(in_channels, skip_channels, 1, conv_cfg=conv_cfg, norm_cfg=norm_cfg,
                                       act_cfg=act_cfg)

    def forward(self, skip: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        return self.conv_block(torch.cat([skip, self.upsample(x)], dim=1))


# --------------------------------------------------------------------------------- UNet
@MODELS.register
class UNet(nn.Module):
    """UNet backbone; ``forward(x)`` returns ``num_stages`` decoder maps, coarsest first.

    Stage ``i > 0`` of the encoder halves the resolution with a MaxPool when ``downsamples[i-1]``
    (and ``strides[i] == 1``) or with its first conv when ``strides[i] == 2``; the input size must
    be divisible by the product of these factors.

    Args:
        in_channels: input image channels.
        base_channels: channels of the first stage (doubled per stage).
        num_stages: encoder stages.
        strides: stride of the first conv of each encoder stage (1 or 2).
        enc_num_convs: convs per encoder stage.
        dec_num_convs: convs per decoder stage (``num_stages - 1``).
        downsamples: whether encoder stage ``i + 1`` halves the resolution with a MaxPool.
        enc_dilations: dilation of each encoder stage.
        dec_dilations: dilation of each decoder stage.
        with_cp: gradient checkpointing in every block.
        conv_cfg: conv layer config.
        norm_cfg: norm config.
        act_cfg: activation config.
        upsample_cfg: decoder upsample layer: ``dict(type='InterpConv')`` or ``dict(type='DeconvModule')``
            with that layer's keyword arguments.
        norm_eval: keep every BatchNorm in eval mode while training.
        dcn: only ``None`` is supported.
        plugins: only ``None`` is supported.
        pretrained: checkpoint path loaded by ``init_weights()`` (MMSegmentation layout).
        init_cfg: ``dict(type='Pretrained', checkpoint=PATH, prefix=None)``, the alternative to
            ``pretrained``.
    """

    def __init__(self, in_channels: int = 3, base_channels: int = 64, num_stages: int = 5,
                 strides: Sequence[int] = (1, 1, 1, 1, 1), enc_num_convs: Sequence[int] = (2, 2, 2, 2, 2),
                 dec_num_convs: Sequence[int] = (2, 2, 2, 2),
                 downsamples: Sequence[bool] = (True, True, True, True),
                 enc_dilations: Sequence[int] = (1, 1, 1, 1, 1), dec_dilations: Sequence[int] = (1, 1, 1, 1),
                 with_cp: bool = False, conv_cfg: Mapping | None = None, norm_cfg: Mapping | None = DEFAULT_NORM,
                 act_cfg: Mapping | None = DEFAULT_ACT, upsample_cfg: Mapping | None = {"type": "InterpConv"},
                 norm_eval: bool = False, dcn: Mapping | None = None, plugins: Sequence[Mapping] | None = None,
                 pretrained: str | None = None, init_cfg: Mapping | None = None) -> None:
        super().__init__()
        where = current_build_path() or type(self).__name__
        reject_unsupported(where, dcn, plugins)
        self.pretrained = pretrained_source(pretrained, init_cfg, type(self).__name__)
        for key, values, expected in (("strides", strides, num_stages), ("enc_num_convs", enc_num_convs, num_stages),
                                      ("enc_dilations", enc_dilations, num_stages),
                                      ("dec_num_convs", dec_num_convs, num_stages - 1),
                                      ("downsamples", downsamples, num_stages - 1),
                                      ("dec_dilations", dec_dilations, num_stages - 1)):
            if len(values) != expected:
                raise ConfigError(f"{where}.{key}={tuple(values)} needs {expected} entries "
                                  f"(num_stages={num_stages})")
        if any(s not in (1, 2) for s in strides):
            raise ConfigError(f"{where}.strides={tuple(strides)}: each stride must be 1 or 2")
        self.num_stages = num_stages
        self.strides = tuple(strides)
        self.downsamples = tuple(downsamples)
        self.norm_eval = norm_eval
        self.base_channels = base_channels
        self.encoder = nn.ModuleList()
        self.decoder = nn.ModuleList()
        block_cfg: dict[str, Any] = dict(with_cp=with_cp, conv_cfg=conv_cfg, norm_cfg=norm_cfg, act_cfg=act_cfg)
        for i in range(num_stages):
            channels = base_channels * 2**i
            stage: list[nn.Module] = []
            if i > 0:
                if strides[i] == 1 and downsamples[i - 1]:
                    stage.append(nn.MaxPool2d(kernel_size=2))
                upsamples = strides[i] != 1 or downsamples[i - 1]
                self.decoder.append(UpConvBlock(
                    channels, channels // 2, channels // 2, dec_num_convs[i - 1], dilation=dec_dilations[i - 1],
                    upsample_cfg=upsample_cfg if upsamples else None, **block_cfg))
            stage.append(BasicConvBlock(in_channels, channels, enc_num_convs[i], stride=strides[i],
                                        dilation=enc_dilations[i], **block_cfg))
            self.encoder.append(nn.Sequential(*stage))
            in_channels = channels
        self._init_default()

    @property
    def downsample_rate(self) -> int:
        """Total downsampling between the input and the coarsest map."""
        rate = 1
        for i in range(1, self.num_stages):
            if self.strides[i] == 2 or self.downsamples[i - 1]:
                rate *= 2
        return rate

    def _init_default(self) -> None:
        """0.x's init: Kaiming (fan_out, relu) for Conv2d, norms to 1/0 (transposed convs keep torch's)."""
        init_convs_and_norms(self)

    def init_weights(self) -> None:
        """Reset to the default init, then load ``pretrained`` if set."""
        self._init_default()
        if self.pretrained is not None:
            self.pretrained.load_into(self, unet_key_map)

    def _check_input_divisible(self, x: torch.Tensor) -> None:
        h, w = x.shape[-2:]
        rate = self.downsample_rate
        if h % rate or w % rate:
            raise ConfigError(
                f"UNet input size {(h, w)} is not divisible by {rate}, the total downsampling of "
                f"num_stages={self.num_stages}, strides={self.strides}, downsamples={self.downsamples}: "
                f"use inputs whose height and width are multiples of {rate} (e.g. crop_size, or "
                f"test_cfg mode='slide' with crop_size and stride multiples of {rate})")

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        self._check_input_divisible(x)
        skips = []
        for stage in self.encoder:
            x = stage(x)
            skips.append(x)
        outs = [x]
        for i in reversed(range(len(self.decoder))):
            x = self.decoder[i](skips[i], x)
            outs.append(x)
        return tuple(outs)

    def train(self, mode: bool = True) -> UNet:
        """Switch mode, keeping every BatchNorm in eval under ``norm_eval``."""
        super().train(mode)
        if mode and self.norm_eval:
            set_batch_norms_eval(self)
        return self


def unet_key_map(state: StateDict) -> StateDict:
    """Pretrained UNet keys to seglab's: MMSegmentation's names are ours; a whole-segmentor
    checkpoint gives its ``backbone.*`` entries. The only key mapping of this family."""
    return strip_segmentor_prefix(state)
