"""``EncoderDecoder``: backbone (+ neck) + decode head (+ auxiliary heads), MMSegmentation 0.x's segmentor.

Training::

    feats = extract_feat(img)                      # backbone, then neck
    losses = {'decode.' + k: v for k, v in decode_head.forward_train(feats, ...).items()}
    losses |= {'aux.' + k: v ...}                  # 'aux_0.', 'aux_1.' for a list of aux heads

Testing (one image, possibly several test-time augmentations)::

    probs = inference(img, img_meta, rescale)      # 'whole' or 'slide' logits -> softmax/sigmoid,
                                                   # flipped back; aug_test averages these
    preds = simple_test(...)                       # argmax (or threshold for one channel)

0.x runner steps: ``train_step(data_batch, optimizer)`` / ``val_step`` give ``dict(loss, log_vars,
num_samples)`` (forward only; the caller back-propagates). Subclasses change the decode head
through ``_init_decode_head``, ``_decode_head_forward_train`` and ``_decode_head_forward_test``
(``CascadeEncoderDecoder`` does).

Image metas (``img_metas[i]``) hold ``ori_shape``, ``img_shape`` (before padding), ``pad_shape``,
``flip`` and ``flip_direction``.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import nn

from seglab.errors import ConfigError
from seglab.models.layers import class_ids, resize
from seglab.models.losses import parse_losses
from seglab.models.utils import add_prefix
from seglab.registry import MODELS

TEST_MODES = ("whole", "slide")


def _pair(value: Any, key: str) -> tuple[int, int]:
    """A (h, w) pair of positive ints from ``model.test_cfg.<key>``."""
    if isinstance(value, int) and not isinstance(value, bool):
        value = (value, value)
    if (not isinstance(value, Sequence) or len(value) != 2
            or not all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in value)):
        raise ConfigError(f"model.test_cfg.{key} must be a pair of positive integers (h, w), got {value!r}")
    return int(value[0]), int(value[1])


def check_test_cfg(test_cfg: Mapping) -> None:
    """Raise ``ConfigError`` unless ``test_cfg`` names a known mode with its settings."""
    mode = test_cfg.get("mode", "whole")
    if mode not in TEST_MODES:
        raise ConfigError(f"model.test_cfg.mode must be 'whole' or 'slide', got {mode!r}")
    if mode == "slide":
        for key in ("crop_size", "stride"):
            if key not in test_cfg:
                raise ConfigError(f"model.test_cfg.mode='slide' needs model.test_cfg.{key} (h, w)")
            _pair(test_cfg[key], key)


def slide_windows(h_img: int, w_img: int, crop_size: tuple[int, int],
                  stride: tuple[int, int]) -> list[tuple[int, int, int, int]]:
    """The (y1, y2, x1, x2) windows of 0.x's sliding-window inference, row by row.

    A window starts every ``stride``; the last one of each row/column is moved back to end at
    the image border, and a crop larger than the image is clipped to the image.
    """
    (h_crop, w_crop), (h_stride, w_stride) = crop_size, stride
    h_grids = max(h_img - h_crop + h_stride - 1, 0) // h_stride + 1
    w_grids = max(w_img - w_crop + w_stride - 1, 0) // w_stride + 1
    windows = []
    for h_idx in range(h_grids):
        for w_idx in range(w_grids):
            y2 = min(h_idx * h_stride + h_crop, h_img)
            x2 = min(w_idx * w_stride + w_crop, w_img)
            windows.append((max(y2 - h_crop, 0), y2, max(x2 - w_crop, 0), x2))
    return windows


def _check_same_keys(keys: list[str], device: torch.device) -> None:
    """Every process must log the same values, or averaging them would wait forever (0.x's check)."""
    count = torch.tensor(len(keys), device=device)
    dist.all_reduce(count)
    if int(count) != len(keys) * dist.get_world_size():
        raise RuntimeError(f"loss log variables differ across processes: rank {dist.get_rank()} has "
                           f"{len(keys)}: {', '.join(keys)}")


@MODELS.register
class EncoderDecoder(nn.Module):
    """Encoder-decoder segmentor.

    Args:
        backbone: backbone config; returns a tuple of feature maps.
        decode_head: decode head config; its ``align_corners``, ``num_classes`` and
            ``out_channels`` become the segmentor's.
        neck: optional neck config, applied to the backbone's outputs.
        auxiliary_head: optional auxiliary head config, or a list of them; used in training only.
        train_cfg: passed to the heads' ``forward_train``.
        test_cfg: ``dict(mode='whole')`` or ``dict(mode='slide', crop_size=(h, w), stride=(h, w))``;
            ``None`` means whole-image inference.
        pretrained: checkpoint path or URL of the backbone, set as the backbone config's
            ``pretrained`` key (loaded by ``init_weights()``, never at construction).
        init_cfg: accepted for 0.x compatibility.
    """

    def __init__(self, backbone: Mapping, decode_head: Mapping, neck: Mapping | None = None,
                 auxiliary_head: Mapping | Sequence[Mapping] | None = None,
                 train_cfg: Mapping | None = None, test_cfg: Mapping | None = None,
                 pretrained: str | None = None, init_cfg: Any = None) -> None:
        super().__init__()
        test_cfg = {"mode": "whole"} if test_cfg is None else test_cfg
        check_test_cfg(test_cfg)
        self.backbone = MODELS.build(self._with_pretrained(backbone, pretrained), key="backbone")
        self.neck = MODELS.build(neck, key="neck") if neck is not None else None
        self._init_decode_head(decode_head)
        self.auxiliary_head = self._build_auxiliary(auxiliary_head)
        self.train_cfg = train_cfg
        self.test_cfg = test_cfg
        self.init_cfg = init_cfg

    @staticmethod
    def _with_pretrained(backbone: Mapping, pretrained: str | None) -> Mapping:
        if pretrained is None:
            return backbone
        if not isinstance(backbone, Mapping):
            return backbone  # the registry reports the bad type with its path
        if backbone.get("pretrained") not in (None, pretrained):
            raise ConfigError(f"model.pretrained ({pretrained!r}) and model.backbone.pretrained "
                              f"({backbone['pretrained']!r}) are both set; set only one of them")
        return {**backbone, "pretrained": pretrained}

    def _init_decode_head(self, decode_head: Mapping) -> None:
        """Build ``decode_head``; its ``align_corners``, ``num_classes``, ``out_channels`` become the segmentor's."""
        self.decode_head = MODELS.build(decode_head, key="decode_head")
        self._take_output_attributes(self.decode_head)

    def _take_output_attributes(self, head: nn.Module) -> None:
        self.align_corners = head.align_corners
        self.num_classes = head.num_classes
        self.out_channels = head.out_channels

    def _output_head(self) -> nn.Module:
        """The head whose logits are the prediction."""
        return self.decode_head

    @staticmethod
    def _build_auxiliary(cfg: Mapping | Sequence[Mapping] | None) -> nn.Module | None:
        if cfg is None:
            return None
        if isinstance(cfg, Sequence) and not isinstance(cfg, str):
            return nn.ModuleList(MODELS.build(c, key=f"auxiliary_head.{i}") for i, c in enumerate(cfg))
        return MODELS.build(cfg, key="auxiliary_head")

    @property
    def with_neck(self) -> bool:
        return self.neck is not None

    @property
    def with_auxiliary_head(self) -> bool:
        return self.auxiliary_head is not None

    def init_weights(self) -> None:
        """Let each child initialise itself; the backbone loads its ``pretrained`` weights here."""
        heads = [m for m in (self.decode_head, self.auxiliary_head) if m is not None]
        children = [self.backbone, self.neck,
                    *(h for m in heads for h in (m if isinstance(m, nn.ModuleList) else [m]))]
        for child in children:
            if child is not None and hasattr(child, "init_weights"):
                child.init_weights()

    # ------------------------------------------------------------------ training
    def extract_feat(self, img: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """Backbone features, through the neck when there is one."""
        x = self.backbone(img)
        return self.neck(x) if self.neck is not None else x

    def forward_train(self, img: torch.Tensor, img_metas: list[dict],
                      gt_semantic_seg: torch.Tensor) -> dict[str, torch.Tensor]:
        """Losses of every head on one batch, keys prefixed ``decode.``, ``aux.`` or ``aux_N.``."""
        x = self.extract_feat(img)
        losses = self._decode_head_forward_train(x, img_metas, gt_semantic_seg)
        losses.update(self._auxiliary_head_forward_train(x, img_metas, gt_semantic_seg))
        return losses

    def _decode_head_forward_train(self, x: tuple[torch.Tensor, ...], img_metas: list[dict],
                                   gt_semantic_seg: torch.Tensor) -> dict[str, torch.Tensor]:
        return add_prefix(self.decode_head.forward_train(x, img_metas, gt_semantic_seg, self.train_cfg), "decode")

    def _auxiliary_head_forward_train(self, x: tuple[torch.Tensor, ...], img_metas: list[dict],
                                      gt_semantic_seg: torch.Tensor) -> dict[str, torch.Tensor]:
        """Losses of the auxiliary heads: prefix ``aux``, or ``aux_0``, ``aux_1``, ... for a list."""
        if self.auxiliary_head is None:
            return {}
        if isinstance(self.auxiliary_head, nn.ModuleList):
            heads = [(f"aux_{i}", head) for i, head in enumerate(self.auxiliary_head)]
        else:
            heads = [("aux", self.auxiliary_head)]
        losses = {}
        for prefix, head in heads:
            losses.update(add_prefix(head.forward_train(x, img_metas, gt_semantic_seg, self.train_cfg), prefix))
        return losses

    # ------------------------------------------------------------------ 0.x runner steps
    def train_step(self, data_batch: Mapping[str, Any], optimizer: Any = None) -> dict[str, Any]:
        """0.x's ``train_step``: the losses of one batch as ``dict(loss, log_vars, num_samples)``.

        Like 0.x, it runs the forward pass only; the caller back-propagates ``loss`` and steps the
        optimizer (``optimizer`` is accepted and unused, as in 0.x). ``log_vars`` holds floats.
        """
        loss, log_vars = self._parse_losses(self(**data_batch))
        return {"loss": loss, "log_vars": log_vars, "num_samples": len(data_batch["img_metas"])}

    def val_step(self, data_batch: Mapping[str, Any], optimizer: Any = None) -> dict[str, Any]:
        """``train_step`` for validation batches: ``log_vars`` keys end with ``_val`` (0.x)."""
        loss, log_vars = self._parse_losses(self(**data_batch))
        return {"loss": loss, "log_vars": {f"{k}_val": v for k, v in log_vars.items()},
                "num_samples": len(data_batch["img_metas"])}

    @staticmethod
    def _parse_losses(losses: Mapping[str, Any]) -> tuple[torch.Tensor, dict[str, float]]:
        """0.x's ``_parse_losses``: ``parse_losses``, then the logged values averaged over processes
        and read as floats (one host read for all of them)."""
        loss, log_vars = parse_losses(losses)
        values = torch.stack([v.float().reshape(()) for v in log_vars.values()])
        if dist.is_available() and dist.is_initialized():
            _check_same_keys(list(log_vars), values.device)
            dist.all_reduce(values)
            values = values / dist.get_world_size()
        return loss, dict(zip(log_vars, values.tolist()))

    def forward(self, img: torch.Tensor | list[torch.Tensor], img_metas: list,
                gt_semantic_seg: torch.Tensor | None = None, return_loss: bool = True,
                rescale: bool = True) -> dict[str, torch.Tensor] | list[np.ndarray]:
        """0.x entry point (what DDP wraps): training losses, or ``forward_test`` predictions."""
        if return_loss:
            if gt_semantic_seg is None:
                raise ValueError("forward(return_loss=True) needs gt_semantic_seg")
            return self.forward_train(img, img_metas, gt_semantic_seg)
        return self.forward_test(img, img_metas, rescale=rescale)

    # ------------------------------------------------------------------ testing
    def encode_decode(self, img: torch.Tensor, img_metas: list[dict] | None) -> torch.Tensor:
        """Logits of the decode head, resized (bilinear) to the size of ``img``."""
        out = self._decode_head_forward_test(self.extract_feat(img), img_metas)
        return resize(out, img.shape[2:], mode="bilinear", align_corners=self.align_corners)

    def _decode_head_forward_test(self, x: tuple[torch.Tensor, ...], img_metas: list[dict] | None) -> torch.Tensor:
        return self.decode_head.forward_test(x, img_metas, self.test_cfg)

    def _rescale(self, seg_logit: torch.Tensor, img_meta: list[dict]) -> torch.Tensor:
        """Drop the padding (beyond ``img_shape``), then resize to ``ori_shape``."""
        h, w = img_meta[0]["img_shape"][:2]
        seg_logit = seg_logit[:, :, :h, :w]
        return resize(seg_logit, tuple(img_meta[0]["ori_shape"][:2]), mode="bilinear",
                      align_corners=self.align_corners)

    def whole_inference(self, img: torch.Tensor, img_meta: list[dict], rescale: bool) -> torch.Tensor:
        """Logits of the whole image at once."""
        seg_logit = self.encode_decode(img, img_meta)
        return self._rescale(seg_logit, img_meta) if rescale else seg_logit

    def slide_inference(self, img: torch.Tensor, img_meta: list[dict], rescale: bool) -> torch.Tensor:
        """Logits averaged over overlapping ``crop_size`` windows every ``stride`` (0.x windows).

        All windows have the same size, so they run as one batch; with the model in eval mode
        that equals one forward per window.
        """
        batch, _, h_img, w_img = img.shape
        windows = slide_windows(h_img, w_img, _pair(self.test_cfg["crop_size"], "crop_size"),
                                _pair(self.test_cfg["stride"], "stride"))
        crops = torch.cat([img[:, :, y1:y2, x1:x2] for y1, y2, x1, x2 in windows], dim=0)
        if _channels_last(self.backbone):
            crops = crops.contiguous(memory_format=torch.channels_last)
        crop_logits = self.encode_decode(crops, img_meta).split(batch, dim=0)
        # Sum in the image's dtype (float32 under autocast), as 0.x does.
        preds = img.new_zeros((batch, self.out_channels, h_img, w_img))
        count = img.new_zeros((1, 1, h_img, w_img))
        for (y1, y2, x1, x2), logits in zip(windows, crop_logits):
            preds[:, :, y1:y2, x1:x2] += logits
            count[:, :, y1:y2, x1:x2] += 1
        preds = preds / count
        return self._rescale(preds, img_meta) if rescale else preds

    def inference(self, img: torch.Tensor, img_meta: list[dict], rescale: bool) -> torch.Tensor:
        """Class probabilities (softmax; sigmoid for a one-channel head), flipped back if the
        input was flipped. With ``rescale`` they are at ``ori_shape``."""
        check_test_cfg(self.test_cfg)
        ori_shape = img_meta[0]["ori_shape"]
        if any(meta["ori_shape"] != ori_shape for meta in img_meta):
            raise ValueError("all images of one inference batch must share ori_shape")
        if self.test_cfg.get("mode", "whole") == "slide":
            seg_logit = self.slide_inference(img, img_meta, rescale)
        else:
            seg_logit = self.whole_inference(img, img_meta, rescale)
        output = seg_logit.sigmoid() if self.out_channels == 1 else F.softmax(seg_logit, dim=1)
        flipped = [_flip_dims(meta) for meta in img_meta]
        if any(flipped):  # each image back to its unflipped orientation (a batch may mix them)
            output = torch.stack([o.flip(dims=d) if d else o for o, d in zip(output, flipped)])
        return output

    def _predict(self, probs: torch.Tensor) -> list[np.ndarray]:
        """Class ids per image: argmax, or the decode head's threshold for one channel."""
        if self.out_channels == 1:
            seg_pred = (probs > self._output_head().threshold).squeeze(1).long()
        else:
            seg_pred = class_ids(probs)
        return list(seg_pred.cpu().numpy())

    def simple_test(self, img: torch.Tensor, img_meta: list[dict], rescale: bool = True) -> list[np.ndarray]:
        """Predictions (H, W int64 arrays) of a batch with no test-time augmentation."""
        return self._predict(self.inference(img, img_meta, rescale))

    def aug_test(self, imgs: list[torch.Tensor], img_metas: list[list[dict]],
                 rescale: bool = True) -> list[np.ndarray]:
        """Predictions from the probabilities averaged over every augmentation.

        Augmentations of the same size (an image and its flip) run as one batch: one pass over
        the windows instead of one per augmentation.
        """
        if not rescale:
            raise ValueError("aug_test needs rescale=True: augmentations differ in size")
        by_size: dict[tuple[int, ...], list[int]] = {}
        for i, img in enumerate(imgs):
            by_size.setdefault(tuple(img.shape), []).append(i)
        probs = 0
        for group in by_size.values():
            batch = torch.cat([imgs[i] for i in group])
            out = self.inference(batch, [m for i in group for m in img_metas[i]], rescale)
            probs = probs + sum(out.split(imgs[group[0]].shape[0]))
        return self._predict(probs / len(imgs))

    def forward_test(self, imgs: list[torch.Tensor], img_metas: list[list[dict]],
                     rescale: bool = True) -> list[np.ndarray]:
        """``simple_test`` for one augmentation, ``aug_test`` for several.

        Args:
            imgs: one (N, C, H, W) batch per augmentation.
            img_metas: one list of N metas per augmentation.
            rescale: return predictions at each image's ``ori_shape``.
        """
        for value, name in ((imgs, "imgs"), (img_metas, "img_metas")):
            if not isinstance(value, list):
                raise TypeError(f"forward_test: {name} must be a list (one entry per augmentation), "
                                f"got {type(value).__name__}")
        if len(imgs) != len(img_metas):
            raise ValueError(f"forward_test: {len(imgs)} augmentations of imgs but "
                             f"{len(img_metas)} of img_metas")
        for metas in img_metas:
            for key in ("ori_shape", "img_shape", "pad_shape"):
                if any(meta.get(key) != metas[0].get(key) for meta in metas):
                    raise ValueError(f"forward_test: the images of one batch differ in {key}")
        if len(imgs) == 1:
            return self.simple_test(imgs[0], img_metas[0], rescale=rescale)
        return self.aug_test(imgs, img_metas, rescale=rescale)


def _flip_dims(meta: Mapping[str, Any]) -> tuple[int, ...]:
    """The dims to flip a (C, H, W) output of an image flipped as ``meta`` says: () when not flipped."""
    if not meta.get("flip", False):
        return ()
    direction = meta.get("flip_direction", "horizontal")
    if direction not in ("horizontal", "vertical"):
        raise ValueError(f"flip_direction must be 'horizontal' or 'vertical', got {direction!r}")
    return (2,) if direction == "horizontal" else (1,)


def _channels_last(module: nn.Module) -> bool:
    """Whether the module's first 4-d weight is in channels-last layout (``model.to(memory_format=...)``)."""
    weight = next((p for p in module.parameters() if p.dim() == 4), None)
    return weight is not None and weight.shape[1] > 1 and weight.is_contiguous(memory_format=torch.channels_last) \
        and not weight.is_contiguous()
