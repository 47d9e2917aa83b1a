"""MixVisionTransformer (MiT), the SegFormer encoder (Xie et al., 2021), as MMSegmentation 0.x builds it.

Reading order: the blocks (``MultiheadAttention``, the parameter layout of ``nn.MultiheadAttention``
computed with ``scaled_dot_product_attention``; ``EfficientMultiheadAttention``: self-attention whose
keys and values come from the input shrunk by a strided ``sr`` conv; ``MixFFN``: 1x1 conv, 3x3
depth-wise conv, GELU, 1x1 conv; ``TransformerEncoderLayer``), the ``MixVisionTransformer`` class,
the MiT-B0..B5 settings, then the key mapping for pretrained checkpoints.

Each stage ``i`` is ``layers.i``, a list of three: ``layers.i.0`` the overlapping patch embedding
(``projection``, ``norm``; stride 4, then 2), ``layers.i.1.j`` its encoder layers (``norm1``,
``attn.attn.in_proj_weight``/``in_proj_bias``/``out_proj``, ``attn.sr``/``attn.norm`` where the
spatial-reduction ratio is above 1, ``norm2``, ``ffn.layers.{0,1,4}``), ``layers.i.2`` the stage's
closing LayerNorm. These are MMSegmentation's state-dict names, so its checkpoints load by name;
NVlabs' original ``mit_b*.pth`` files are renamed by ``mit_key_map``.
"""
from __future__ import annotations

import logging
import math
import re
from collections.abc import Mapping, Sequence

import torch
import torch.nn.functional as F
import torch.utils.checkpoint as cp
from torch import nn

from seglab.models.weights import StateDict
from seglab.errors import ConfigError
from seglab.models.backbones.pretrained import pretrained_source, strip_segmentor_prefix
from seglab.models.layers import (DropPath, PatchEmbed, build_activation_layer, build_norm_layer, drop_path_rates,
                                  map_to_tokens, tokens_to_map)
from seglab.registry import MODELS, current_build_path

logger = logging.getLogger("seglab")

DEFAULT_NORM = {"type": "LN", "eps": 1e-6}
DEFAULT_ACT = {"type": "GELU"}


# ---------------------------------------------------------------------------- blocks
class MultiheadAttention(nn.Module):
    """Multi-head attention with ``nn.MultiheadAttention``'s parameters (``in_proj_weight`` holding
    the query, key and value projections stacked, ``in_proj_bias``, ``out_proj``), computed with
    ``F.scaled_dot_product_attention`` on batch-first tokens.

    Args:
        embed_dims: token width.
        num_heads: attention heads; must divide ``embed_dims``.
        attn_drop: dropout on the attention weights (training only).
        bias: biases of the projections (``nn.MultiheadAttention``'s ``bias``: all or none).
    """

    def __init__(self, embed_dims: int, num_heads: int, attn_drop: float = 0.0, bias: bool = True) -> None:
        super().__init__()
        if embed_dims % num_heads:
            raise ConfigError(f"attention width {embed_dims} is not divisible by num_heads={num_heads}")
        self.embed_dims, self.num_heads, self.attn_drop = embed_dims, num_heads, attn_drop
        self.in_proj_weight = nn.Parameter(torch.empty(3 * embed_dims, embed_dims))
        self.in_proj_bias = nn.Parameter(torch.zeros(3 * embed_dims)) if bias else None
        self.out_proj = nn.Linear(embed_dims, embed_dims, bias=bias)
        nn.init.xavier_uniform_(self.in_proj_weight)  # nn.MultiheadAttention's init

    def _heads(self, x: torch.Tensor) -> torch.Tensor:
        """(N, L, C) -> (N, heads, L, C / heads)."""
        return x.unflatten(-1, (self.num_heads, -1)).transpose(1, 2)

    def forward(self, query: torch.Tensor, key_value: torch.Tensor) -> torch.Tensor:
        """Attention of ``query`` (N, Lq, C) over ``key_value`` (N, Lkv, C); returns (N, Lq, C)."""
        c = self.embed_dims
        w, b = self.in_proj_weight, self.in_proj_bias
        q = F.linear(query, w[:c], None if b is None else b[:c])
        k, v = F.linear(key_value, w[c:], None if b is None else b[c:]).chunk(2, dim=-1)
        out = F.scaled_dot_product_attention(self._heads(q), self._heads(k), self._heads(v),
                                             dropout_p=self.attn_drop if self.training else 0.0)
        return self.out_proj(out.transpose(1, 2).flatten(2))


