"""Geometric transforms: ``Resize``, ``RandomCrop``, ``RandomFlip``, ``Pad`` (0.x semantics).

Every geometric change is applied to the image and to each map in ``results['seg_fields']``;
label maps are only ever resized with nearest-neighbour interpolation. Randomness comes from
NumPy's global RNG, which the data loader seeds per worker.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import cv2
import numpy as np

from seglab.registry import config_error
from seglab.registry import TRANSFORMS

Scale = tuple[int, int]

_INTERP = {"nearest": cv2.INTER_NEAREST, "bilinear": cv2.INTER_LINEAR}


def rescale_size(w: int, h: int, scale: float | Sequence[float]) -> tuple[tuple[int, int], float]:
    """mmcv's keep-ratio rule: ``((new_w, new_h), factor)``.

    A number is the factor itself; a pair bounds the long edge by ``max(scale)`` and the short
    edge by ``min(scale)``, whichever is tighter. Sizes round half up.
    """
    if isinstance(scale, (int, float)):
        factor = float(scale)
    else:
        factor = min(max(scale) / max(h, w), min(scale) / min(h, w))
    return (int(w * factor + 0.5), int(h * factor + 0.5)), factor


def imresize(img: np.ndarray, size: tuple[int, int], interpolation: str = "bilinear") -> np.ndarray:
    """Resize to ``size = (w, h)`` with OpenCV (bilinear for images, nearest for labels)."""
    if img.shape[1] == size[0] and img.shape[0] == size[1]:
        return img
    return cv2.resize(img, size, interpolation=_INTERP[interpolation])


def as_scale_list(img_scale: Any) -> list[Scale] | None:
    """``(w, h)``, ``[w, h]`` or a list of them -> a list of ``(w, h)`` tuples."""
    if img_scale is None:
        return None
    if isinstance(img_scale, Sequence) and len(img_scale) == 2 and all(isinstance(v, (int, float)) for v in img_scale):
        return [(int(img_scale[0]), int(img_scale[1]))]
    if isinstance(img_scale, Sequence) and img_scale and all(
            isinstance(s, Sequence) and len(s) == 2 for s in img_scale):
        return [(int(s[0]), int(s[1])) for s in img_scale]
    raise config_error(f"img_scale must be a (w, h) pair or a list of pairs, got {img_scale!r}")


@TRANSFORMS.register
class Resize:
    """Resize the image and its label maps to a (random) scale.

    The target ``scale`` is chosen, unless ``results['scale']`` is already set (by
    ``MultiScaleFlipAug``):
    - ``ratio_range`` given: a ratio is drawn uniformly and multiplies ``img_scale`` (or the
      image's own size when ``img_scale`` is None);
    - one ``img_scale``: that scale;
    - several, ``multiscale_mode='range'``: long and short edges drawn between two scales;
    - several, ``multiscale_mode='value'``: one of them at random.
    With ``keep_ratio`` the long edge is at most ``max(scale)`` and the short edge at most
    ``min(scale)``; otherwise the image becomes exactly ``scale = (w, h)``.

    Args:
        img_scale: ``(w, h)`` or a list of them.
        multiscale_mode: ``'range'`` or ``'value'`` (with several scales).
        ratio_range: ``(min, max)`` ratio multiplied with ``img_scale``.
        keep_ratio: keep the aspect ratio.
        min_size: with ``keep_ratio``, the short edge is at least this (0.x option).
    """

    def __init__(self, img_scale: Any = None, multiscale_mode: str = "range",
                 ratio_range: Sequence[float] | None = None, keep_ratio: bool = True,
                 min_size: int | None = None) -> None:
        self.img_scale = as_scale_list(img_scale)
        if ratio_range is not None:
            if len(ratio_range) != 2 or ratio_range[0] > ratio_range[1]:
                raise config_error(f"ratio_range must be (min, max) with min <= max, got {ratio_range!r}")
            if self.img_scale is not None and len(self.img_scale) != 1:
                raise config_error(f"ratio_range needs a single img_scale, got {len(self.img_scale)} scales")
        if multiscale_mode not in ("range", "value"):
            raise config_error(f"multiscale_mode must be 'range' or 'value', got {multiscale_mode!r}")
        if (ratio_range is None and self.img_scale is not None and len(self.img_scale) > 1
                and multiscale_mode == "range" and len(self.img_scale) != 2):
            raise config_error(f"multiscale_mode='range' needs exactly 2 scales, got {len(self.img_scale)}")
        self.multiscale_mode = multiscale_mode
        self.ratio_range = tuple(ratio_range) if ratio_range is not None else None
        self.keep_ratio = keep_ratio
        self.min_size = min_size

    def _random_scale(self, img: np.ndarray) -> tuple[Scale, int | None]:
        if self.ratio_range is not None:
            base = self.img_scale[0] if self.img_scale is not None else (img.shape[1], img.shape[0])
            lo, hi = self.ratio_range
            ratio = np.random.random_sample() * (hi - lo) + lo
            return (int(base[0] * ratio), int(base[1] * ratio)), None
        if self.img_scale is None:
            raise config_error("Resize has no img_scale and no ratio_range, and no scale was set by "
                               "MultiScaleFlipAug; set img_scale=(w, h)")
        if len(self.img_scale) == 1:
            return self.img_scale[0], 0
        if self.multiscale_mode == "range":
            longs = [max(s) for s in self.img_scale]
            shorts = [min(s) for s in self.img_scale]
            long_edge = np.random.randint(min(longs), max(longs) + 1)
            short_edge = np.random.randint(min(shorts), max(shorts) + 1)
            return (int(long_edge), int(short_edge)), None
        idx = np.random.randint(len(self.img_scale))
        return self.img_scale[idx], int(idx)

    def _target_size(self, h: int, w: int, scale: Sequence[float]) -> tuple[int, int]:
        if not self.keep_ratio:
            return int(scale[0]), int(scale[1])
        if self.min_size is not None:
            short = max(min(scale), self.min_size)
            scale = (short * h / w, short) if h > w else (short, short * w / h)
        return rescale_size(w, h, scale)[0]

    def __call__(self, results: dict[str, Any]) -> dict[str, Any]:
        if "scale" not in results:
            results["scale"], results["scale_idx"] = self._random_scale(results["img"])
        img = results["img"]
        h, w = img.shape[:2]
        size = self._target_size(h, w, results["scale"])
        img = imresize(img, size, "bilinear")
        w_scale, h_scale = size[0] / w, size[1] / h
        results.update(img=img, img_shape=img.shape, pad_shape=img.shape, keep_ratio=self.keep_ratio,
                       scale_factor=np.array([w_scale, h_scale, w_scale, h_scale], dtype=np.float32))
        for key in results.get("seg_fields", []):
            results[key] = imresize(results[key], size, "nearest")
        return results

    def __repr__(self) -> str:
        return (f"Resize(img_scale={self.img_scale}, multiscale_mode={self.multiscale_mode!r}, "
                f"ratio_range={self.ratio_range}, keep_ratio={self.keep_ratio})")


@TRANSFORMS.register
class RandomCrop:
    """Crop a random ``crop_size = (h, w)`` window (smaller images are kept whole).

    With ``cat_max_ratio < 1`` up to 10 windows are tried, keeping the first whose label holds
    more than one class and no class (``ignore_index`` not counted) above that share; after 10
    failures an 11th window is taken unchecked, as in 0.x.

    Args:
        crop_size: ``(h, w)`` of the crop.
        cat_max_ratio: the largest share one category may take in the crop.
        ignore_index: label value not counted by ``cat_max_ratio``.
    """

    def __init__(self, crop_size: Sequence[int], cat_max_ratio: float = 1.0, ignore_index: int = 255) -> None:
        if len(crop_size) != 2 or crop_size[0] <= 0 or crop_size[1] <= 0:
            raise config_error(f"crop_size must be (h, w) with positive sizes, got {crop_size!r}")
        self.crop_size = (int(crop_size[0]), int(crop_size[1]))
        self.cat_max_ratio = cat_max_ratio
        self.ignore_index = ignore_index

    def get_crop_bbox(self, img: np.ndarray) -> tuple[int, int, int, int]:
        """A random ``(y1, y2, x1, x2)`` window inside ``img``."""
        margin_h = max(img.shape[0] - self.crop_size[0], 0)
        margin_w = max(img.shape[1] - self.crop_size[1], 0)
        y1 = np.random.randint(0, margin_h + 1)
        x1 = np.random.randint(0, margin_w + 1)
        return y1, y1 + self.crop_size[0], x1, x1 + self.crop_size[1]

    @staticmethod
    def crop(img: np.ndarray, bbox: tuple[int, int, int, int]) -> np.ndarray:
        y1, y2, x1, x2 = bbox
        return img[y1:y2, x1:x2, ...]

    def _balanced(self, label: np.ndarray) -> bool:
        if label.dtype == np.uint8:  # a histogram, not np.unique's sort: up to 10 calls per sample
            counts = np.bincount(label.ravel(), minlength=256)
            if 0 <= self.ignore_index < 256:
                counts[self.ignore_index] = 0
            counts = counts[counts > 0]
        else:
            values, counts = np.unique(label, return_counts=True)
            counts = counts[values != self.ignore_index]
        return len(counts) > 1 and counts.max() / counts.sum() < self.cat_max_ratio

    def __call__(self, results: dict[str, Any]) -> dict[str, Any]:
        img = results["img"]
        bbox = self.get_crop_bbox(img)
        if self.cat_max_ratio < 1.0 and "gt_semantic_seg" in results:
            for _ in range(10):
                if self._balanced(self.crop(results["gt_semantic_seg"], bbox)):
                    break
                bbox = self.get_crop_bbox(img)
        img = self.crop(img, bbox)
        results["img"] = img
        results["img_shape"] = img.shape
        for key in results.get("seg_fields", []):
            results[key] = self.crop(results[key], bbox)
        return results

    def __repr__(self) -> str:
        return f"RandomCrop(crop_size={self.crop_size}, cat_max_ratio={self.cat_max_ratio})"


@TRANSFORMS.register
class RandomFlip:
    """Flip the image and its label maps together with probability ``prob``.

    ``results['flip']`` / ``results['flip_direction']``, when already set (by
    ``MultiScaleFlipAug``), decide instead; with ``prob=None`` nothing is flipped otherwise.

    Args:
        prob: flip probability in [0, 1], or None.
        direction: ``'horizontal'`` or ``'vertical'``.
    """

    def __init__(self, prob: float | None = None, direction: str = "horizontal") -> None:
        if prob is not None and not 0 <= prob <= 1:
            raise config_error(f"prob must be between 0 and 1, got {prob!r}")
        if direction not in ("horizontal", "vertical"):
            raise config_error(f"direction must be 'horizontal' or 'vertical', got {direction!r}")
        self.prob = prob
        self.direction = direction

    @staticmethod
    def flip(img: np.ndarray, direction: str) -> np.ndarray:
        # A contiguous copy: OpenCV and torch.from_numpy reject negative strides.
        return np.ascontiguousarray(img[:, ::-1] if direction == "horizontal" else img[::-1])

    def __call__(self, results: dict[str, Any]) -> dict[str, Any]:
        if "flip" not in results:
            results["flip"] = self.prob is not None and bool(np.random.rand() < self.prob)
        results.setdefault("flip_direction", self.direction)
        if results["flip"]:
            direction = results["flip_direction"]
            results["img"] = self.flip(results["img"], direction)
            for key in results.get("seg_fields", []):
                results[key] = self.flip(results[key], direction)
        return results

    def __repr__(self) -> str:
        return f"RandomFlip(prob={self.prob})"


def pad_to(img: np.ndarray, shape: Sequence[int], value: float) -> np.ndarray:
    """Pad ``img`` at the bottom and right to ``shape = (h, w)`` (never cropped)."""
    h, w = max(int(shape[0]), img.shape[0]), max(int(shape[1]), img.shape[1])
    if (h, w) == img.shape[:2]:
        return img
    out = np.full((h, w) + img.shape[2:], value, dtype=img.dtype)
    out[:img.shape[0], :img.shape[1], ...] = img
    return out


@TRANSFORMS.register
class Pad:
    """Pad the image to a fixed ``size`` or to a multiple of ``size_divisor``; label maps follow.

    Args:
        size: ``(h, w)`` to pad to (exclusive with ``size_divisor``).
        size_divisor: pad height and width up to multiples of this.
        pad_val: value of padded image pixels.
        seg_pad_val: value of padded label pixels (255: ignored).
    """

    def __init__(self, size: Sequence[int] | None = None, size_divisor: int | None = None,
                 pad_val: float = 0, seg_pad_val: int = 255) -> None:
        if (size is None) == (size_divisor is None):
            raise config_error("Pad needs exactly one of size=(h, w) and size_divisor")
        self.size = tuple(size) if size is not None else None
        self.size_divisor = size_divisor
        self.pad_val = pad_val
        self.seg_pad_val = seg_pad_val

    def __call__(self, results: dict[str, Any]) -> dict[str, Any]:
        img = results["img"]
        if self.size is not None:
            shape = self.size
        else:
            d = self.size_divisor
            shape = (-(-img.shape[0] // d) * d, -(-img.shape[1] // d) * d)
        img = pad_to(img, shape, self.pad_val)
        results.update(img=img, pad_shape=img.shape, pad_fixed_size=self.size, pad_size_divisor=self.size_divisor)
        for key in results.get("seg_fields", []):
            results[key] = pad_to(results[key], img.shape[:2], self.seg_pad_val)
        return results

    def __repr__(self) -> str:
        return (f"Pad(size={self.size}, size_divisor={self.size_divisor}, pad_val={self.pad_val}, "
                f"seg_pad_val={self.seg_pad_val})")
