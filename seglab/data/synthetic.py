"""A small synthetic 2-class dataset for ``seglab demo`` and tests, in ``CustomDataset``'s layout.

    root/img_dir/{train,val}/NNN.png   BGR uint8 images
    root/ann_dir/{train,val}/NNN.png   labels: 0 background, 1 foreground

Each image is a textured, noisy reddish background (like a fundus photograph) with a few
thin random curves ("vessels") and blobs in a darker, greener, also noisy colour. A small
UNet learns it within about a minute of CPU training. Dataset config:
``dict(type='CustomDataset', img_suffix='.png', seg_map_suffix='.png', classes=('background', 'foreground'))``.
"""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

CLASSES = ("background", "foreground")
_BACKGROUND_BGR = np.array([60, 90, 170], dtype=np.float32)
_FOREGROUND_BGR = np.array([70, 110, 80], dtype=np.float32)


def _texture(rng: np.random.Generator, h: int, w: int, cell: int, amplitude: float) -> np.ndarray:
    """Smooth random texture: coarse noise upsampled with bicubic interpolation."""
    coarse = rng.normal(0.0, 1.0, size=(h // cell + 2, w // cell + 2, 3)).astype(np.float32)
    return cv2.resize(coarse, (w, h), interpolation=cv2.INTER_CUBIC) * amplitude


def _draw_curve(rng: np.random.Generator, mask: np.ndarray) -> None:
    h, w = mask.shape
    point = rng.uniform([0, 0], [w, h])
    angle = rng.uniform(0, 2 * np.pi)
    step = max(h, w) / 24
    points = [point.copy()]
    for _ in range(int(rng.integers(12, 30))):
        angle += rng.normal(0, 0.35)  # gentle bends
        point = point + step * np.array([np.cos(angle), np.sin(angle)])
        points.append(point.copy())
    thickness = int(rng.integers(1, 4))
    cv2.polylines(mask, [np.round(points).astype(np.int32)], False, 1, thickness=thickness)


def _draw_blob(rng: np.random.Generator, mask: np.ndarray) -> None:
    h, w = mask.shape
    centre = (int(rng.integers(0, w)), int(rng.integers(0, h)))
    axes = (int(rng.integers(3, max(4, w // 10))), int(rng.integers(3, max(4, h // 10))))
    cv2.ellipse(mask, centre, axes, float(rng.uniform(0, 180)), 0, 360, 1, thickness=-1)


def synthetic_sample(rng: np.random.Generator, size: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """One ``(image BGR uint8 (H, W, 3), label uint8 (H, W) in {0, 1})`` pair of ``size = (H, W)``."""
    h, w = size
    label = np.zeros((h, w), dtype=np.uint8)
    for _ in range(int(rng.integers(2, 5))):
        _draw_curve(rng, label)
    for _ in range(int(rng.integers(0, 3))):
        _draw_blob(rng, label)
    background = _BACKGROUND_BGR * rng.uniform(0.8, 1.2) + _texture(rng, h, w, 12, 18.0)
    foreground = _FOREGROUND_BGR * rng.uniform(0.85, 1.15) + _texture(rng, h, w, 6, 12.0)
    img = np.where(label[..., None] == 1, foreground, background)
    img = cv2.GaussianBlur(img, (3, 3), 0.8)  # soft edges, as in real photographs
    img += rng.normal(0.0, 9.0, size=img.shape).astype(np.float32)
    return np.clip(img, 0, 255).astype(np.uint8), label


def write_synthetic_dataset(root: str | Path, num_train: int = 24, num_val: int = 8,
                            size: tuple[int, int] = (96, 96), seed: int = 0) -> Path:
    """Write the dataset under ``root`` (created if needed) and return ``root`` as a Path.

    Args:
        root: output folder.
        num_train: number of training pairs.
        num_val: number of validation pairs.
        size: ``(height, width)`` of every image.
        seed: seed of the generator; the same seed writes the same files.
    """
    root = Path(root)
    rng = np.random.default_rng(seed)
    for split, count in (("train", num_train), ("val", num_val)):
        img_dir, ann_dir = root / "img_dir" / split, root / "ann_dir" / split
        img_dir.mkdir(parents=True, exist_ok=True)
        ann_dir.mkdir(parents=True, exist_ok=True)
        for i in range(count):
            img, label = synthetic_sample(rng, size)
            cv2.imwrite(str(img_dir / f"{i:03d}.png"), img)
            cv2.imwrite(str(ann_dir / f"{i:03d}.png"), label)
    return root
