"""write_synthetic_dataset: layout, determinism and a learnable 2-class signal."""
from __future__ import annotations

import cv2
import numpy as np

from seglab.data import build_dataset, write_synthetic_dataset


def test_layout_and_labels(tmp_path):
    root = write_synthetic_dataset(tmp_path / "syn", num_train=3, num_val=2, size=(32, 40), seed=1)
    assert root == tmp_path / "syn"
    for split, n in (("train", 3), ("val", 2)):
        imgs = sorted((root / "img_dir" / split).glob("*.png"))
        anns = sorted((root / "ann_dir" / split).glob("*.png"))
        assert [p.name for p in imgs] == [p.name for p in anns] and len(imgs) == n
    img = cv2.imread(str(root / "img_dir/train/000.png"), cv2.IMREAD_UNCHANGED)
    label = cv2.imread(str(root / "ann_dir/train/000.png"), cv2.IMREAD_UNCHANGED)
    assert img.shape == (32, 40, 3) and img.dtype == np.uint8 and label.shape == (32, 40)
    labels = np.stack([cv2.imread(str(p), cv2.IMREAD_UNCHANGED) for p in (root / "ann_dir/train").glob("*.png")])
    assert set(np.unique(labels)) == {0, 1}
    assert 0.01 < labels.mean() < 0.4  # thin structures: a minority class, but present


def test_same_seed_same_files(tmp_path):
    a = write_synthetic_dataset(tmp_path / "a", 2, 1, size=(24, 24), seed=5)
    b = write_synthetic_dataset(tmp_path / "b", 2, 1, size=(24, 24), seed=5)
    c = write_synthetic_dataset(tmp_path / "c", 2, 1, size=(24, 24), seed=6)
    for rel in ("img_dir/train/001.png", "ann_dir/val/000.png"):
        assert (a / rel).read_bytes() == (b / rel).read_bytes()
    assert (a / "img_dir/train/000.png").read_bytes() != (c / "img_dir/train/000.png").read_bytes()


def test_foreground_colour_differs_from_background(tmp_path):
    root = write_synthetic_dataset(tmp_path, num_train=4, num_val=0, size=(64, 64), seed=0)
    fg, bg = [], []
    for i in range(4):
        img = cv2.imread(str(root / f"img_dir/train/{i:03d}.png")).astype(np.float32)
        label = cv2.imread(str(root / f"ann_dir/train/{i:03d}.png"), cv2.IMREAD_UNCHANGED)
        fg.append(img[label == 1].mean(0))
        bg.append(img[label == 0].mean(0))
    # red channel (BGR index 2) separates the classes on average
    assert np.mean(bg, 0)[2] - np.mean(fg, 0)[2] > 40


def test_loads_as_custom_dataset(tmp_path):
    root = write_synthetic_dataset(tmp_path, num_train=2, num_val=1, size=(16, 16))
    ds = build_dataset(dict(type="CustomDataset", data_root=str(root), img_dir="img_dir/train",
                            ann_dir="ann_dir/train", img_suffix=".png", seg_map_suffix=".png",
                            classes=("background", "foreground"),
                            pipeline=[dict(type="LoadImageFromFile"), dict(type="LoadAnnotations")]))
    assert len(ds) == 2 and ds[0]["gt_semantic_seg"].shape == (16, 16)
