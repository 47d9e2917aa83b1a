"""Layer resolvers and the conv-norm-act block every model is built from.

``norm_cfg`` / ``act_cfg`` / ``conv_cfg`` may be a dict, a type string or ``None``; each is
resolved by one function here. Module attribute names (``conv``, ``bn``, ``activate``) match
mmcv's ``ConvModule`` so MMSegmentation checkpoints load by name.
"""
from __future__ import annotations

import warnings
from collections.abc import Mapping
from typing import Any

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import nn

from seglab.errors import ConfigError
from seglab.registry import ACTIVATION_LAYERS, CONV_LAYERS, NORM_LAYERS

LayerCfg = Mapping[str, Any] | str | None


def _as_dict(cfg: LayerCfg) -> dict | None:
    if cfg is None:
        return None
    if isinstance(cfg, str):
        return {"type": cfg}
    if isinstance(cfg, Mapping):
        return dict(cfg)
    raise ConfigError(f"a layer config must be a dict, a type name or None, got {cfg!r}")


# ---------------------------------------------------------------- norm layers
_SYNC_BN_WARNED = False


def sync_batch_norm(num_features: int, eps: float = 1e-5, momentum: float = 0.1,
                    affine: bool = True, track_running_stats: bool = True) -> nn.Module:
    """SyncBN: real ``nn.SyncBatchNorm`` under distributed CUDA training, plain BatchNorm
    otherwise (SyncBatchNorm cannot run on CPU or outside a process group). Warns once."""
    if dist.is_available() and dist.is_initialized() and torch.cuda.is_available():
        return nn.SyncBatchNorm(num_features, eps, momentum, affine, track_running_stats)
    global _SYNC_BN_WARNED
    if not _SYNC_BN_WARNED:
        _SYNC_BN_WARNED = True
        warnings.warn("norm_cfg type 'SyncBN' needs distributed training on CUDA; using plain "
                      "BatchNorm2d (same parameters, statistics per process).", stacklevel=2)
    return nn.BatchNorm2d(num_features, eps, momentum, affine, track_running_stats)


def group_norm(num_features: int, num_groups: int, eps: float = 1e-5, affine: bool = True) -> nn.Module:
    return nn.GroupNorm(num_groups, num_features, eps, affine)


def layer_norm(num_features: int, eps: float = 1e-5, elementwise_affine: bool = True) -> nn.Module:
    return nn.LayerNorm(num_features, eps, elementwise_affine)


# name -> (factory, abbreviation used as the module's attribute name, like mmcv)
for _name, _factory in [("BN", nn.BatchNorm2d), ("BN1d", nn.BatchNorm1d), ("BN2d", nn.BatchNorm2d),
                        ("BN3d", nn.BatchNorm3d), ("SyncBN", sync_batch_norm), ("GN", group_norm),
                        ("LN", layer_norm), ("IN", nn.InstanceNorm2d), ("IN1d", nn.InstanceNorm1d),
                        ("IN2d", nn.InstanceNorm2d), ("IN3d", nn.InstanceNorm3d)]:
    NORM_LAYERS.register(_factory, name=_name)

_NORM_ABBR = {"BN": "bn", "SyncBN": "bn", "GN": "gn", "LN": "ln", "IN": "in"}


def norm_abbreviation(norm_type: str) -> str:
    for prefix, abbr in _NORM_ABBR.items():
        if norm_type.startswith(prefix):
            return abbr
    return "norm"


def build_norm_layer(cfg: LayerCfg, num_features: int, postfix: int | str = "") -> tuple[str, nn.Module]:
    """Resolve ``norm_cfg`` to ``(name, layer)``; name is e.g. ``'bn'`` or ``'bn1'`` (mmcv's).

    ``requires_grad`` (default True) freezes the layer's affine parameters when False.
    """
    cfg = _as_dict(cfg)
    if cfg is None:
        raise ConfigError("norm_cfg is None where a norm layer is required")
    requires_grad = cfg.pop("requires_grad", True)
    layer = NORM_LAYERS.build(cfg, key="norm_cfg", num_features=num_features)
    for p in layer.parameters():
        p.requires_grad = requires_grad
    return f"{norm_abbreviation(cfg['type'])}{postfix}", layer


