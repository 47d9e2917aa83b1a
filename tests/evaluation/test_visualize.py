"""Colour maps, overlays and PNG writing."""
from __future__ import annotations

import cv2
import numpy as np
import pytest

from seglab.errors import DataError
from seglab.evaluation import colorize, default_palette, overlay, save_png

PALETTE = [[255, 0, 0], [0, 255, 0], [0, 0, 200]]  # RGB


def test_default_palette_is_deterministic_and_distinct():
    palette = default_palette(300)
    assert palette == default_palette(300)
    assert palette[:4] == [[0, 0, 0], [128, 0, 0], [0, 128, 0], [128, 128, 0]]
    assert len({tuple(c) for c in palette}) == 300
    assert all(0 <= v <= 255 for c in palette for v in c)


def test_colorize_is_rgb_and_unknown_ids_black():
    seg = np.array([[0, 1], [2, 255]])
    img = colorize(seg, PALETTE)
    assert img.shape == (2, 2, 3) and img.dtype == np.uint8
    assert img[0, 0].tolist() == [255, 0, 0]
    assert img[1, 0].tolist() == [0, 0, 200]
    assert img[1, 1].tolist() == [0, 0, 0]


def test_overlay_blends_in_bgr_and_leaves_ignored_pixels():
    image = np.full((2, 2, 3), 100, dtype=np.uint8)
    seg = np.array([[0, 1], [2, 255]])
    out = overlay(image, seg, PALETTE, opacity=0.5)
    assert out.shape == (2, 2, 3) and out.dtype == np.uint8
    assert out[0, 0].tolist() == [50, 50, 178]  # red in BGR: (0, 0, 255) half over 100
    assert out[1, 0].tolist() == [150, 50, 50]  # RGB (0, 0, 200) is BGR (200, 0, 0)
    assert out[1, 1].tolist() == [100, 100, 100]  # ignore index: image unchanged
    assert np.array_equal(overlay(image, seg, PALETTE, opacity=0.0), image)
    full = overlay(image, seg, PALETTE, opacity=1.0)
    assert full[0, 1].tolist() == [0, 255, 0]


def test_overlay_grey_image_and_errors():
    grey = np.full((3, 4), 10, dtype=np.uint8)
    out = overlay(grey, np.zeros((3, 4), dtype=np.int64), PALETTE, opacity=1.0)
    assert out.shape == (3, 4, 3) and out[0, 0].tolist() == [0, 0, 255]
    with pytest.raises(DataError, match=r"\(2, 4\) does not match the image of shape \(3, 4\)"):
        overlay(grey, np.zeros((2, 4), dtype=np.int64), PALETTE)
    with pytest.raises(DataError, match="opacity"):
        overlay(grey, np.zeros((3, 4), dtype=np.int64), PALETTE, opacity=1.5)
    with pytest.raises(DataError, match="palette"):
        colorize(np.zeros((3, 4), dtype=np.int64), [1, 2, 3])


def test_save_png_creates_folders_and_round_trips(tmp_path):
    image = overlay(np.full((5, 6, 3), 30, np.uint8), np.ones((5, 6), np.int64), default_palette(2))
    path = save_png(tmp_path / "a" / "b" / "x.png", image)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert np.array_equal(cv2.imread(str(path), cv2.IMREAD_COLOR), image)


def test_comparison_grid_is_a_png(tmp_path):
    from seglab.evaluation.visualize import save_comparison_grid

    image = np.zeros((6, 5, 3), np.uint8)
    gt = np.array([[0, 1, 255, 1, 0]] * 6)
    path = save_comparison_grid(tmp_path / "grid.png", [(image, gt, gt.clip(0, 1))] * 2, [[0, 0, 0], [255, 0, 0]])
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_training_sample_picture_undoes_normalize(tmp_path):
    from seglab.data import build_dataset, write_synthetic_dataset
    from seglab.evaluation.visualize import training_sample_picture

    root = write_synthetic_dataset(tmp_path, num_train=1, num_val=0, size=(8, 10))
    pipeline = [dict(type="LoadImageFromFile"), dict(type="LoadAnnotations"), dict(type="RandomFlip", prob=0.0),
                dict(type="Normalize", mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375], to_rgb=True),
                dict(type="DefaultFormatBundle"), dict(type="Collect", keys=["img", "gt_semantic_seg"])]
    dataset = build_dataset(dict(type="CustomDataset", data_root=str(root), img_dir="img_dir/train",
                                 ann_dir="ann_dir/train", img_suffix=".png", seg_map_suffix=".png",
                                 classes=("bg", "fg"), pipeline=pipeline))
    image, label = training_sample_picture(dataset[0])
    np.testing.assert_array_equal(image, cv2.imread(str(root / "img_dir/train/000.png")))
    np.testing.assert_array_equal(label, cv2.imread(str(root / "ann_dir/train/000.png"), cv2.IMREAD_UNCHANGED))
