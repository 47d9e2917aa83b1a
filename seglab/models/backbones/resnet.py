"""ResNet backbones (He et al., 2016) as MMSegmentation 0.x builds them: ``ResNet``, ``ResNetV1c``, ``ResNetV1d``.

Reading order: the two residual blocks, the stage builder, the ``ResNet`` class, the key mapping
for pretrained checkpoints, then the registered variants (which only set arguments):

- ``ResNetV1c``: the 7x7 stem conv replaced by three 3x3 convs (``deep_stem=True``).
- ``ResNetV1d``: V1c plus an average pool before each strided shortcut conv (``avg_down=True``).

Parameter and buffer names equal MMSegmentation's (``stem.N`` or ``conv1``/``bn1``, then
``layerI.J.convK``/``bnK``/``downsample.N``), so its checkpoints and torchvision's load by name.
Dilated stages (the ``-d8`` models) use ``strides=(1, 2, 1, 1)``, ``dilations=(1, 1, 2, 4)``;
``contract_dilation=True`` halves the dilation of the first block of each dilated stage.
"""
from __future__ import annotations

import inspect
import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import torch
import torch.utils.checkpoint as cp
from torch import nn

from seglab.models.weights import StateDict
from seglab.errors import ConfigError
from seglab.models.backbones.pretrained import pretrained_source, reject_unsupported, strip_segmentor_prefix
from seglab.models.layers import build_conv_layer, build_norm_layer, init_convs_and_norms, set_batch_norms_eval
from seglab.registry import MODELS, current_build_path

logger = logging.getLogger("seglab")

DEFAULT_NORM = {"type": "BN", "requires_grad": True}