class EfficientMultiheadAttention(nn.Module):
    """Self-attention over a spatially reduced sequence (SegFormer's "efficient self-attention").

    Queries are all ``H*W`` tokens; keys and values come from the map shrunk ``sr_ratio`` times
    per side by a ``sr_ratio x sr_ratio`` conv of stride ``sr_ratio`` and a LayerNorm, so the cost
    is ``(H*W)^2 / sr_ratio^2``. Returns the branch output (dropout and drop-path applied), without
    the residual.

    Args:
        embed_dims: token width.
        num_heads: attention heads.
        attn_drop_rate: dropout on the attention weights.
        proj_drop_rate: dropout after the output projection.
        drop_path_rate: stochastic depth of the branch.
        qkv_bias: biases of the projections.
        norm_cfg: norm config of the reduced tokens.
        sr_ratio: spatial-reduction ratio; 1 attends over all tokens (no ``sr``/``norm``).
    """

    def __init__(self, embed_dims: int, num_heads: int, attn_drop_rate: float = 0.0, proj_drop_rate: float = 0.0,
                 drop_path_rate: float = 0.0, qkv_bias: bool = True, norm_cfg: Mapping = DEFAULT_NORM,
                 sr_ratio: int = 1) -> None:
        super().__init__()
        self.attn = MultiheadAttention(embed_dims, num_heads, attn_drop_rate, bias=qkv_bias)
        self.proj_drop = nn.Dropout(proj_drop_rate)
        self.drop_path = DropPath(drop_path_rate)
        self.sr_ratio = sr_ratio
        if sr_ratio > 1:
            self.sr = nn.Conv2d(embed_dims, embed_dims, kernel_size=sr_ratio, stride=sr_ratio)
            self.norm = build_norm_layer(norm_cfg, embed_dims)[1]

    def reduce(self, x: torch.Tensor, hw_shape: tuple[int, int]) -> torch.Tensor:
        """The key/value tokens: (N, H*W, C) -> (N, floor(H/r) * floor(W/r), C)."""
        if self.sr_ratio == 1:
            return x
        if min(hw_shape) < self.sr_ratio:
            raise ValueError(f"MixVisionTransformer: a {hw_shape[0]}x{hw_shape[1]} token map is smaller than its "
                             f"spatial-reduction ratio {self.sr_ratio}; the input image (or slide-inference "
                             f"crop) is too small for this model (MiT needs 32x32 pixels or more by default)")
        return self.norm(map_to_tokens(self.sr(tokens_to_map(x, hw_shape))))

    def forward(self, x: torch.Tensor, hw_shape: tuple[int, int]) -> torch.Tensor:
        return self.drop_path(self.proj_drop(self.attn(x, self.reduce(x, hw_shape))))


class MixFFN(nn.Module):
    """SegFormer's feed-forward branch on the token map: 1x1 conv up, 3x3 depth-wise conv (the only
    positional signal of the encoder), activation, dropout, 1x1 conv down, dropout. Returns the
    branch output (drop-path applied), without the residual.

    Args:
        embed_dims: token width.
        feedforward_channels: hidden width.
        act_cfg: activation config.
        ffn_drop: dropout after the activation and after the last conv.
        drop_path_rate: stochastic depth of the branch.
    """

    def __init__(self, embed_dims: int, feedforward_channels: int, act_cfg: Mapping = DEFAULT_ACT,
                 ffn_drop: float = 0.0, drop_path_rate: float = 0.0) -> None:
        super().__init__()
        self.layers = nn.Sequential(
            nn.Conv2d(embed_dims, feedforward_channels, 1),
            nn.Conv2d(feedforward_channels, feedforward_channels, 3, padding=1, groups=feedforward_channels),
            build_activation_layer(act_cfg),
            nn.Dropout(ffn_drop),
            nn.Conv2d(feedforward_channels, embed_dims, 1),
            nn.Dropout(ffn_drop))
        self.drop_path = DropPath(drop_path_rate)

    def forward(self, x: torch.Tensor, hw_shape: tuple[int, int]) -> torch.Tensor:
        return self.drop_path(map_to_tokens(self.layers(tokens_to_map(x, hw_shape))))


