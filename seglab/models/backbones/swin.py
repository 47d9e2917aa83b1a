"""Swin Transformer backbone (Liu et al., 2021) as MMSegmentation 0.x builds it.

Reading order: the window helpers (``relative_position_index``, ``window_partition`` /
``window_merge``, ``shifted_window_mask``), the blocks (``WindowMSA``: attention inside each window
with a learned relative position bias; ``ShiftWindowMSA``: padding, the cyclic shift of every
second block and its attention mask; ``FFN``; ``SwinBlock``; ``PatchMerging``: 2x2 neighbourhoods
to one token, halving the resolution; ``SwinBlockSequence``: one stage), the ``SwinTransformer``
class, the Swin-T/S/B settings, then the key mapping for pretrained checkpoints.

State-dict names equal MMSegmentation's: ``patch_embed.projection``/``norm``, then
``stages.i.blocks.j.{norm1, attn.w_msa.{relative_position_bias_table, relative_position_index, qkv,
proj}, norm2, ffn.layers.{0.0, 1}}``, ``stages.i.downsample.{norm, reduction}`` closing stage ``i``
(not the last), and ``norm{i}`` for each output. Microsoft's original checkpoints are renamed (and
their patch-merging channels reordered) by ``swin_key_map``.
"""
from __future__ import annotations

import logging
import re
from collections.abc import Mapping, Sequence

import torch
import torch.nn.functional as F
import torch.utils.checkpoint as cp
from torch import nn

from seglab.models.weights import StateDict
from seglab.errors import ConfigError
from seglab.models.backbones.pretrained import pretrained_source, strip_segmentor_prefix
from seglab.models.layers import (DropPath, PatchEmbed, build_activation_layer, build_norm_layer, corner_pad,
                                  drop_path_rates)
from seglab.registry import MODELS, current_build_path

logger = logging.getLogger("seglab")

DEFAULT_NORM = {"type": "LN"}
DEFAULT_ACT = {"type": "GELU"}
MASKED = -100.0  # added to the attention logits between tokens of different regions (as 0.x)


# ------------------------------------------------------------------------ window helpers
def relative_position_index(window_size: int) -> torch.Tensor:
    """(ws*ws, ws*ws) index into the bias table for every (query, key) token pair of a window.

    Tokens are numbered row by row; for a query at (ya, xa) and a key at (yb, xb) the index is
    ``(ya - yb + ws - 1) * (2 * ws - 1) + (xa - xb + ws - 1)``: one table row per relative offset.
    """
    coords = torch.arange(window_size)
    y, x = coords.repeat_interleave(window_size), coords.repeat(window_size)
    dy = y[:, None] - y[None, :] + window_size - 1
    dx = x[:, None] - x[None, :] + window_size - 1
    return dy * (2 * window_size - 1) + dx


