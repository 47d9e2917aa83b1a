"""Normalize and PhotoMetricDistortion on small arrays."""
from __future__ import annotations

import cv2
import numpy as np
import pytest

from seglab.data.transforms import Normalize, PhotoMetricDistortion
from seglab.errors import ConfigError, DataError


def test_normalize_converts_bgr_to_rgb_then_standardises():
    img = np.array([[[10, 20, 30]]], dtype=np.uint8)  # B=10, G=20, R=30
    before = img.copy()
    r = Normalize(mean=[1, 2, 3], std=[2, 2, 2], to_rgb=True)({"img": img})
    np.testing.assert_allclose(r["img"][0, 0], [(30 - 1) / 2, (20 - 2) / 2, (10 - 3) / 2])
    assert r["img"].dtype == np.float32
    np.testing.assert_array_equal(img, before)  # the input is not modified
    cfg = r["img_norm_cfg"]
    np.testing.assert_array_equal(cfg["mean"], [1, 2, 3])
    np.testing.assert_array_equal(cfg["std"], [2, 2, 2])
    assert cfg["to_rgb"] is True
    r = Normalize(mean=[1, 2, 3], std=[2, 2, 2], to_rgb=False)({"img": img})
    np.testing.assert_allclose(r["img"][0, 0], [(10 - 1) / 2, (20 - 2) / 2, (30 - 3) / 2])


def test_normalize_errors():
    with pytest.raises(ConfigError, match="equal length"):
        Normalize(mean=[1, 2, 3], std=[1, 2])
    with pytest.raises(ConfigError, match="must not contain 0"):
        Normalize(mean=[1, 2, 3], std=[1, 0, 1])
    with pytest.raises(DataError, match="gray.png"):
        Normalize(mean=[0], std=[1])({"img": np.zeros((2, 2), np.uint8), "filename": "gray.png"})


def _grey(value: int = 128) -> np.ndarray:
    return np.full((4, 5, 3), value, dtype=np.uint8)


def test_brightness_shift_is_uniform_and_bounded():
    t = PhotoMetricDistortion(brightness_delta=32, contrast_range=(1, 1), saturation_range=(1, 1), hue_delta=0)
    shifts = []
    for seed in range(60):
        np.random.seed(seed)
        out = t({"img": _grey()})["img"]
        assert out.dtype == np.uint8 and out.shape == (4, 5, 3)
        assert len(np.unique(out)) == 1  # one shift for every pixel of a grey image
        shifts.append(int(out[0, 0, 0]) - 128)
    assert all(-32 <= s <= 32 for s in shifts)
    assert 0 in shifts and any(s != 0 for s in shifts)  # applied with probability 1/2


def test_contrast_scales_values_within_range_and_clips():
    t = PhotoMetricDistortion(brightness_delta=0, contrast_range=(0.5, 1.5), saturation_range=(1, 1), hue_delta=0)
    values = set()
    for seed in range(60):
        np.random.seed(seed)
        values.add(int(t({"img": _grey(200)})["img"][0, 0, 0]))
    assert min(values) >= 100 and max(values) == 255  # 200 * [0.5, 1.5], clipped to 255
    assert len(values) > 5


def test_hue_shift_stays_within_delta():
    img = np.zeros((2, 2, 3), dtype=np.uint8)
    img[..., 2] = 200  # pure red: hue 0
    img[..., 1] = 100  # orange-ish: hue 15
    hue0 = int(cv2.cvtColor(img, cv2.COLOR_BGR2HSV)[0, 0, 0])
    t = PhotoMetricDistortion(brightness_delta=0, contrast_range=(1, 1), saturation_range=(1, 1), hue_delta=10)
    for seed in range(30):
        np.random.seed(seed)
        hue = int(cv2.cvtColor(t({"img": img})["img"], cv2.COLOR_BGR2HSV)[0, 0, 0])
        diff = min(abs(hue - hue0), 180 - abs(hue - hue0))
        assert diff <= 11  # delta plus HSV round-off


def test_photometric_does_not_touch_input_or_labels():
    rng = np.random.default_rng(0)
    img = rng.integers(0, 256, (6, 6, 3), dtype=np.uint8)
    label = rng.integers(0, 2, (6, 6), dtype=np.uint8)
    before = img.copy()
    np.random.seed(1)
    r = PhotoMetricDistortion()({"img": img, "gt_semantic_seg": label.copy()})
    np.testing.assert_array_equal(img, before)
    np.testing.assert_array_equal(r["gt_semantic_seg"], label)


def test_photometric_range_validation():
    with pytest.raises(ConfigError, match="contrast_range"):
        PhotoMetricDistortion(contrast_range=(1.5, 0.5))