class TransformerEncoderLayer(nn.Module):
    """Pre-norm encoder layer: ``x + attn(norm1(x))``, then ``x + ffn(norm2(x))``.

    Args:
        embed_dims: token width.
        num_heads: attention heads.
        feedforward_channels: hidden width of the Mix-FFN.
        drop_rate: dropout after the attention projection and in the Mix-FFN.
        attn_drop_rate: dropout on the attention weights.
        drop_path_rate: stochastic depth of both branches.
        qkv_bias: biases of the attention projections.
        act_cfg: activation of the Mix-FFN.
        norm_cfg: norm config of the layer.
        sr_ratio: spatial-reduction ratio of the attention.
        with_cp: recompute the layer in backward (saves memory).
    """

    def __init__(self, embed_dims: int, num_heads: int, feedforward_channels: int, drop_rate: float = 0.0,
                 attn_drop_rate: float = 0.0, drop_path_rate: float = 0.0, qkv_bias: bool = True,
                 act_cfg: Mapping = DEFAULT_ACT, norm_cfg: Mapping = DEFAULT_NORM, sr_ratio: int = 1,
                 with_cp: bool = False) -> None:
        super().__init__()
        self.norm1 = build_norm_layer(norm_cfg, embed_dims)[1]
        self.attn = EfficientMultiheadAttention(embed_dims, num_heads, attn_drop_rate, drop_rate, drop_path_rate,
                                                qkv_bias, norm_cfg, sr_ratio)
        self.norm2 = build_norm_layer(norm_cfg, embed_dims)[1]
        self.ffn = MixFFN(embed_dims, feedforward_channels, act_cfg, drop_rate, drop_path_rate)
        self.with_cp = with_cp

    def _forward(self, x: torch.Tensor, hw_shape: tuple[int, int]) -> torch.Tensor:
        x = x + self.attn(self.norm1(x), hw_shape)
        return x + self.ffn(self.norm2(x), hw_shape)

    def forward(self, x: torch.Tensor, hw_shape: tuple[int, int]) -> torch.Tensor:
        if self.with_cp and x.requires_grad:
            return cp.checkpoint(self._forward, x, hw_shape, use_reentrant=False)
        return self._forward(x, hw_shape)