def set_batch_norms_eval(module: nn.Module) -> None:
    """Put every BatchNorm under ``module`` in eval mode (``norm_eval``: frozen statistics)."""
    for m in module.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            m.eval()


def is_norm(module: nn.Module) -> bool:
    """True for every normalisation layer kind (for ``norm_decay_mult`` and ``norm_eval``)."""
    return isinstance(module, (nn.modules.batchnorm._BatchNorm, nn.GroupNorm, nn.LayerNorm,
                               nn.modules.instancenorm._InstanceNorm))


def init_convs_and_norms(module: nn.Module) -> None:
    """0.x's backbone init: Kaiming (fan_out, relu) for every Conv2d (bias 0), norms to weight 1,
    bias 0. Transposed convs keep torch's init, as in 0.x."""
    for m in module.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif is_norm(m) and getattr(m, "weight", None) is not None:
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)


# ---------------------------------------------------------- activation layers
for _cls in (nn.ReLU, nn.LeakyReLU, nn.PReLU, nn.ReLU6, nn.ELU, nn.GELU, nn.SiLU, nn.Sigmoid,
             nn.Tanh, nn.Hardswish, nn.Hardsigmoid, nn.Mish):
    ACTIVATION_LAYERS.register(_cls)
ACTIVATION_LAYERS.register(nn.SiLU, name="Swish")
ACTIVATION_LAYERS.register(nn.Hardswish, name="HSwish")
ACTIVATION_LAYERS.register(nn.Hardsigmoid, name="HSigmoid")

_INPLACE_ACTIVATIONS = ("ReLU", "LeakyReLU", "ReLU6", "ELU", "SiLU", "Swish", "Hardswish", "HSwish",
                        "Hardsigmoid", "HSigmoid", "Mish")


def build_activation_layer(cfg: LayerCfg, inplace: bool | None = None) -> nn.Module | None:
    """Resolve ``act_cfg`` to a layer (``None`` gives ``None``)."""
    cfg = _as_dict(cfg)
    if cfg is None:
        return None
    if inplace is not None and cfg.get("type") in _INPLACE_ACTIVATIONS:
        cfg.setdefault("inplace", inplace)
    return ACTIVATION_LAYERS.build(cfg, key="act_cfg")


# ---------------------------------------------------------------- conv layers
CONV_LAYERS.register(nn.Conv2d, name="Conv")
CONV_LAYERS.register(nn.Conv2d, name="Conv2d")
CONV_LAYERS.register(nn.Conv1d, name="Conv1d")
CONV_LAYERS.register(nn.Conv3d, name="Conv3d")
CONV_LAYERS.register(nn.ConvTranspose2d, name="deconv")


def build_conv_layer(cfg: LayerCfg, in_channels: int, out_channels: int, kernel_size: int | tuple,
                     **kwargs: Any) -> nn.Module:
    """Resolve ``conv_cfg`` (``None`` means a plain ``nn.Conv2d``) and build the conv."""
    cfg = _as_dict(cfg) or {"type": "Conv2d"}
    return CONV_LAYERS.build(cfg, key="conv_cfg", in_channels=in_channels, out_channels=out_channels,
                             kernel_size=kernel_size, **kwargs)


# ---------------------------------------------------------------- blocks
_PADDING_LAYERS = {"reflect": nn.ReflectionPad2d, "replicate": nn.ReplicationPad2d}