# ---------------------------------------------------------------------------- blocks
class _ResidualBlock(nn.Module):
    """What both blocks share: ``relu(_residual(x))``, recomputed in backward with ``with_cp``."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.with_cp and x.requires_grad:
            out = cp.checkpoint(self._residual, x, use_reentrant=False)
        else:
            out = self._residual(x)
        return self.relu(out)


class BasicBlock(_ResidualBlock):
    """Two 3x3 convs with a shortcut (ResNet-18/34).

    Args:
        inplanes: input channels.
        planes: output channels (``expansion`` is 1).
        stride: stride of the first conv.
        dilation: dilation of the first conv (the second is undilated, as in 0.x).
        downsample: shortcut projection, or ``None`` for identity.
        style: ``'pytorch'`` or ``'caffe'`` (no difference for this block).
        with_cp: recompute the block in backward (``torch.utils.checkpoint``) to save memory.
        conv_cfg: conv layer config.
        norm_cfg: norm layer config.
    """

    expansion = 1

    def __init__(self, inplanes: int, planes: int, stride: int = 1, dilation: int = 1,
                 downsample: nn.Module | None = None, style: str = "pytorch", with_cp: bool = False,
                 conv_cfg: Mapping | None = None, norm_cfg: Mapping = DEFAULT_NORM) -> None:
        super().__init__()
        self.norm1_name, norm1 = build_norm_layer(norm_cfg, planes, postfix=1)
        self.norm2_name, norm2 = build_norm_layer(norm_cfg, planes, postfix=2)
        self.conv1 = build_conv_layer(conv_cfg, inplanes, planes, 3, stride=stride, padding=dilation,
                                      dilation=dilation, bias=False)
        self.add_module(self.norm1_name, norm1)
        self.conv2 = build_conv_layer(conv_cfg, planes, planes, 3, padding=1, bias=False)
        self.add_module(self.norm2_name, norm2)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample
        self.with_cp = with_cp

    @property
    def last_norm(self) -> nn.Module:
        """The norm before the addition; zero-initialised when ``zero_init_residual``."""
        return getattr(self, self.norm2_name)

    def _residual(self, x: torch.Tensor) -> torch.Tensor:
        out = self.relu(getattr(self, self.norm1_name)(self.conv1(x)))
        out = getattr(self, self.norm2_name)(self.conv2(out))
        identity = x if self.downsample is None else self.downsample(x)
        return out + identity


class Bottleneck(_ResidualBlock):
    """1x1 reduce, 3x3, 1x1 expand (x4) with a shortcut (ResNet-50/101/152).

    Args:
        inplanes: input channels.
        planes: channels of the 3x3 conv; the output has ``planes * 4``.
        stride: stride of the block, on the 3x3 conv (``'pytorch'``) or the first 1x1 (``'caffe'``).
        dilation: dilation (and padding) of the 3x3 conv.
        downsample: shortcut projection, or ``None`` for identity.
        style: ``'pytorch'`` or ``'caffe'``.
        with_cp: recompute the block in backward (``torch.utils.checkpoint``) to save memory.
        conv_cfg: conv layer config.
        norm_cfg: norm layer config.
    """

    expansion = 4

    def __init__(self, inplanes: int, planes: int, stride: int = 1, dilation: int = 1,
                 downsample: nn.Module | None = None, style: str = "pytorch", with_cp: bool = False,
                 conv_cfg: Mapping | None = None, norm_cfg: Mapping = DEFAULT_NORM) -> None:
        super().__init__()
        conv1_stride, conv2_stride = (1, stride) if style == "pytorch" else (stride, 1)
        self.norm1_name, norm1 = build_norm_layer(norm_cfg, planes, postfix=1)
        self.norm2_name, norm2 = build_norm_layer(norm_cfg, planes, postfix=2)
        self.norm3_name, norm3 = build_norm_layer(norm_cfg, planes * self.expansion, postfix=3)
        self.conv1 = build_conv_layer(conv_cfg, inplanes, planes, 1, stride=conv1_stride, bias=False)
        self.add_module(self.norm1_name, norm1)
        self.conv2 = build_conv_layer(conv_cfg, planes, planes, 3, stride=conv2_stride, padding=dilation,
                                      dilation=dilation, bias=False)
        self.add_module(self.norm2_name, norm2)
        self.conv3 = build_conv_layer(conv_cfg, planes, planes * self.expansion, 1, bias=False)
        self.add_module(self.norm3_name, norm3)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample
        self.with_cp = with_cp

    @property
    def last_norm(self) -> nn.Module:
        """The norm before the addition; zero-initialised when ``zero_init_residual``."""
        return getattr(self, self.norm3_name)

    def _residual(self, x: torch.Tensor) -> torch.Tensor:
        out = self.relu(getattr(self, self.norm1_name)(self.conv1(x)))
        out = self.relu(getattr(self, self.norm2_name)(self.conv2(out)))
        out = getattr(self, self.norm3_name)(self.conv3(out))
        identity = x if self.downsample is None else self.downsample(x)
        return out + identity


def make_res_layer(block: type[BasicBlock] | type[Bottleneck], inplanes: int, planes: int, num_blocks: int, *,
                   stride: int, dilation: int, style: str, avg_down: bool, with_cp: bool,
                   conv_cfg: Mapping | None, norm_cfg: Mapping, multi_grid: Sequence[int] | None,
                   contract_dilation: bool) -> nn.Sequential:
    """One ResNet stage (0.x's ``ResLayer``): a projection shortcut where the shape changes.

    With ``avg_down`` the shortcut is AvgPool (``downsample.0``, even at stride 1, as 0.x) then
    a stride-1 conv and norm (``downsample.1/2``); otherwise a strided conv and norm (``.0/.1``).
    Block dilations: ``multi_grid`` when given, else ``dilation`` with the first block's halved
    under ``contract_dilation``.
    """
    out_channels = planes * block.expansion
    downsample = None
    if stride != 1 or inplanes != out_channels:
        shortcut: list[nn.Module] = []
        conv_stride = stride
        if avg_down:
            conv_stride = 1
            shortcut.append(nn.AvgPool2d(kernel_size=stride, stride=stride, ceil_mode=True,
                                         count_include_pad=False))
        shortcut.append(build_conv_layer(conv_cfg, inplanes, out_channels, 1, stride=conv_stride, bias=False))
        shortcut.append(build_norm_layer(norm_cfg, out_channels)[1])
        downsample = nn.Sequential(*shortcut)
    if multi_grid is not None:
        block_dilations = list(multi_grid)
    else:
        first = dilation // 2 if dilation > 1 and contract_dilation else dilation
        block_dilations = [first] + [dilation] * (num_blocks - 1)
    blocks = []
    for i, block_dilation in enumerate(block_dilations):
        blocks.append(block(inplanes if i == 0 else out_channels, planes, stride=stride if i == 0 else 1,
                            dilation=block_dilation, downsample=downsample if i == 0 else None,
                            style=style, with_cp=with_cp, conv_cfg=conv_cfg, norm_cfg=norm_cfg))
    return nn.Sequential(*blocks)


# ------------------------------------------------------------------------------ ResNet
ARCH_SETTINGS: dict[int, tuple[type[BasicBlock] | type[Bottleneck], tuple[int, ...]]] = {
    18: (BasicBlock, (2, 2, 2, 2)),
    34: (BasicBlock, (3, 4, 6, 3)),
    50: (Bottleneck, (3, 4, 6, 3)),
    101: (Bottleneck, (3, 4, 23, 3)),
    152: (Bottleneck, (3, 8, 36, 3)),
}


@MODELS.register
class ResNet(nn.Module):
    """ResNet backbone; ``forward(x)`` returns the outputs of the stages in ``out_indices``.

    Args:
        depth: 18, 34, 50, 101 or 152.
        in_channels: input image channels.
        stem_channels: channels out of the stem.
        base_channels: channels of the first stage (``planes``; doubled per stage).
        num_stages: number of stages, 1 to 4.
        strides: stride of each stage.
        dilations: dilation of each stage.
        out_indices: stages whose outputs are returned, 0-based.
        style: ``'pytorch'`` (stride on the 3x3 conv) or ``'caffe'`` (stride on the first 1x1).
        deep_stem: three 3x3 convs (``stem.*``) instead of one 7x7 conv (``conv1``, ``bn1``).
        avg_down: average-pool before the shortcut conv instead of a strided 1x1 conv.
        frozen_stages: freeze the stem and stages 1..frozen_stages (``-1``: nothing); frozen
            parts get ``requires_grad=False`` and stay in eval mode.
        conv_cfg: conv layer config (``None``: ``nn.Conv2d``).
        norm_cfg: norm layer config.
        norm_eval: keep every BatchNorm in eval mode (frozen statistics) while training.
        dcn: deformable convs; only ``None`` is supported.
        stage_with_dcn: which stages would use ``dcn`` (accepted for 0.x configs).
        plugins: 0.x plugins; only ``None`` is supported.
        multi_grid: dilation of each block of the last stage (DeepLabV3's multi-grid), or ``None``.
        contract_dilation: halve the dilation of the first block of each stage with dilation > 1.
        with_cp: gradient checkpointing in every block (less memory, more compute).
        zero_init_residual: zero the last norm of each block so blocks start as identities.
        pretrained: checkpoint path loaded by ``init_weights()`` (torchvision or MMSegmentation layout).
        init_cfg: ``dict(type='Pretrained', checkpoint=PATH, prefix=None)``, the alternative to
            ``pretrained``.
    """

    def __init__(self, depth: int, in_channels: int = 3, stem_channels: int = 64, base_channels: int = 64,
                 num_stages: int = 4, strides: Sequence[int] = (1, 2, 2, 2),
                 dilations: Sequence[int] = (1, 1, 1, 1), out_indices: Sequence[int] = (0, 1, 2, 3),
                 style: str = "pytorch", deep_stem: bool = False, avg_down: bool = False,
                 frozen_stages: int = -1, conv_cfg: Mapping | None = None, norm_cfg: Mapping = DEFAULT_NORM,
                 norm_eval: bool = False, dcn: Mapping | None = None,
                 stage_with_dcn: Sequence[bool] = (False, False, False, False),
                 plugins: Sequence[Mapping] | None = None, multi_grid: Sequence[int] | None = None,
                 contract_dilation: bool = False, with_cp: bool = False, zero_init_residual: bool = True,
                 pretrained: str | None = None, init_cfg: Mapping | None = None) -> None:
        super().__init__()
        where = current_build_path() or type(self).__name__
        reject_unsupported(where, dcn, plugins)
        self.pretrained = pretrained_source(pretrained, init_cfg, type(self).__name__)
        self._check_arguments(where, depth, num_stages, strides, dilations, out_indices, style,
                              frozen_stages, multi_grid)
        self.depth = depth
        self.num_stages = num_stages
        self.strides = tuple(strides)
        self.dilations = tuple(dilations)
        self.out_indices = tuple(out_indices)
        self.style = style
        self.deep_stem = deep_stem
        self.avg_down = avg_down
        self.frozen_stages = frozen_stages
        self.norm_eval = norm_eval
        self.zero_init_residual = zero_init_residual
        self.block, stage_blocks = ARCH_SETTINGS[depth]
        self.stage_blocks = stage_blocks[:num_stages]

        self._make_stem(in_channels, stem_channels, conv_cfg, norm_cfg)
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        self.res_layers: list[str] = []
        inplanes = stem_channels
        for i, num_blocks in enumerate(self.stage_blocks):
            planes = base_channels * 2**i
            layer = make_res_layer(
                self.block, inplanes, planes, num_blocks, stride=self.strides[i], dilation=self.dilations[i],
                style=style, avg_down=avg_down, with_cp=with_cp, conv_cfg=conv_cfg, norm_cfg=norm_cfg,
                multi_grid=multi_grid if i == num_stages - 1 else None, contract_dilation=contract_dilation)
            inplanes = planes * self.block.expansion
            self.add_module(f"layer{i + 1}", layer)
            self.res_layers.append(f"layer{i + 1}")
        self.feat_dim = inplanes
        self._init_default()
        self._freeze_stages()

    @staticmethod
    def _check_arguments(where: str, depth: int, num_stages: int, strides: Sequence[int],
                         dilations: Sequence[int], out_indices: Sequence[int], style: str,
                         frozen_stages: int, multi_grid: Sequence[int] | None) -> None:
        if depth not in ARCH_SETTINGS:
            raise ConfigError(f"{where}.depth={depth!r} is not a ResNet depth; use one of "
                              f"{', '.join(map(str, ARCH_SETTINGS))}")
        if not 1 <= num_stages <= 4:
            raise ConfigError(f"{where}.num_stages={num_stages!r} must be between 1 and 4")
        if len(strides) != num_stages or len(dilations) != num_stages:
            raise ConfigError(f"{where}: strides {tuple(strides)} and dilations {tuple(dilations)} need one "
                              f"entry per stage (num_stages={num_stages})")
        if not out_indices or any(not 0 <= i < num_stages for i in out_indices):
            raise ConfigError(f"{where}.out_indices={tuple(out_indices)} must be non-empty stage indices "
                              f"in 0..{num_stages - 1}")
        if style not in ("pytorch", "caffe"):
            raise ConfigError(f"{where}.style={style!r} must be 'pytorch' or 'caffe'")
        if not -1 <= frozen_stages <= num_stages:
            raise ConfigError(f"{where}.frozen_stages={frozen_stages!r} must be between -1 (freeze nothing) "
                              f"and num_stages={num_stages}")
        last_blocks = ARCH_SETTINGS[depth][1][num_stages - 1]
        if multi_grid is not None and len(multi_grid) != last_blocks:
            raise ConfigError(f"{where}.multi_grid={tuple(multi_grid)} needs one dilation per block of the "
                              f"last stage ({last_blocks} blocks for depth {depth})")

    def _make_stem(self, in_channels: int, stem_channels: int, conv_cfg: Mapping | None,
                   norm_cfg: Mapping) -> None:
        if self.deep_stem:
            mid = stem_channels // 2
            self.stem = nn.Sequential(
                build_conv_layer(conv_cfg, in_channels, mid, 3, stride=2, padding=1, bias=False),
                build_norm_layer(norm_cfg, mid)[1],
                nn.ReLU(inplace=True),
                build_conv_layer(conv_cfg, mid, mid, 3, stride=1, padding=1, bias=False),
                build_norm_layer(norm_cfg, mid)[1],
                nn.ReLU(inplace=True),
                build_conv_layer(conv_cfg, mid, stem_channels, 3, stride=1, padding=1, bias=False),
                build_norm_layer(norm_cfg, stem_channels)[1],
                nn.ReLU(inplace=True))
        else:
            self.conv1 = build_conv_layer(conv_cfg, in_channels, stem_channels, 7, stride=2, padding=3,
                                          bias=False)
            self.norm1_name, norm1 = build_norm_layer(norm_cfg, stem_channels, postfix=1)
            self.add_module(self.norm1_name, norm1)
            self.relu = nn.ReLU(inplace=True)

    def _stem_modules(self) -> list[nn.Module]:
        if self.deep_stem:
            return [self.stem]
        return [self.conv1, getattr(self, self.norm1_name)]

    def _freeze_stages(self) -> None:
        frozen = self._stem_modules() if self.frozen_stages >= 0 else []
        frozen += [getattr(self, f"layer{i}") for i in range(1, self.frozen_stages + 1)]
        for module in frozen:
            module.eval()
            for param in module.parameters():
                param.requires_grad = False

    def _init_default(self) -> None:
        """0.x's init: Kaiming (fan_out, relu) convs, norms to 1/0, last norm of each block to 0."""
        init_convs_and_norms(self)
        if self.zero_init_residual:
            for m in self.modules():
                if isinstance(m, (BasicBlock, Bottleneck)) and m.last_norm.weight is not None:
                    nn.init.zeros_(m.last_norm.weight)
                    nn.init.zeros_(m.last_norm.bias)

    def init_weights(self) -> None:
        """Reset to the default init, then load ``pretrained`` if set (torchvision or 0.x layout)."""
        self._init_default()
        if self.pretrained is not None:
            self.pretrained.load_into(self, resnet_key_map)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        if self.deep_stem:
            x = self.stem(x)
        else:
            x = self.relu(getattr(self, self.norm1_name)(self.conv1(x)))
        x = self.maxpool(x)
        outs = []
        for i, name in enumerate(self.res_layers):
            x = getattr(self, name)(x)
            if i in self.out_indices:
                outs.append(x)
        return tuple(outs)

    def train(self, mode: bool = True) -> ResNet:
        """Switch mode, keeping frozen stages (and every BatchNorm under ``norm_eval``) in eval."""
        super().train(mode)
        self._freeze_stages()
        if mode and self.norm_eval:
            set_batch_norms_eval(self)
        return self


def resnet_key_map(state: StateDict) -> StateDict:
    """Pretrained ResNet keys to seglab's. The only key mapping of this family.

    - MMSegmentation layout: our names already; a whole-segmentor checkpoint gives its
      ``backbone.*`` entries with the prefix removed.
    - torchvision layout: ``conv1``, ``bn1``, ``layerI.J.*`` equal ours (the plain-stem ResNet);
      the ImageNet classifier ``fc.*`` is dropped.
    """
    state = strip_segmentor_prefix(state)
    dropped = sorted(k for k in state if k.startswith("fc."))
    if dropped:
        logger.info("ResNet pretrained weights: dropped the classifier %s", ", ".join(dropped))
    return {k: v for k, v in state.items() if not k.startswith("fc.")}


# ---------------------------------------------------------------------------- variants
def _register_variant(name: str, summary: str, **fixed: Any) -> Callable[..., ResNet]:
    """Register ``name`` as ``ResNet`` with ``fixed`` arguments set.

    The variant's signature is ResNet's minus the fixed arguments (so the registry reports a
    misspelled or fixed key with did-you-mean, as for any constructor); it builds a ``ResNet``.
    """
    signature = inspect.signature(ResNet)
    signature = signature.replace(parameters=[p for p in signature.parameters.values() if p.name not in fixed])

    def build(*args: Any, **kwargs: Any) -> ResNet:
        bound = signature.bind(*args, **kwargs)  # rejects keys outside the signature, as a constructor
        return ResNet(**bound.arguments, **fixed)

    build.__name__ = build.__qualname__ = name
    build.__signature__ = signature  # type: ignore[attr-defined]
    settings = ", ".join(f"{k}={v!r}" for k, v in fixed.items())
    build.__doc__ = f"{summary}\n\n``ResNet`` with {settings}; every other argument as ``ResNet``."
    return MODELS.register(build, name=name)


ResNetV1c = _register_variant("ResNetV1c", "ResNet-V1c: deep stem of three 3x3 convs.",
                              deep_stem=True, avg_down=False)
ResNetV1d = _register_variant("ResNetV1d", "ResNet-V1d: deep stem, and AvgPool before each shortcut conv.",
                              deep_stem=True, avg_down=True)
