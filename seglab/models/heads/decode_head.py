"""``BaseDecodeHead``: what every decode head shares (0.x interface).

Subclasses build their layers and implement ``forward(inputs) -> logits``; this class turns
the backbone's tuple of feature maps into the head's input (``in_index`` /
``input_transform``), classifies features (``cls_seg``) and computes the training losses
(``losses``) with the configured ``loss_decode`` entries and pixel ``sampler``.
"""
from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import nn

from seglab.errors import ConfigError
from seglab.models.layers import resize
from seglab.models.losses.accuracy import accuracy
from seglab.registry import MODELS, PIXEL_SAMPLERS, current_build_path

DEFAULT_LOSS = {"type": "CrossEntropyLoss", "use_sigmoid": False, "loss_weight": 1.0}


class BaseDecodeHead(nn.Module):
    """Base class of decode heads.

    Args:
        in_channels: input channels (a list with ``input_transform``).
        channels: channels after the head's own layers, before ``conv_seg``.
        num_classes: number of classes.
        out_channels: logit channels; ``None`` means ``num_classes`` (1 allows a binary
            sigmoid head with ``num_classes=2``).
        threshold: probability threshold of a one-channel head (default 0.3).
        dropout_ratio: dropout before ``conv_seg``.
        conv_cfg: conv layer config.
        norm_cfg: norm layer config.
        act_cfg: activation config.
        in_index: which backbone output(s) the head reads.
        input_transform: ``None``, ``'resize_concat'`` or ``'multiple_select'``.
        loss_decode: one loss config or a list of them.
        ignore_index: label value excluded from losses and accuracy.
        sampler: pixel sampler config (e.g. ``OHEMPixelSampler``) or ``None``.
        align_corners: ``align_corners`` of every resize in the head.
        init_cfg: accepted for 0.x compatibility; ``conv_seg`` is always initialised
            with N(0, 0.01) as 0.x does.
    """

    def __init__(self, in_channels: int | Sequence[int], channels: int, *, num_classes: int,
                 out_channels: int | None = None, threshold: float | None = None,
                 dropout_ratio: float = 0.1, conv_cfg: Mapping | None = None,
                 norm_cfg: Mapping | None = None, act_cfg: Mapping | None = {"type": "ReLU"},
                 in_index: int | Sequence[int] = -1, input_transform: str | None = None,
                 loss_decode: Mapping | Sequence[Mapping] = DEFAULT_LOSS, ignore_index: int = 255,
                 sampler: Mapping | None = None, align_corners: bool = False,
                 init_cfg: Any = None) -> None:
        super().__init__()
        self._init_inputs(in_channels, in_index, input_transform)
        self.channels = channels
        self.num_classes = num_classes
        self.out_channels = self._resolve_out_channels(num_classes, out_channels)
        self.threshold = threshold if threshold is not None else (0.3 if self.out_channels == 1 else None)
        self.dropout_ratio = dropout_ratio
        self.conv_cfg = conv_cfg
        self.norm_cfg = norm_cfg
        self.act_cfg = act_cfg
        self.ignore_index = ignore_index
        self.align_corners = align_corners
        self.loss_decode = self._build_losses(loss_decode)
        self._check_losses(loss_decode)
        self.sampler = PIXEL_SAMPLERS.build(sampler, key="sampler", context=self) if sampler else None
        self.conv_seg = nn.Conv2d(channels, self.out_channels, kernel_size=1)
        self.dropout = nn.Dropout2d(dropout_ratio) if dropout_ratio > 0 else None
        nn.init.normal_(self.conv_seg.weight, mean=0.0, std=0.01)
        nn.init.zeros_(self.conv_seg.bias)

    def extra_repr(self) -> str:
        return (f"input_transform={self.input_transform}, ignore_index={self.ignore_index}, "
                f"align_corners={self.align_corners}")

    def init_weights(self) -> None:
        """Nothing to do: ``conv_seg`` is initialised at construction (N(0, 0.01), bias 0, 0.x's
        ``init_cfg``) and ``ConvModule`` layers initialise themselves. Present so that a 0.x head's
        ``init_weights`` override can call ``super().init_weights()``; the segmentor calls it."""

    @staticmethod
    def _resolve_out_channels(num_classes: int, out_channels: int | None) -> int:
        if out_channels is None:
            return num_classes
        if out_channels not in (1, num_classes):
            raise ConfigError(f"out_channels must be 1 or num_classes ({num_classes}), got {out_channels}")
        return out_channels

    def _build_losses(self, loss_decode: Mapping | Sequence[Mapping]) -> nn.Module:
        if isinstance(loss_decode, Mapping):
            return MODELS.build(loss_decode, key="loss_decode")
        if isinstance(loss_decode, Sequence) and not isinstance(loss_decode, str):
            return nn.ModuleList(MODELS.build(cfg, key=f"loss_decode.{i}") for i, cfg in enumerate(loss_decode))
        raise ConfigError(f"loss_decode must be a dict or a list of dicts, got {type(loss_decode).__name__}")

    def _loss_modules(self) -> list[nn.Module]:
        return list(self.loss_decode) if isinstance(self.loss_decode, nn.ModuleList) else [self.loss_decode]

    def _check_losses(self, loss_decode: Mapping | Sequence[Mapping]) -> None:
        """Build-time checks of loss_decode: a ``loss_name`` on each, one class weight per logit
        channel, and one warning for names the 0.x ``'loss'`` rule treats unexpectedly."""
        head_path = current_build_path() or type(self).__name__
        single = isinstance(loss_decode, Mapping)
        names = []
        for i, loss in enumerate(self._loss_modules()):
            path = f"{head_path}.loss_decode" + ("" if single else f".{i}")
            name = getattr(loss, "loss_name", None)
            if not isinstance(name, str):
                raise ConfigError(f"{path}: {type(loss).__name__} has no loss_name property; every loss of "
                                  "a head needs one (it is the key its value is logged under)")
            names.append(name)
            class_weight = getattr(loss, "class_weight", None)
            if class_weight is not None and len(class_weight) != self.out_channels:
                raise ConfigError(
                    f"{path}.class_weight has {len(class_weight)} values but {type(self).__name__} predicts "
                    f"{self.out_channels} classes (num_classes={self.num_classes}, out_channels="
                    f"{self.out_channels}); give exactly one weight per class")
        self._warn_loss_names(head_path, names)

    @staticmethod
    def _warn_loss_names(head_path: str, names: list[str]) -> None:
        unusual = [n for n in dict.fromkeys(names) if not n.startswith("loss_")]
        if not unusual:
            return
        ignored = [n for n in unusual if "loss" not in n]
        counted = [n for n in unusual if "loss" in n]
        parts = []
        if ignored:
            parts.append(f"{', '.join(map(repr, ignored))} will be logged but NOT optimised (only keys "
                         "containing 'loss' enter the total)")
        if counted:
            parts.append(f"{', '.join(map(repr, counted))} is optimised only because it contains 'loss'")
        warnings.warn(f"{head_path}.loss_decode: loss_name {'; '.join(parts)}. Start loss names with 'loss_'.",
                      UserWarning, stacklevel=3)

    def _init_inputs(self, in_channels: int | Sequence[int], in_index: int | Sequence[int],
                     input_transform: str | None) -> None:
        if input_transform not in (None, "resize_concat", "multiple_select"):
            raise ConfigError(f"input_transform must be None, 'resize_concat' or 'multiple_select', "
                              f"got {input_transform!r}")
        self.input_transform = input_transform
        self.in_index = in_index
        if input_transform is None:
            if not isinstance(in_channels, int) or not isinstance(in_index, int):
                raise ConfigError("in_channels and in_index must be integers when input_transform is None, "
                                  f"got {in_channels!r} and {in_index!r}")
            self.in_channels = in_channels
            return
        if isinstance(in_channels, int) or isinstance(in_index, int) or len(in_channels) != len(in_index):
            raise ConfigError(f"with input_transform={input_transform!r}, in_channels and in_index must be "
                              f"lists of the same length, got {in_channels!r} and {in_index!r}")
        self.in_index = list(in_index)
        self.in_channels = sum(in_channels) if input_transform == "resize_concat" else list(in_channels)

    def _require_one_input(self) -> None:
        """For heads that read one feature map (after ``resize_concat`` at most)."""
        if not isinstance(self.in_channels, int):
            raise ConfigError(f"{type(self).__name__} reads one feature map: use input_transform=None or "
                              f"'resize_concat', not {self.input_transform!r}")

    def _require_multiple_inputs(self) -> None:
        """For heads that read several feature maps, each at its own resolution."""
        if self.input_transform != "multiple_select":
            raise ConfigError(f"{type(self).__name__} reads several feature maps: it needs "
                              f"input_transform='multiple_select' (its default), not {self.input_transform!r}")

    def _transform_inputs(self, inputs: Sequence[torch.Tensor]) -> torch.Tensor | list[torch.Tensor]:
        """Pick (and for ``resize_concat`` upsample and concatenate) the backbone outputs."""
        if self.input_transform is None:
            return inputs[self.in_index]
        selected = [inputs[i] for i in self.in_index]
        if self.input_transform == "multiple_select":
            return selected
        size = selected[0].shape[2:]
        return torch.cat([resize(x, size, mode="bilinear", align_corners=self.align_corners)
                          for x in selected], dim=1)

    def cls_seg(self, feat: torch.Tensor) -> torch.Tensor:
        """Per-pixel class logits of the head's features."""
        if self.dropout is not None:
            feat = self.dropout(feat)
        return self.conv_seg(feat)

    def losses(self, seg_logit: torch.Tensor, seg_label: torch.Tensor) -> dict[str, torch.Tensor]:
        """Training losses of logits (N,C,h,w) against labels (N,1,H,W).

        The logits are resized (bilinear, the head's ``align_corners``) to the label size and
        computed in float32. With a sampler, its weight map goes to every loss as ``weight``.
        Each ``loss_decode`` entry is stored under its ``loss_name`` (equal names are added).
        Also returned, without gradient: ``acc_seg`` (pixel accuracy in %, ignored pixels left
        out) and, with a sampler, ``ohem_kept`` (fraction of valid pixels the sampler kept);
        neither key contains ``'loss'``, so both are logged, not optimised.
        """
        seg_logit = seg_logit.float()
        if seg_logit.shape[2:] != seg_label.shape[2:]:
            seg_logit = resize(seg_logit, size=seg_label.shape[2:], mode="bilinear",
                               align_corners=self.align_corners)
        seg_weight = self.sampler.sample(seg_logit, seg_label) if self.sampler is not None else None
        label = seg_label.squeeze(1)
        losses: dict[str, torch.Tensor] = {}
        for loss_module in self._loss_modules():
            value = loss_module(seg_logit, label, weight=seg_weight, ignore_index=self.ignore_index)
            name = loss_module.loss_name
            losses[name] = losses[name] + value if name in losses else value
        valid = label != self.ignore_index
        losses["acc_seg"] = self._accuracy(seg_logit, label, valid)
        if seg_weight is not None:
            losses["ohem_kept"] = seg_weight.detach().sum() / valid.sum().clamp(min=1)
        return losses

    @torch.no_grad()
    def _accuracy(self, seg_logit: torch.Tensor, label: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
        """Pixel accuracy in % over valid pixels, with 0.x's eps (an all-ignored batch reads 100)."""
        if self.out_channels != 1:
            return accuracy(seg_logit, label, ignore_index=self.ignore_index).reshape(())
        pred = (seg_logit.squeeze(1).sigmoid() > self.threshold).long()
        correct = ((pred == label) & valid).sum().float()
        eps = torch.finfo(torch.float32).eps
        return (correct + eps) * (100.0 / (valid.sum().float() + eps))

    def forward(self, inputs: Sequence[torch.Tensor]) -> torch.Tensor:
        raise NotImplementedError(f"{type(self).__name__} must implement forward(inputs)")

    def forward_train(self, inputs: Sequence[torch.Tensor], img_metas: list[dict],
                      gt_semantic_seg: torch.Tensor, train_cfg: Mapping | None = None) -> dict[str, torch.Tensor]:
        """Logits of ``inputs``, then their losses against ``gt_semantic_seg`` (N,1,H,W)."""
        return self.losses(self(inputs), gt_semantic_seg)

    def forward_test(self, inputs: Sequence[torch.Tensor], img_metas: list[dict],
                     test_cfg: Mapping | None = None) -> torch.Tensor:
        return self(inputs)