def window_partition(x: torch.Tensor, window_size: int) -> torch.Tensor:
    """(B, H, W, C) -> (B * nW, ws*ws, C): windows image by image, each row of windows left to right."""
    b, h, w, c = x.shape
    x = x.view(b, h // window_size, window_size, w // window_size, window_size, c)
    return x.permute(0, 1, 3, 2, 4, 5).reshape(-1, window_size * window_size, c)


def window_merge(windows: torch.Tensor, window_size: int, batch: int, h: int, w: int) -> torch.Tensor:
    """The inverse of ``window_partition``: (B * nW, ws*ws, C) -> (B, H, W, C)."""
    x = windows.view(batch, h // window_size, w // window_size, window_size, window_size, -1)
    return x.permute(0, 1, 3, 2, 4, 5).reshape(batch, h, w, -1)


def shifted_window_mask(h: int, w: int, window_size: int, shift: int, device: torch.device | None = None
                        ) -> torch.Tensor:
    """(nW, ws*ws, ws*ws) additive mask of the shifted windows of an (h, w) map (multiples of ws).

    After rolling the map by ``-shift`` the windows of the last row and column hold pixels from
    the opposite border. Each axis is split into three regions, ``[0, n - ws)``, ``[n - ws, n - shift)``
    and ``[n - shift, n)``; a token attends only to tokens of its own region pair (0 between them,
    ``-100`` elsewhere).
    """
    def regions(n: int) -> torch.Tensor:
        idx = torch.arange(n, device=device)
        return (idx >= n - window_size).long() + (idx >= n - shift).long()

    ids = regions(h)[:, None] * 3 + regions(w)[None, :]
    ids = window_partition(ids[None, :, :, None], window_size).squeeze(-1)  # (nW, ws*ws)
    return (ids[:, :, None] != ids[:, None, :]).float() * MASKED


# ---------------------------------------------------------------------------- blocks
class WindowMSA(nn.Module):
    """Multi-head self-attention inside each window, with a learned relative position bias.

    Args:
        embed_dims: token width.
        num_heads: attention heads.
        window_size: side of the square window.
        qkv_bias: bias of the query/key/value projection.
        qk_scale: scale of the logits; ``None`` means ``head_dims ** -0.5``.
        attn_drop_rate: dropout on the attention weights.
        proj_drop_rate: dropout after the output projection.
    """

    def __init__(self, embed_dims: int, num_heads: int, window_size: int, qkv_bias: bool = True,
                 qk_scale: float | None = None, attn_drop_rate: float = 0.0, proj_drop_rate: float = 0.0) -> None:
        super().__init__()
        if embed_dims % num_heads:
            raise ConfigError(f"Swin stage width {embed_dims} is not divisible by num_heads={num_heads}")
        self.num_heads, self.window_size = num_heads, window_size
        self.scale = qk_scale or (embed_dims // num_heads) ** -0.5
        self.attn_drop_rate = attn_drop_rate
        self.relative_position_bias_table = nn.Parameter(torch.zeros((2 * window_size - 1) ** 2, num_heads))
        self.register_buffer("relative_position_index", relative_position_index(window_size))
        self.qkv = nn.Linear(embed_dims, embed_dims * 3, bias=qkv_bias)
        self.proj = nn.Linear(embed_dims, embed_dims)
        self.proj_drop = nn.Dropout(proj_drop_rate)
        nn.init.trunc_normal_(self.relative_position_bias_table, std=0.02)

    def position_bias(self) -> torch.Tensor:
        """(heads, ws*ws, ws*ws) bias added to the attention logits."""
        n = self.window_size ** 2
        return self.relative_position_bias_table[self.relative_position_index.view(-1)].view(n, n, -1).permute(2, 0, 1)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """Attention within each window of ``x`` (B * nW, ws*ws, C); ``mask`` (nW, ws*ws, ws*ws) or None."""
        windows, n, c = x.shape
        q, k, v = self.qkv(x).view(windows, n, 3, self.num_heads, -1).permute(2, 0, 3, 1, 4).unbind(0)
        bias = self.position_bias().unsqueeze(0)  # (1, heads, N, N)
        if mask is not None:
            num_windows = mask.shape[0]
            bias = (bias + mask.unsqueeze(1)).repeat(windows // num_windows, 1, 1, 1)
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=bias.to(q.dtype), scale=self.scale,
                                             dropout_p=self.attn_drop_rate if self.training else 0.0)
        return self.proj_drop(self.proj(out.transpose(1, 2).reshape(windows, n, c)))


class ShiftWindowMSA(nn.Module):
    """Window attention over a token map, with the windows shifted by ``shift_size`` if non-zero.

    The map is zero-padded at the bottom and right to a multiple of the window; a shifted block
    rolls it by ``-shift_size`` first (and back after), masking attention between pixels that
    the roll brought together from opposite borders. Returns the branch output (drop-path
    applied), without the residual.

    Args:
        embed_dims: token width.
        num_heads: attention heads.
        window_size: side of the square window.
        shift_size: cyclic shift in tokens (``window_size // 2`` in every second block), or 0.
        qkv_bias: bias of the query/key/value projection.
        qk_scale: scale of the logits (``None``: ``head_dims ** -0.5``).
        attn_drop_rate: dropout on the attention weights.
        proj_drop_rate: dropout after the output projection.
        drop_path_rate: stochastic depth of the branch.
    """

    def __init__(self, embed_dims: int, num_heads: int, window_size: int, shift_size: int = 0,
                 qkv_bias: bool = True, qk_scale: float | None = None, attn_drop_rate: float = 0.0,
                 proj_drop_rate: float = 0.0, drop_path_rate: float = 0.0) -> None:
        super().__init__()
        if not 0 <= shift_size < window_size:
            raise ConfigError(f"Swin shift_size must be in [0, window_size={window_size}), got {shift_size}")
        self.window_size, self.shift_size = window_size, shift_size
        self.w_msa = WindowMSA(embed_dims, num_heads, window_size, qkv_bias, qk_scale, attn_drop_rate,
                               proj_drop_rate)
        self.drop_path = DropPath(drop_path_rate)

    def forward(self, x: torch.Tensor, hw_shape: tuple[int, int]) -> torch.Tensor:
        b, _, c = x.shape
        h, w = hw_shape
        ws, shift = self.window_size, self.shift_size
        x = x.view(b, h, w, c)
        pad_h, pad_w = -h % ws, -w % ws
        if pad_h or pad_w:
            x = F.pad(x, (0, 0, 0, pad_w, 0, pad_h))
        hp, wp = h + pad_h, w + pad_w
        mask = None
        if shift:
            x = torch.roll(x, shifts=(-shift, -shift), dims=(1, 2))
            mask = shifted_window_mask(hp, wp, ws, shift, x.device)
        x = window_merge(self.w_msa(window_partition(x, ws), mask), ws, b, hp, wp)
        if shift:
            x = torch.roll(x, shifts=(shift, shift), dims=(1, 2))
        if pad_h or pad_w:
            x = x[:, :h, :w]
        return self.drop_path(x.reshape(b, h * w, c))


class FFN(nn.Module):
    """Two linear layers with an activation (mmcv's ``FFN`` names: ``layers.0.0``, ``layers.1``).
    Returns the branch output (drop-path applied), without the residual.

    Args:
        embed_dims: token width.
        feedforward_channels: hidden width.
        act_cfg: activation config.
        ffn_drop: dropout after the activation and after the second layer.
        drop_path_rate: stochastic depth of the branch.
    """

    def __init__(self, embed_dims: int, feedforward_channels: int, act_cfg: Mapping = DEFAULT_ACT,
                 ffn_drop: float = 0.0, drop_path_rate: float = 0.0) -> None:
        super().__init__()
        self.layers = nn.Sequential(
            nn.Sequential(nn.Linear(embed_dims, feedforward_channels), build_activation_layer(act_cfg),
                          nn.Dropout(ffn_drop)),
            nn.Linear(feedforward_channels, embed_dims),
            nn.Dropout(ffn_drop))
        self.drop_path = DropPath(drop_path_rate)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.drop_path(self.layers(x))


class SwinBlock(nn.Module):
    """Pre-norm Swin block: ``x + attn(norm1(x))``, then ``x + ffn(norm2(x))``.

    Args:
        embed_dims: token width.
        num_heads: attention heads.
        feedforward_channels: hidden width of the FFN.
        window_size: side of the attention window.
        shift: shift the windows by ``window_size // 2``.
        qkv_bias: bias of the query/key/value projection.
        qk_scale: scale of the logits (``None``: ``head_dims ** -0.5``).
        drop_rate: dropout after the attention projection and in the FFN.
        attn_drop_rate: dropout on the attention weights.
        drop_path_rate: stochastic depth of both branches.
        act_cfg: activation of the FFN.
        norm_cfg: norm config.
        with_cp: recompute the block in backward (saves memory).
    """

    def __init__(self, embed_dims: int, num_heads: int, feedforward_channels: int, window_size: int = 7,
                 shift: bool = False, qkv_bias: bool = True, qk_scale: float | None = None, drop_rate: float = 0.0,
                 attn_drop_rate: float = 0.0, drop_path_rate: float = 0.0, act_cfg: Mapping = DEFAULT_ACT,
                 norm_cfg: Mapping = DEFAULT_NORM, with_cp: bool = False) -> None:
        super().__init__()
        self.with_cp = with_cp
        self.norm1 = build_norm_layer(norm_cfg, embed_dims)[1]
        self.attn = ShiftWindowMSA(embed_dims, num_heads, window_size, window_size // 2 if shift else 0,
                                   qkv_bias, qk_scale, attn_drop_rate, drop_rate, drop_path_rate)
        self.norm2 = build_norm_layer(norm_cfg, embed_dims)[1]
        self.ffn = FFN(embed_dims, feedforward_channels, act_cfg, drop_rate, drop_path_rate)

    def _forward(self, x: torch.Tensor, hw_shape: tuple[int, int]) -> torch.Tensor:
        x = x + self.attn(self.norm1(x), hw_shape)
        return x + self.ffn(self.norm2(x))

    def forward(self, x: torch.Tensor, hw_shape: tuple[int, int]) -> torch.Tensor:
        if self.with_cp and x.requires_grad:
            return cp.checkpoint(self._forward, x, hw_shape, use_reentrant=False)
        return self._forward(x, hw_shape)


class PatchMerging(nn.Module):
    """Each 2x2 neighbourhood of tokens to one token: concatenate, ``norm``, linear ``reduction``.

    The concatenated channels are in ``nn.Unfold``'s order, as MMSegmentation's: channel ``c`` of
    the four positions (top-left, top-right, bottom-left, bottom-right) at ``4c .. 4c+3``. Odd
    sizes are zero-padded at the bottom and right.

    Args:
        in_channels: input token width.
        out_channels: output token width (twice the input in Swin).
        norm_cfg: norm config over the ``4 * in_channels`` concatenated channels, or ``None``.
    """

    def __init__(self, in_channels: int, out_channels: int, norm_cfg: Mapping | None = DEFAULT_NORM) -> None:
        super().__init__()
        self.out_channels = out_channels
        self.norm = build_norm_layer(norm_cfg, 4 * in_channels)[1] if norm_cfg is not None else None
        self.reduction = nn.Linear(4 * in_channels, out_channels, bias=False)

    def forward(self, x: torch.Tensor, hw_shape: tuple[int, int]) -> tuple[torch.Tensor, tuple[int, int]]:
        b, _, c = x.shape
        x = corner_pad(x.transpose(1, 2).reshape(b, c, *hw_shape), 2, 2)
        h2, w2 = x.shape[2] // 2, x.shape[3] // 2
        # (B, C, H/2, 2, W/2, 2) -> (B, H/2, W/2, C, 2, 2): channel-major, then row-major position.
        x = x.view(b, c, h2, 2, w2, 2).permute(0, 2, 4, 1, 3, 5).reshape(b, h2 * w2, 4 * c)
        if self.norm is not None:
            x = self.norm(x)
        return self.reduction(x), (h2, w2)


class SwinBlockSequence(nn.Module):
    """One stage: ``depth`` blocks alternating plain and shifted windows, then the optional
    ``downsample`` (``PatchMerging``). ``forward`` returns ``(next input, its (H, W), the stage's
    output before downsampling, its (H, W))``.

    Args:
        embed_dims: token width of the stage.
        num_heads: attention heads.
        feedforward_channels: hidden width of the FFNs.
        depth: number of blocks.
        window_size: side of the attention windows.
        qkv_bias: bias of the query/key/value projections.
        qk_scale: scale of the logits (``None``: ``head_dims ** -0.5``).
        drop_rate: dropout after attention projections and in the FFNs.
        attn_drop_rate: dropout on the attention weights.
        drop_path_rate: stochastic depth of each block (a list), or one rate for all.
        downsample: the patch merging that closes the stage, or ``None``.
        act_cfg: activation of the FFNs.
        norm_cfg: norm config.
        with_cp: recompute each block in backward.
    """

    def __init__(self, embed_dims: int, num_heads: int, feedforward_channels: int, depth: int, window_size: int = 7,
                 qkv_bias: bool = True, qk_scale: float | None = None, drop_rate: float = 0.0,
                 attn_drop_rate: float = 0.0, drop_path_rate: float | Sequence[float] = 0.0,
                 downsample: nn.Module | None = None, act_cfg: Mapping = DEFAULT_ACT,
                 norm_cfg: Mapping = DEFAULT_NORM, with_cp: bool = False) -> None:
        super().__init__()
        rates = list(drop_path_rate) if isinstance(drop_path_rate, Sequence) else [drop_path_rate] * depth
        self.blocks = nn.ModuleList(
            SwinBlock(embed_dims, num_heads, feedforward_channels, window_size, shift=i % 2 == 1, qkv_bias=qkv_bias,
                      qk_scale=qk_scale, drop_rate=drop_rate, attn_drop_rate=attn_drop_rate, drop_path_rate=rates[i],
                      act_cfg=act_cfg, norm_cfg=norm_cfg, with_cp=with_cp)
            for i in range(depth))
        self.downsample = downsample

    def forward(self, x: torch.Tensor, hw_shape: tuple[int, int]
                ) -> tuple[torch.Tensor, tuple[int, int], torch.Tensor, tuple[int, int]]:
        for block in self.blocks:
            x = block(x, hw_shape)
        if self.downsample is None:
            return x, hw_shape, x, hw_shape
        down, down_shape = self.downsample(x, hw_shape)
        return down, down_shape, x, hw_shape


# ---------------------------------------------------------------------------- SwinTransformer
@MODELS.register
class SwinTransformer(nn.Module):
    """Swin Transformer backbone; ``forward(x)`` returns the (N, C_i, H/s_i, W/s_i) maps of the stages
    in ``out_indices`` (strides 4, 8, 16, 32 and widths ``embed_dims * 2**i`` by default), each
    through its own LayerNorm ``norm{i}``.

    Args:
        pretrain_img_size: image size of pretraining; sets the length of ``absolute_pos_embed``.
        in_channels: input image channels.
        embed_dims: width of the first stage (doubled by each patch merging).
        patch_size: side of the non-overlapping patches of the embedding.
        window_size: side of the attention windows.
        mlp_ratio: FFN hidden width as a multiple of the stage width.
        depths: blocks per stage.
        num_heads: attention heads per stage.
        strides: patch-embedding stride, then the stride of each patch merging (must be 2).
        out_indices: stages whose outputs are returned, 0-based.
        qkv_bias: bias of the query/key/value projections.
        qk_scale: scale of the logits (``None``: ``head_dims ** -0.5``).
        patch_norm: LayerNorm after the patch embedding and in each patch merging.
        drop_rate: dropout after the embedding, the attention projections and in the FFNs.
        attn_drop_rate: dropout on the attention weights.
        drop_path_rate: stochastic depth of the last block (linearly increasing from 0).
        use_abs_pos_embed: add a learned absolute position embedding after the patch embedding
            (resized bilinearly to the token map when the input differs from pretraining).
        act_cfg: activation of the FFNs.
        norm_cfg: norm config (LayerNorm).
        with_cp: gradient checkpointing of every block (less memory, more compute).
        pretrained: checkpoint path loaded by ``init_weights()`` (MMSegmentation or Microsoft layout).
        frozen_stages: freeze the patch embedding and stages 1..frozen_stages (``-1``: nothing);
            frozen parts get ``requires_grad=False`` and stay in eval mode.
        init_cfg: ``dict(type='Pretrained', checkpoint=PATH, prefix=None)``, the alternative to
            ``pretrained``.
    """

    def __init__(self, pretrain_img_size: int | Sequence[int] = 224, in_channels: int = 3, embed_dims: int = 96,
                 patch_size: int = 4, window_size: int = 7, mlp_ratio: float = 4,
                 depths: Sequence[int] = (2, 2, 6, 2), num_heads: Sequence[int] = (3, 6, 12, 24),
                 strides: Sequence[int] = (4, 2, 2, 2), out_indices: Sequence[int] = (0, 1, 2, 3),
                 qkv_bias: bool = True, qk_scale: float | None = None, patch_norm: bool = True,
                 drop_rate: float = 0.0, attn_drop_rate: float = 0.0, drop_path_rate: float = 0.1,
                 use_abs_pos_embed: bool = False, act_cfg: Mapping = DEFAULT_ACT, norm_cfg: Mapping = DEFAULT_NORM,
                 with_cp: bool = False, pretrained: str | None = None, frozen_stages: int = -1,
                 init_cfg: Mapping | None = None) -> None:
        super().__init__()
        where = current_build_path() or type(self).__name__
        self.pretrained = pretrained_source(pretrained, init_cfg, type(self).__name__)
        num_stages = len(depths)
        self._check_arguments(where, num_stages, num_heads, strides, out_indices, patch_size, frozen_stages)
        self.out_indices = tuple(out_indices)
        self.frozen_stages = frozen_stages
        self.use_abs_pos_embed = use_abs_pos_embed
        self.patch_embed = PatchEmbed(in_channels, embed_dims, patch_size, strides[0], padding="corner",
                                      norm_cfg=norm_cfg if patch_norm else None)
        if use_abs_pos_embed:
            size = (pretrain_img_size, pretrain_img_size) if isinstance(pretrain_img_size, int) else pretrain_img_size
            self.pos_grid = (size[0] // patch_size, size[1] // patch_size)
            self.absolute_pos_embed = nn.Parameter(torch.zeros(1, self.pos_grid[0] * self.pos_grid[1], embed_dims))
        self.drop_after_pos = nn.Dropout(drop_rate)
        rates = drop_path_rates(drop_path_rate, sum(depths))
        self.stages = nn.ModuleList()
        self.num_features = [embed_dims * 2**i for i in range(num_stages)]
        first = 0
        for i, width in enumerate(self.num_features):
            downsample = None
            if i < num_stages - 1:
                downsample = PatchMerging(width, 2 * width, norm_cfg if patch_norm else None)
            self.stages.append(SwinBlockSequence(
                width, num_heads[i], int(mlp_ratio * width), depths[i], window_size, qkv_bias, qk_scale, drop_rate,
                attn_drop_rate, rates[first:first + depths[i]], downsample, act_cfg, norm_cfg, with_cp))
            first += depths[i]
        for i in self.out_indices:
            self.add_module(f"norm{i}", build_norm_layer(norm_cfg, self.num_features[i])[1])
        self._init_default()
        self._freeze_stages()

    @staticmethod
    def _check_arguments(where: str, num_stages: int, num_heads: Sequence[int], strides: Sequence[int],
                         out_indices: Sequence[int], patch_size: int, frozen_stages: int) -> None:
        if len(num_heads) != num_stages or len(strides) != num_stages:
            raise ConfigError(f"{where}: num_heads {tuple(num_heads)} and strides {tuple(strides)} need one entry "
                              f"per stage (depths has {num_stages})")
        if strides[0] != patch_size:
            raise ConfigError(f"{where}: strides[0]={strides[0]} must equal patch_size={patch_size} "
                              "(the patches do not overlap)")
        if any(s != 2 for s in strides[1:]):
            raise ConfigError(f"{where}: strides[1:]={tuple(strides[1:])} must all be 2 (patch merging halves "
                              "the resolution)")
        if not out_indices or any(not 0 <= i < num_stages for i in out_indices):
            raise ConfigError(f"{where}.out_indices={tuple(out_indices)} must be non-empty stage indices "
                              f"in 0..{num_stages - 1}")
        if not -1 <= frozen_stages <= num_stages:
            raise ConfigError(f"{where}.frozen_stages={frozen_stages!r} must be between -1 (freeze nothing) "
                              f"and the number of stages, {num_stages}")

    def _init_default(self) -> None:
        """0.x's Swin init: linear weights truncated-normal (std 0.02) with bias 0, LayerNorms 1/0, the
        absolute position embedding truncated-normal (std 0.02). The relative position bias tables
        are truncated-normal (std 0.02), as in Microsoft's code (0.x leaves them at 0)."""
        for m in self.modules():
            if isinstance(m, nn.Linear):
                nn.init.trunc_normal_(m.weight, std=0.02)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
            elif isinstance(m, nn.LayerNorm):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
            elif isinstance(m, WindowMSA):
                nn.init.trunc_normal_(m.relative_position_bias_table, std=0.02)
        if self.use_abs_pos_embed:
            nn.init.trunc_normal_(self.absolute_pos_embed, std=0.02)

    def init_weights(self) -> None:
        """Reset to the default init, then load ``pretrained`` if set (MMSegmentation or Microsoft layout)."""
        self._init_default()
        if self.pretrained is not None:
            self.pretrained.load_into(self, swin_key_map)

    def _frozen_modules(self) -> list[nn.Module]:
        if self.frozen_stages < 0:
            return []
        frozen: list[nn.Module] = [self.patch_embed, self.drop_after_pos]
        for i in range(self.frozen_stages):
            frozen.append(self.stages[i])
            if i in self.out_indices:
                frozen.append(getattr(self, f"norm{i}"))
        return frozen

    def _freeze_stages(self) -> None:
        if self.frozen_stages >= 0 and self.use_abs_pos_embed:
            self.absolute_pos_embed.requires_grad = False
        for module in self._frozen_modules():
            module.eval()
            for param in module.parameters():
                param.requires_grad = False

    def train(self, mode: bool = True) -> SwinTransformer:
        """Switch mode, keeping frozen stages in eval."""
        super().train(mode)
        for module in self._frozen_modules():
            module.eval()
        return self

    def _position_embedding(self, hw_shape: tuple[int, int]) -> torch.Tensor:
        embed = self.absolute_pos_embed
        if hw_shape == self.pos_grid:
            return embed
        grid = embed.transpose(1, 2).reshape(1, -1, *self.pos_grid)
        return F.interpolate(grid, size=hw_shape, mode="bilinear", align_corners=False).flatten(2).transpose(1, 2)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        x, hw_shape = self.patch_embed(x)
        if self.use_abs_pos_embed:
            x = x + self._position_embedding(hw_shape)
        x = self.drop_after_pos(x)
        outs = []
        for i, stage in enumerate(self.stages):
            x, hw_shape, out, out_shape = stage(x, hw_shape)
            if i in self.out_indices:
                out = getattr(self, f"norm{i}")(out)
                outs.append(out.transpose(1, 2).reshape(out.shape[0], -1, *out_shape))
        return tuple(outs)


# Swin-T/S/B (Liu et al., 2021, Section 3.3); window 7 for 224x224 pretraining (Swin-B 384x384: 12).
SWIN_SETTINGS: dict[str, dict[str, object]] = {
    "tiny": dict(embed_dims=96, depths=(2, 2, 6, 2), num_heads=(3, 6, 12, 24)),
    "small": dict(embed_dims=96, depths=(2, 2, 18, 2), num_heads=(3, 6, 12, 24)),
    "base": dict(embed_dims=128, depths=(2, 2, 18, 2), num_heads=(4, 8, 16, 32)),
}


# ---------------------------------------------------------------------------- key mapping
def unfold_order(merged: torch.Tensor) -> torch.Tensor:
    """Reorder the concatenated-channel axis (the last) of a patch-merging tensor from Microsoft's
    layout to seglab's (MMSegmentation's ``nn.Unfold`` layout).

    Microsoft's ``PatchMerging`` concatenates the four 2x2 positions position by position, in the
    order (0,0), (1,0), (0,1), (1,1) (row offset first): channel ``p * C + c``. seglab's order is
    channel by channel, positions row-major (0,0), (0,1), (1,0), (1,1): channel ``4 * c + q``. So
    seglab's position ``q`` is Microsoft's ``[0, 2, 1, 3][q]``.
    """
    *lead, four_c = merged.shape
    c = four_c // 4
    by_position = merged.reshape(*lead, 4, c)[..., [0, 2, 1, 3], :]
    return by_position.transpose(-1, -2).reshape(*lead, four_c)


_MS_BLOCK_RENAMES = (("attn.", "attn.w_msa."), ("mlp.fc1.", "ffn.layers.0.0."), ("mlp.fc2.", "ffn.layers.1."))


def swin_key_map(state: StateDict) -> StateDict:
    """Pretrained Swin keys to seglab's. The only key mapping of this family.

    - MMSegmentation layout (``stages.*``, e.g. its ``swin_tiny_patch4_window7_224_20220317-1cdeb081.pth``):
      our names already; a whole-segmentor checkpoint gives its ``backbone.*`` entries.
    - Microsoft layout (``swin_tiny_patch4_window7_224.pth``, entries under ``model``):
      ``layers.i`` -> ``stages.i`` (the patch merging ``layers.i.downsample`` closes stage ``i`` in
      both layouts), ``patch_embed.proj`` -> ``patch_embed.projection``, ``blocks.j.attn.*`` ->
      ``blocks.j.attn.w_msa.*`` (bias tables and ``relative_position_index`` keep their values),
      ``mlp.fc1``/``mlp.fc2`` -> ``ffn.layers.0.0``/``ffn.layers.1``; the patch-merging ``reduction``
      columns and ``norm`` entries are reordered by ``unfold_order``. Dropped: the ImageNet
      classifier ``head.*``, the shifted blocks' ``attn_mask`` buffers (seglab builds masks for the
      actual input size) and the classifier's final ``norm.*`` (MMSegmentation's converter leaves it
      unused too: ``norm3`` keeps its init).
    """
    state = strip_segmentor_prefix(state)
    if not any(k.startswith("layers.") for k in state):
        return state
    converted: StateDict = {}
    dropped = []
    for key, value in state.items():
        if key.startswith(("head.", "norm.")) or key.endswith(".attn_mask"):
            dropped.append(key)
            continue
        new = key.replace("patch_embed.proj.", "patch_embed.projection.", 1)
        match = re.match(r"layers\.(\d+)\.(blocks\.\d+\.)?(.*)", key)
        if match:
            stage, block, name = match.groups()
            if block:
                for old, renamed in _MS_BLOCK_RENAMES:
                    if name.startswith(old):
                        name = renamed + name[len(old):]
                        break
            elif name.startswith("downsample."):
                value = unfold_order(value)  # reduction.weight (out, 4C); norm.weight / norm.bias (4C,)
            new = f"stages.{stage}.{block or ''}{name}"
        converted[new] = value
    logger.info("Swin pretrained weights: renamed Microsoft's layout to MMSegmentation's; dropped %s",
                ", ".join(sorted(dropped)) or "nothing")
    return converted
