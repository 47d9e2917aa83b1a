"""Photometric transforms: ``PhotoMetricDistortion`` and ``Normalize`` (0.x semantics).

They change pixel values only, never geometry or labels, and never modify their input array
in place (``MultiScaleFlipAug`` shares one loaded image between augmentations).
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import cv2
import numpy as np

from seglab.registry import config_error
from seglab.errors import DataError
from seglab.registry import TRANSFORMS


def _to_uint8(img: np.ndarray, alpha: float = 1.0, beta: float = 0.0) -> np.ndarray:
    return np.clip(img.astype(np.float32) * alpha + beta, 0, 255).astype(np.uint8)


def _as_uint8(img: np.ndarray) -> np.ndarray:
    return img if img.dtype == np.uint8 else _to_uint8(img)


@TRANSFORMS.register
class PhotoMetricDistortion:
    """Random brightness, contrast, saturation and hue changes of a BGR uint8 image.

    In order, each applied with probability 1/2 (NumPy's global RNG):
    1. brightness: add a value from ``[-brightness_delta, brightness_delta]``;
    2. contrast, here or after step 4 (chosen at random): multiply by a value from ``contrast_range``;
    3. saturation: multiply HSV saturation by a value from ``saturation_range``;
    4. hue: shift HSV hue (0..179) by an integer from ``[-hue_delta, hue_delta)``, wrapping.
    Results are clipped to 0..255 after each step.

    Args:
        brightness_delta: largest brightness shift.
        contrast_range: ``(lower, upper)`` contrast factor.
        saturation_range: ``(lower, upper)`` saturation factor.
        hue_delta: largest hue shift.
    """

    def __init__(self, brightness_delta: int = 32, contrast_range: Sequence[float] = (0.5, 1.5),
                 saturation_range: Sequence[float] = (0.5, 1.5), hue_delta: int = 18) -> None:
        for name, rng in (("contrast_range", contrast_range), ("saturation_range", saturation_range)):
            if len(rng) != 2 or not 0 <= rng[0] <= rng[1]:
                raise config_error(f"{name} must be (lower, upper) with 0 <= lower <= upper, got {rng!r}")
        self.brightness_delta = brightness_delta
        self.contrast_lower, self.contrast_upper = contrast_range
        self.saturation_lower, self.saturation_upper = saturation_range
        self.hue_delta = hue_delta

    def brightness(self, img: np.ndarray) -> np.ndarray:
        if np.random.randint(2):
            return _to_uint8(img, beta=np.random.uniform(-self.brightness_delta, self.brightness_delta))
        return img

    def contrast(self, img: np.ndarray) -> np.ndarray:
        if np.random.randint(2):
            return _to_uint8(img, alpha=np.random.uniform(self.contrast_lower, self.contrast_upper))
        return img

    def saturation(self, img: np.ndarray) -> np.ndarray:
        if np.random.randint(2):
            hsv = cv2.cvtColor(_as_uint8(img), cv2.COLOR_BGR2HSV)
            hsv[..., 1] = _to_uint8(hsv[..., 1], alpha=np.random.uniform(self.saturation_lower, self.saturation_upper))
            return cv2.cvtColor(hsv, cv2.COLOR_HSV2BGR)
        return img

    def hue(self, img: np.ndarray) -> np.ndarray:
        if np.random.randint(2):
            hsv = cv2.cvtColor(_as_uint8(img), cv2.COLOR_BGR2HSV)
            shift = np.random.randint(-self.hue_delta, self.hue_delta) if self.hue_delta > 0 else 0
            hsv[..., 0] = (hsv[..., 0].astype(np.int32) + shift) % 180
            return cv2.cvtColor(hsv, cv2.COLOR_HSV2BGR)
        return img

    def __call__(self, results: dict[str, Any]) -> dict[str, Any]:
        img = self.brightness(results["img"])
        contrast_first = np.random.randint(2) == 1
        if contrast_first:
            img = self.contrast(img)
        img = self.saturation(img)
        img = self.hue(img)
        if not contrast_first:
            img = self.contrast(img)
        results["img"] = img
        return results

    def __repr__(self) -> str:
        return (f"PhotoMetricDistortion(brightness_delta={self.brightness_delta}, "
                f"contrast_range=({self.contrast_lower}, {self.contrast_upper}), "
                f"saturation_range=({self.saturation_lower}, {self.saturation_upper}), hue_delta={self.hue_delta})")


@TRANSFORMS.register
class Normalize:
    """``(img - mean) / std`` in float32, after BGR -> RGB when ``to_rgb``; records ``img_norm_cfg``.

    Args:
        mean: per-channel mean (in the output channel order).
        std: per-channel standard deviation.
        to_rgb: convert the BGR image to RGB first.
    """

    def __init__(self, mean: Sequence[float], std: Sequence[float], to_rgb: bool = True) -> None:
        self.mean = np.array(mean, dtype=np.float32)
        self.std = np.array(std, dtype=np.float32)
        if self.mean.shape != self.std.shape or self.mean.ndim != 1:
            raise config_error(f"mean and std must be lists of equal length, got {list(mean)} and {list(std)}")
        if (self.std == 0).any():
            raise config_error(f"std must not contain 0, got {list(std)}")
        self.to_rgb = to_rgb

    def __call__(self, results: dict[str, Any]) -> dict[str, Any]:
        img = results["img"]
        if self.to_rgb:
            if img.ndim != 3 or img.shape[2] != 3:
                raise DataError(f"Normalize(to_rgb=True) needs a 3-channel image, {results.get('filename')} "
                                f"has shape {img.shape}; set to_rgb=False")
            img = img[..., ::-1]
        img = img.astype(np.float32) - self.mean  # a new array: the input stays untouched
        img *= 1.0 / self.std
        results["img"] = img
        results["img_norm_cfg"] = dict(mean=self.mean, std=self.std, to_rgb=self.to_rgb)
        return results

    def __repr__(self) -> str:
        return f"Normalize(mean={self.mean.tolist()}, std={self.std.tolist()}, to_rgb={self.to_rgb})"