# -------------------------------------------------------------------- MixVisionTransformer
@MODELS.register
class MixVisionTransformer(nn.Module):
    """The hierarchical MiT encoder; ``forward(x)`` returns the (N, C_i, H/s_i, W/s_i) maps of the
    stages in ``out_indices`` (strides 4, 8, 16, 32 with the default ``strides``).

    Stage ``i`` has width ``embed_dims * num_heads[i]`` (so 64 channels per head), an overlapping
    patch embedding (kernel ``patch_sizes[i]``, stride ``strides[i]``, padding half the kernel),
    ``num_layers[i]`` encoder layers with spatial reduction ``sr_ratios[i]``, and a LayerNorm.
    Drop-path rates grow linearly from 0 to ``drop_path_rate`` over all layers.

    Args:
        in_channels: input image channels.
        embed_dims: width of one attention head's worth of channels (32 for B0, 64 for B1-B5).
        num_stages: number of stages.
        num_layers: encoder layers per stage.
        num_heads: attention heads per stage (also the width multiplier of ``embed_dims``).
        patch_sizes: patch-embedding kernel size per stage.
        strides: patch-embedding stride per stage.
        sr_ratios: spatial-reduction ratio per stage.
        out_indices: stages whose outputs are returned, 0-based.
        mlp_ratio: Mix-FFN hidden width as a multiple of the stage width.
        qkv_bias: biases of the attention projections.
        drop_rate: dropout after attention and in the Mix-FFN.
        attn_drop_rate: dropout on the attention weights.
        drop_path_rate: stochastic depth of the last layer (linearly increasing from 0).
        act_cfg: activation of the Mix-FFN.
        norm_cfg: norm config (LayerNorm, eps 1e-6 by default).
        pretrained: checkpoint path loaded by ``init_weights()`` (MMSegmentation or NVlabs layout).
        init_cfg: ``dict(type='Pretrained', checkpoint=PATH, prefix=None)``, the alternative to
            ``pretrained``.
        with_cp: gradient checkpointing of every encoder layer (less memory, more compute).
    """

    def __init__(self, in_channels: int = 3, embed_dims: int = 64, num_stages: int = 4,
                 num_layers: Sequence[int] = (3, 4, 6, 3), num_heads: Sequence[int] = (1, 2, 4, 8),
                 patch_sizes: Sequence[int] = (7, 3, 3, 3), strides: Sequence[int] = (4, 2, 2, 2),
                 sr_ratios: Sequence[int] = (8, 4, 2, 1), out_indices: Sequence[int] = (0, 1, 2, 3),
                 mlp_ratio: float = 4, qkv_bias: bool = True, drop_rate: float = 0.0, attn_drop_rate: float = 0.0,
                 drop_path_rate: float = 0.0, act_cfg: Mapping = DEFAULT_ACT, norm_cfg: Mapping = DEFAULT_NORM,
                 pretrained: str | None = None, init_cfg: Mapping | None = None, with_cp: bool = False) -> None:
        super().__init__()
        where = current_build_path() or type(self).__name__
        self.pretrained = pretrained_source(pretrained, init_cfg, type(self).__name__)
        per_stage = dict(num_layers=num_layers, num_heads=num_heads, patch_sizes=patch_sizes, strides=strides,
                         sr_ratios=sr_ratios)
        for key, value in per_stage.items():
            if not isinstance(value, Sequence) or len(value) != num_stages:
                raise ConfigError(f"{where}.{key}={value!r} needs one entry per stage (num_stages={num_stages})")
        if not out_indices or any(not 0 <= i < num_stages for i in out_indices):
            raise ConfigError(f"{where}.out_indices={tuple(out_indices)} must be non-empty stage indices "
                              f"in 0..{num_stages - 1}")
        self.embed_dims = embed_dims
        self.num_stages = num_stages
        self.out_indices = tuple(out_indices)
        self.widths = [embed_dims * h for h in num_heads]
        rates = drop_path_rates(drop_path_rate, sum(num_layers))
        self.layers = nn.ModuleList()
        channels, first = in_channels, 0
        for i, width in enumerate(self.widths):
            embed = PatchEmbed(channels, width, patch_sizes[i], strides[i], padding=patch_sizes[i] // 2,
                               norm_cfg=norm_cfg)
            blocks = nn.ModuleList(
                TransformerEncoderLayer(width, num_heads[i], int(mlp_ratio * width), drop_rate, attn_drop_rate,
                                        rates[first + j], qkv_bias, act_cfg, norm_cfg, sr_ratios[i], with_cp)
                for j in range(num_layers[i]))
            self.layers.append(nn.ModuleList([embed, blocks, build_norm_layer(norm_cfg, width)[1]]))
            channels, first = width, first + num_layers[i]
        self._init_default()

    def _init_default(self) -> None:
        """0.x's MiT init: linear weights truncated-normal (std 0.02), LayerNorms 1/0, convs normal with
        std sqrt(2 / fan_out) (fan_out = k*k*out_channels / groups), every bias 0. The key/value
        projections keep ``nn.MultiheadAttention``'s Xavier init, as in 0.x."""
        for m in self.modules():
            if isinstance(m, nn.Linear):
                nn.init.trunc_normal_(m.weight, std=0.02)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
            elif isinstance(m, nn.LayerNorm):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
            elif isinstance(m, nn.Conv2d):
                fan_out = m.kernel_size[0] * m.kernel_size[1] * m.out_channels // m.groups
                nn.init.normal_(m.weight, 0.0, math.sqrt(2.0 / fan_out))
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
            elif isinstance(m, MultiheadAttention):
                nn.init.xavier_uniform_(m.in_proj_weight)
                if m.in_proj_bias is not None:
                    nn.init.zeros_(m.in_proj_bias)

    def init_weights(self) -> None:
        """Reset to the default init, then load ``pretrained`` if set (MMSegmentation or NVlabs layout)."""
        self._init_default()
        if self.pretrained is not None:
            self.pretrained.load_into(self, mit_key_map)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        outs = []
        for i, (embed, blocks, norm) in enumerate(self.layers):
            x, hw_shape = embed(x)
            for block in blocks:
                x = block(x, hw_shape)
            x = tokens_to_map(norm(x), hw_shape)
            if i in self.out_indices:
                outs.append(x)
        return tuple(outs)


# MiT-B0..B5 (SegFormer, Table 1 of the paper); patch sizes, strides, sr ratios and mlp_ratio are
# MixVisionTransformer's defaults for all of them. Configs set these keys (0.x has no variant names).
MIT_SETTINGS: dict[str, dict[str, object]] = {
    "b0": dict(embed_dims=32, num_layers=(2, 2, 2, 2), num_heads=(1, 2, 5, 8)),
    "b1": dict(embed_dims=64, num_layers=(2, 2, 2, 2), num_heads=(1, 2, 5, 8)),
    "b2": dict(embed_dims=64, num_layers=(3, 4, 6, 3), num_heads=(1, 2, 5, 8)),
    "b3": dict(embed_dims=64, num_layers=(3, 4, 18, 3), num_heads=(1, 2, 5, 8)),
    "b4": dict(embed_dims=64, num_layers=(3, 8, 27, 3), num_heads=(1, 2, 5, 8)),
    "b5": dict(embed_dims=64, num_layers=(3, 6, 40, 3), num_heads=(1, 2, 5, 8)),
}