class ConvModule(nn.Module):
    """Conv, then norm, then activation (mmcv's ``ConvModule``; same attribute names).

    Besides its layers (``conv``, the norm under ``norm_name`` such as ``bn``, ``activate``) it
    exposes mmcv's attributes, which 0.x heads read: ``in_channels``, ``out_channels``,
    ``kernel_size``, ``stride``, ``padding``, ``dilation``, ``groups`` (the conv's),
    ``with_norm``, ``with_bias``, ``with_activation``, ``with_explicit_padding``, ``norm``.

    Args:
        in_channels: input channels.
        out_channels: output channels.
        kernel_size: conv kernel size.
        stride: conv stride.
        padding: conv padding.
        dilation: conv dilation.
        groups: conv groups.
        bias: conv bias; ``'auto'`` adds one only when there is no norm layer.
        conv_cfg: conv layer config (``None``: ``nn.Conv2d``).
        norm_cfg: norm layer config (``None``: no norm).
        act_cfg: activation config (``None``: no activation).
        inplace: in-place activation.
        with_spectral_norm: wrap the conv in spectral normalisation.
        padding_mode: ``'zeros'`` or ``'circular'`` (done by the conv), ``'reflect'`` or
            ``'replicate'`` (a ``padding_layer`` before an unpadded conv, as mmcv).
        order: order of ``'conv'``, ``'norm'``, ``'act'``.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int | tuple, stride: int | tuple = 1,
                 padding: int | tuple = 0, dilation: int | tuple = 1, groups: int = 1,
                 bias: bool | str = "auto", conv_cfg: LayerCfg = None, norm_cfg: LayerCfg = None,
                 act_cfg: LayerCfg = "ReLU", inplace: bool = True, with_spectral_norm: bool = False,
                 padding_mode: str = "zeros", order: tuple[str, str, str] = ("conv", "norm", "act")) -> None:
        super().__init__()
        if sorted(order) != ["act", "conv", "norm"]:
            raise ConfigError(f"ConvModule order must be a permutation of conv, norm, act; got {order}")
        if padding_mode not in ("zeros", "circular", *_PADDING_LAYERS):
            raise ConfigError(f"ConvModule padding_mode must be 'zeros', 'circular', 'reflect' or 'replicate', "
                              f"got {padding_mode!r}")
        self.conv_cfg, self.norm_cfg, self.act_cfg = conv_cfg, norm_cfg, act_cfg
        self.inplace = inplace
        self.with_spectral_norm = with_spectral_norm
        self.order = tuple(order)
        self.with_norm = norm_cfg is not None
        self.with_activation = act_cfg is not None
        self.with_bias = (not self.with_norm) if bias == "auto" else bool(bias)
        self.with_explicit_padding = padding_mode in _PADDING_LAYERS
        self.conv = self._build_conv(conv_cfg, in_channels, out_channels, kernel_size, stride, padding,
                                     dilation, groups, padding_mode)
        for name in ("in_channels", "out_channels", "kernel_size", "stride", "padding", "dilation", "groups"):
            setattr(self, name, getattr(self.conv, name))
        if with_spectral_norm:
            self.conv = nn.utils.spectral_norm(self.conv)
        self.norm_name = None
        if self.with_norm:
            norm_channels = out_channels if order.index("norm") > order.index("conv") else in_channels
            self.norm_name, norm = build_norm_layer(norm_cfg, norm_channels)
            self.add_module(self.norm_name, norm)
        self.activate = build_activation_layer(act_cfg, inplace=inplace)
        self.init_weights()

    def _build_conv(self, conv_cfg: LayerCfg, in_channels: int, out_channels: int, kernel_size: int | tuple,
                    stride: int | tuple, padding: int | tuple, dilation: int | tuple, groups: int,
                    padding_mode: str) -> nn.Module:
        """The conv; reflect/replicate padding is a ``padding_layer`` before an unpadded conv (mmcv's layout)."""
        extra = {}
        if self.with_explicit_padding:
            self.padding_layer = _PADDING_LAYERS[padding_mode](padding)
            padding = 0
        elif padding_mode != "zeros":  # only then: a custom conv_cfg layer may not take the key
            extra["padding_mode"] = padding_mode
        return build_conv_layer(conv_cfg, in_channels, out_channels, kernel_size, stride=stride, padding=padding,
                                dilation=dilation, groups=groups, bias=self.with_bias, **extra)

    @property
    def norm(self) -> nn.Module | None:
        """The norm layer (stored under ``norm_name``), or None."""
        return getattr(self, self.norm_name) if self.norm_name else None

    def init_weights(self) -> None:
        """mmcv's init: Kaiming normal (fan_out; leaky_relu with the act's slope) for the conv, bias 0;
        norm weight 1, bias 0."""
        act = _as_dict(self.act_cfg) or {}
        if act.get("type") == "LeakyReLU":
            nn.init.kaiming_normal_(self.conv.weight, a=act.get("negative_slope", 0.01),
                                    mode="fan_out", nonlinearity="leaky_relu")
        else:
            nn.init.kaiming_normal_(self.conv.weight, mode="fan_out", nonlinearity="relu")
        if self.conv.bias is not None:
            nn.init.zeros_(self.conv.bias)
        norm = self.norm
        if norm is not None and getattr(norm, "weight", None) is not None:
            nn.init.ones_(norm.weight)
            nn.init.zeros_(norm.bias)

    def forward(self, x: torch.Tensor, activate: bool = True, norm: bool = True) -> torch.Tensor:
        """The layers in ``order``; ``activate=False`` / ``norm=False`` skip those steps (mmcv's)."""
        for step in self.order:
            if step == "conv":
                if self.with_explicit_padding:
                    x = self.padding_layer(x)
                x = self.conv(x)
            elif step == "norm" and norm and self.norm_name:
                x = self.norm(x)
            elif step == "act" and activate and self.activate is not None:
                x = self.activate(x)
        return x


class DepthwiseSeparableConvModule(nn.Module):
    """Depthwise ConvModule then pointwise (1x1) ConvModule, as mmcv names them.

    Args:
        in_channels: input channels.
        out_channels: output channels.
        kernel_size: depthwise kernel size.
        stride: depthwise stride.
        padding: depthwise padding.
        dilation: depthwise dilation.
        norm_cfg: norm config of both convs.
        act_cfg: activation config of both convs.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int | tuple, stride: int = 1,
                 padding: int = 0, dilation: int = 1, norm_cfg: LayerCfg = None,
                 act_cfg: LayerCfg = "ReLU") -> None:
        super().__init__()
        self.depthwise_conv = ConvModule(in_channels, in_channels, kernel_size, stride=stride,
                                         padding=padding, dilation=dilation, groups=in_channels,
                                         norm_cfg=norm_cfg, act_cfg=act_cfg)
        self.pointwise_conv = ConvModule(in_channels, out_channels, 1, norm_cfg=norm_cfg, act_cfg=act_cfg)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pointwise_conv(self.depthwise_conv(x))


def class_ids(logits: torch.Tensor) -> torch.Tensor:
    """Index of the largest channel per pixel of (N, C, H, W) logits or probabilities.

    Same result as ``argmax(dim=1)``, ties (first index) and NaN included, but ``max(dim=1)``
    runs 3-20x faster on CPU, where argmax over a non-innermost dimension is slow.
    """
    return logits.max(dim=1).indices


def resize(x: torch.Tensor, size: tuple[int, int] | torch.Size | None = None,
           scale_factor: float | None = None, mode: str = "nearest",
           align_corners: bool | None = None, warning: bool = True) -> torch.Tensor:
    """``F.interpolate`` with 0.x's signature (``mmseg.ops.resize``, default mode ``'nearest'``).

    ``align_corners`` is passed only where the mode takes it (0.x passes it on and PyTorch then
    raises for ``'nearest'``). With ``warning``, upsampling with ``align_corners=True`` to a size
    that is not ``n * (input - 1) + 1`` warns, as in 0.x: the corners then do not line up on pixels.
    """
    if mode in ("nearest", "area", "nearest-exact"):
        align_corners = None
    if size is not None:
        size = tuple(int(s) for s in size)
        if warning and align_corners:
            _warn_misaligned_corners(tuple(int(s) for s in x.shape[2:]), size)
    return F.interpolate(x, size=size, scale_factor=scale_factor, mode=mode, align_corners=align_corners)


def _warn_misaligned_corners(in_size: tuple[int, ...], out_size: tuple[int, ...]) -> None:
    upsampled = any(o > i for i, o in zip(in_size, out_size))
    misaligned = all(o > 1 and i > 1 and (o - 1) % (i - 1) for i, o in zip(in_size, out_size))
    if upsampled and misaligned:
        warnings.warn(f"When align_corners=True, the output would be more aligned if input size {in_size} is "
                      f"`x+1` and out size {out_size} is `nx+1`", stacklevel=3)


# ---------------------------------------------------------------- transformer pieces
def corner_pad(x: torch.Tensor, kernel_size: int, stride: int) -> torch.Tensor:
    """Zero-pad an (N, C, H, W) map at the bottom and right so that a ``kernel_size`` window moved
    by ``stride`` covers every pixel (MMSegmentation's ``AdaptivePadding(padding='corner')``)."""
    h, w = x.shape[-2:]
    pad_h = max((-(-h // stride) - 1) * stride + kernel_size - h, 0)
    pad_w = max((-(-w // stride) - 1) * stride + kernel_size - w, 0)
    return F.pad(x, (0, pad_w, 0, pad_h)) if pad_h or pad_w else x


def tokens_to_map(x: torch.Tensor, hw_shape: tuple[int, int]) -> torch.Tensor:
    """(N, H*W, C) tokens to an (N, C, H, W) feature map."""
    return x.transpose(1, 2).reshape(x.shape[0], x.shape[2], *hw_shape)


def map_to_tokens(x: torch.Tensor) -> torch.Tensor:
    """(N, C, H, W) feature map to (N, H*W, C) tokens."""
    return x.flatten(2).transpose(1, 2)


def drop_path_rates(max_rate: float, num_layers: int) -> list[float]:
    """Stochastic-depth rates growing linearly from 0 to ``max_rate`` over ``num_layers`` layers
    (``torch.linspace``'s values, computed without a tensor so a model builds on any device)."""
    if num_layers == 1:
        return [0.0]
    return [max_rate * i / (num_layers - 1) for i in range(num_layers)]


class DropPath(nn.Module):
    """Stochastic depth (Huang et al., 2016) on a residual branch.

    In training each sample's whole branch output is zeroed with probability ``drop_prob`` and
    the kept ones are scaled by ``1 / (1 - drop_prob)``, so the expectation is unchanged. In eval
    mode (and with ``drop_prob == 0``) it is the identity.

    Args:
        drop_prob: probability of dropping a sample's branch.
    """

    def __init__(self, drop_prob: float = 0.0) -> None:
        super().__init__()
        if not 0.0 <= drop_prob < 1.0:
            raise ConfigError(f"drop path rate must be in [0, 1), got {drop_prob!r}")
        self.drop_prob = float(drop_prob)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.drop_prob == 0.0:
            return x
        keep = 1.0 - self.drop_prob
        mask = x.new_empty((x.shape[0],) + (1,) * (x.ndim - 1)).bernoulli_(keep)
        return x * (mask / keep)

    def extra_repr(self) -> str:
        return f"drop_prob={self.drop_prob}"


class PatchEmbed(nn.Module):
    """Image (or feature map) to patch tokens: a strided conv ``projection``, then an optional
    ``norm`` over channels (MMSegmentation's ``PatchEmbed``, same attribute names).

    ``forward(x)`` returns ``(tokens (N, H*W, C), (H, W))``.

    Args:
        in_channels: input channels.
        embed_dims: output channels (token width).
        kernel_size: conv kernel size.
        stride: conv stride (``None``: ``kernel_size``, non-overlapping patches).
        padding: conv padding, or ``'corner'`` to zero-pad the bottom and right just enough to
            cover the whole input (Swin); MiT's overlapping embedding uses ``kernel_size // 2``.
        norm_cfg: norm layer config over channels (e.g. ``dict(type='LN')``), or ``None``.
    """

    def __init__(self, in_channels: int, embed_dims: int, kernel_size: int, stride: int | None = None,
                 padding: int | str = "corner", norm_cfg: LayerCfg = None) -> None:
        super().__init__()
        stride = kernel_size if stride is None else stride
        if isinstance(padding, str) and padding != "corner":
            raise ConfigError(f"PatchEmbed padding must be an int or 'corner', got {padding!r}")
        self.kernel_size, self.stride = kernel_size, stride
        self.corner_padding = padding == "corner"
        self.projection = nn.Conv2d(in_channels, embed_dims, kernel_size, stride=stride,
                                    padding=0 if self.corner_padding else padding)
        self.norm = build_norm_layer(norm_cfg, embed_dims)[1] if norm_cfg is not None else None

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, tuple[int, int]]:
        if self.corner_padding:
            x = corner_pad(x, self.kernel_size, self.stride)
        x = self.projection(x)
        hw_shape = (x.shape[2], x.shape[3])
        x = map_to_tokens(x)
        if self.norm is not None:
            x = self.norm(x)
        return x, hw_shape
