"""``seglab browse-dataset``: a PNG grid of training samples after the pipeline, labels overlaid."""
from __future__ import annotations

from pathlib import Path

import cv2
import pytest

from seglab.cli import main
from seglab.data import write_synthetic_dataset

CONFIG = """
img_norm_cfg = dict(mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375], to_rgb=True)
split = dict(type='CustomDataset', data_root={root!r}, img_suffix='.png', seg_map_suffix='.png',
             classes=('background', 'vessel'), palette=[[0, 0, 0], [255, 0, 0]])
data = dict(
    train=dict(split, img_dir='img_dir/train', ann_dir='ann_dir/train', pipeline=[
        dict(type='LoadImageFromFile'), dict(type='LoadAnnotations'),
        dict(type='RandomCrop', crop_size=(24, 24)), dict(type='RandomFlip', prob=0.5),
        dict(type='Normalize', **img_norm_cfg), dict(type='Pad', size=(32, 32), pad_val=0, seg_pad_val=255),
        dict(type='DefaultFormatBundle'), dict(type='Collect', keys=['img', 'gt_semantic_seg'])]),
    val=dict(split, img_dir='img_dir/val', ann_dir='ann_dir/val', pipeline=[dict(type='LoadImageFromFile')]))
"""


@pytest.fixture
def config(tmp_path) -> Path:
    root = write_synthetic_dataset(tmp_path / "data", num_train=3, num_val=1, size=(40, 40))
    path = tmp_path / "cfg.py"
    path.write_text(CONFIG.format(root=str(root)))
    return path


def test_writes_the_grid(config, tmp_path, capsys):
    assert main(["browse-dataset", str(config), "--out", str(tmp_path / "browse"), "--n", "5"]) == 0
    grid = cv2.imread(str(tmp_path / "browse" / "browse_train.png"))
    assert grid is not None and grid.shape[0] > 300 and grid.shape[1] > 300
    assert "5 samples of data.train" in capsys.readouterr().out
    # padding is drawn in the ignore colour, white
    assert (grid == 255).all(axis=2).sum() > 1000


def test_refuses_a_split_without_labels_in_its_pipeline(config, tmp_path, capsys):
    assert main(["browse-dataset", str(config), "--out", str(tmp_path / "x.png"), "--split", "val"]) == 1
    assert "gt_semantic_seg" in capsys.readouterr().err and not (tmp_path / "x.png").exists()