# ---------------------------------------------------------------------------- key mapping
_NVLABS_KEY = re.compile(r"(patch_embed|block|norm)(\d+)\.(.*)")


def mit_key_map(state: StateDict) -> StateDict:
    """Pretrained MiT keys to seglab's. The only key mapping of this family.

    - MMSegmentation layout (``layers.*``, e.g. its ``mit_b0_20220624-7e0fe6dd.pth``): our names
      already; a whole-segmentor checkpoint gives its ``backbone.*`` entries.
    - NVlabs SegFormer layout (``mit_b0.pth``): stage ``s`` (1-based) becomes ``layers.{s-1}``:
      ``patch_embed{s}.proj`` -> ``.0.projection``, ``patch_embed{s}.norm`` -> ``.0.norm``,
      ``block{s}.j.*`` -> ``.1.j.*``, ``norm{s}`` -> ``.2``. Inside a block, ``attn.q`` and
      ``attn.kv`` (keys then values) are stacked into ``attn.attn.in_proj_weight``/``in_proj_bias``
      (query, key, value: ``nn.MultiheadAttention``'s order), ``attn.proj`` -> ``attn.attn.out_proj``,
      ``mlp.fc1``/``mlp.dwconv.dwconv``/``mlp.fc2`` -> ``ffn.layers.0``/``.1``/``.4`` (the linear
      weights become 1x1 conv weights). The ImageNet classifier ``head.*`` is dropped.
    """
    state = strip_segmentor_prefix(state)
    if not any(_NVLABS_KEY.match(k) and not k.startswith("norm.") for k in state):
        return state
    converted: StateDict = {}
    dropped = []
    for key, value in state.items():
        match = _NVLABS_KEY.match(key)
        if key.startswith("head."):
            dropped.append(key)
        elif match is None:
            converted[key] = value
        else:
            kind, stage, rest = match.group(1), int(match.group(2)) - 1, match.group(3)
            if kind == "patch_embed":
                converted[f"layers.{stage}.0.{rest.replace('proj.', 'projection.', 1)}"] = value
            elif kind == "norm":
                converted[f"layers.{stage}.2.{rest}"] = value
            else:
                converted.update(_nvlabs_block_entry(f"layers.{stage}.1.", key, rest, value, state))
    if dropped:
        logger.info("MiT pretrained weights: dropped the classifier %s", ", ".join(sorted(dropped)))
    logger.info("MiT pretrained weights: renamed the NVlabs SegFormer layout to MMSegmentation's")
    return converted


def _nvlabs_block_entry(prefix: str, key: str, rest: str, value: torch.Tensor, state: StateDict) -> StateDict:
    """One NVlabs block entry (``rest`` = ``j.attn.q.weight`` ...) as seglab entries; ``attn.kv`` is
    consumed with ``attn.q``. An entry without its partner keeps its name (reported as unexpected)."""
    layer, _, name = rest.partition(".")
    new = f"{prefix}{layer}."
    for old, mapped in (("attn.proj.", "attn.attn.out_proj."), ("mlp.fc1.", "ffn.layers.0."),
                        ("mlp.dwconv.dwconv.", "ffn.layers.1."), ("mlp.fc2.", "ffn.layers.4.")):
        if name.startswith(old):
            if old in ("mlp.fc1.", "mlp.fc2.") and name.endswith("weight"):
                value = value[:, :, None, None]
            return {new + mapped + name[len(old):]: value}
    if name.startswith(("attn.q.", "attn.kv.")):
        param, base = name.rsplit(".", 1)[1], key[:-len(name)]
        q_key, kv_key = f"{base}attn.q.{param}", f"{base}attn.kv.{param}"
        if q_key not in state or kv_key not in state:
            return {key: value}
        if name.startswith("attn.kv."):
            return {}
        return {f"{new}attn.attn.in_proj_{param}": torch.cat([value, state[kv_key]], dim=0)}
    return {new + name: value}  # norm1, norm2, attn.sr, attn.norm
