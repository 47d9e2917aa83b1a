"""Fixtures of the data tests: tiny image/label trees written to tmp_path and 0.x pipelines."""
from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import cv2
import numpy as np
import pytest

NORM = dict(mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375], to_rgb=True)


def drive_train_pipeline(crop: tuple[int, int] = (64, 64), img_scale: tuple[int, int] = (584, 565)) -> list[dict]:
    """train_pipeline of configs/unet/fcn_unet_s5-d16_64x64_40k_drive.py (tests/fixtures/reference-configs.md)."""
    return [
        dict(type="LoadImageFromFile"),
        dict(type="LoadAnnotations"),
        dict(type="Resize", img_scale=img_scale, ratio_range=(0.5, 2.0)),
        dict(type="RandomCrop", crop_size=crop, cat_max_ratio=0.75),
        dict(type="RandomFlip", prob=0.5),
        dict(type="PhotoMetricDistortion"),
        dict(type="Normalize", **NORM),
        dict(type="Pad", size=crop, pad_val=0, seg_pad_val=255),
        dict(type="DefaultFormatBundle"),
        dict(type="Collect", keys=["img", "gt_semantic_seg"]),
    ]


def make_test_pipeline(img_scale: tuple[int, int] = (584, 565), **aug) -> list[dict]:
    """test_pipeline of the same config."""
    return [
        dict(type="LoadImageFromFile"),
        dict(type="MultiScaleFlipAug", img_scale=img_scale, flip=False, **aug, transforms=[
            dict(type="Resize", keep_ratio=True),
            dict(type="RandomFlip"),
            dict(type="Normalize", **NORM),
            dict(type="ImageToTensor", keys=["img"]),
            dict(type="Collect", keys=["img"]),
        ]),
    ]


def write_pair(root: Path, name: str, label: np.ndarray, img_suffix: str = ".png",
               seg_suffix: str = "_seg.png", seed: int = 0) -> None:
    """Write ``img_dir/<name><img_suffix>`` (random BGR) and ``ann_dir/<name><seg_suffix>``."""
    rng = np.random.default_rng(seed)
    img = rng.integers(0, 256, size=label.shape + (3,), dtype=np.uint8)
    for sub, suffix, array in (("img_dir", img_suffix, img), ("ann_dir", seg_suffix, label)):
        path = root / sub / f"{name}{suffix}"
        path.parent.mkdir(parents=True, exist_ok=True)
        assert cv2.imwrite(str(path), array)


@pytest.fixture
def tiny_tree(tmp_path: Path) -> Path:
    """Three 8x10 pairs, one in a subfolder: b, a, sub/c (labels 0/1 with some 255)."""
    rng = np.random.default_rng(1)
    for i, name in enumerate(["b", "a", "sub/c"]):
        label = rng.integers(0, 2, size=(8, 10), dtype=np.uint8)
        label[0, :3] = 255
        write_pair(tmp_path, name, label, seed=i)
    return tmp_path


def tiny_cfg(root: Path, pipeline: list | None = None, **kw) -> dict:
    cfg = dict(type="CustomDataset", data_root=str(root), img_dir="img_dir", ann_dir="ann_dir",
               img_suffix=".png", seg_map_suffix="_seg.png", classes=("bg", "fg"),
               pipeline=pipeline if pipeline is not None else [dict(type="LoadImageFromFile"),
                                                              dict(type="LoadAnnotations")])
    cfg.update(kw)
    return cfg


@pytest.fixture
def helpers() -> SimpleNamespace:
    """The helper functions above (test modules cannot import conftest under importlib mode)."""
    return SimpleNamespace(NORM=NORM, drive_train_pipeline=drive_train_pipeline, test_pipeline=make_test_pipeline,
                           write_pair=write_pair, tiny_cfg=tiny_cfg)
