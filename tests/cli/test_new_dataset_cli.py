"""``seglab new-dataset``: from a folder of images and masks to a config that loads, checks and
trains; on DRIVE its class weights are those of ``seglab class-weights``."""
from __future__ import annotations

import json
import re
from pathlib import Path

import cv2
import numpy as np
import pytest

from seglab.cli import main
from seglab.config import Config
from seglab.data import new_dataset
from seglab.data.synthetic import synthetic_sample

SMALL = ["model.backbone.base_channels=16", "model.decode_head.in_channels=16", "model.decode_head.channels=16",
         "model.auxiliary_head.in_channels=32", "model.auxiliary_head.channels=16", "data.workers_per_gpu=0",
         "data.samples_per_gpu=2", "runner.max_iters=2", "evaluation.interval=2"]


def write_folder(root: Path, count: int = 8, size: tuple[int, int] = (72, 88), scale: int = 255) -> tuple[Path, Path]:
    """``images/NN.jpg`` and ``masks/NN_mask.png`` (vessels saved as ``scale``), unsplit."""
    rng = np.random.default_rng(0)
    (root / "images").mkdir(parents=True)
    (root / "masks").mkdir()
    for i in range(count):
        img, label = synthetic_sample(rng, size)
        assert cv2.imwrite(str(root / "images" / f"{i:02d}.jpg"), img)
        assert cv2.imwrite(str(root / "masks" / f"{i:02d}_mask.png"), label * scale)
    return root / "images", root / "masks"


def weights_in(config: Path) -> list[float]:
    line = next(x for x in config.read_text().splitlines() if "class_weight=[" in x)
    return [float(v) for v in re.search(r"class_weight=\[([^\]]*)\]", line).group(1).split(",")]


def test_generated_folder_to_a_config_that_trains(tmp_path, capsys):
    images, masks = write_folder(tmp_path / "mine")
    before = {p: p.read_bytes() for p in (tmp_path / "mine").rglob("*.*")}
    config = tmp_path / "configs" / "my_data.py"
    assert main(["new-dataset", str(images), str(masks), "--classes", "background,vessel",
                 "--palette", "[[0,0,0],[255,0,0]]", "--out", str(config)]) == 0
    out = capsys.readouterr().out
    assert "label_value_map={255: 1}" in out and "6 training images" in out  # 2 of 8 go to validation
    assert {p: p.read_bytes() for p in (tmp_path / "mine").rglob("*.*")} == before  # no user file moved or changed
    train_names = (tmp_path / "configs" / "my_data_train.txt").read_text().split()
    val_names = (tmp_path / "configs" / "my_data_val.txt").read_text().split()
    assert len(train_names) == 6 and len(val_names) == 2 and not set(train_names) & set(val_names)

    cfg = Config.fromfile(str(config))
    assert cfg.data.train.seg_map_suffix == "_mask.png" and cfg.data.train.img_suffix == ".jpg"
    assert cfg.data.train.label_value_map == {255: 1} and cfg.model.decode_head.num_classes == 2
    assert cfg.crop_size == (64, 64) and cfg.model.test_cfg.crop_size == (64, 64)
    assert main(["print-config", str(config)]) == 0
    assert main(["check-data", str(config), "--split", "all"]) == 0
    capsys.readouterr()
    work_dir = tmp_path / "run"
    assert main(["train", str(config), "--work-dir", str(work_dir), "--no-progress", "--cfg-options", *SMALL]) == 0
    assert (work_dir / "iter_2.pth").is_file()
    # the same files split the same way again
    again = tmp_path / "again.py"
    assert main(["new-dataset", str(images), str(masks), "--classes", "background,vessel", "--out", str(again)]) == 0
    assert (tmp_path / "again_val.txt").read_text().split() == val_names


def test_drive_config_has_the_class_weights_of_class_weights(drive_root, configs_dir, tmp_path, capsys):
    config = tmp_path / "drive.py"
    assert main(["new-dataset", str(drive_root / "images"), str(drive_root / "annotations"),
                 "--classes", "background,vessel", "--out", str(config)]) == 0
    cfg = Config.fromfile(str(config))
    assert cfg.data.train.img_dir == "images/training" and cfg.data.val.ann_dir == "annotations/validation"
    assert cfg.data.train.seg_map_suffix == "_manual1.png" and "split" not in cfg.data.train
    assert cfg.crop_size == (64, 64) and cfg.img_scale == (584, 565)
    out_file = tmp_path / "w.json"
    assert main(["class-weights", str(configs_dir / "_base_" / "datasets" / "drive.py"), "--out", str(out_file),
                 "--cfg-options", f"data.train.dataset.data_root={drive_root}"]) == 0
    assert weights_in(config) == pytest.approx(json.loads(out_file.read_text()), rel=1e-5)


def test_faults_stop_before_a_config_is_written(tmp_path, capsys):
    images, masks = write_folder(tmp_path / "mine", count=3, scale=1)
    (images / "99.jpg").write_bytes((images / "00.jpg").read_bytes())  # an image without a mask
    config = tmp_path / "cfg.py"
    assert main(["new-dataset", str(images), str(masks), "--classes", "background,vessel", "--out", str(config)]) == 1
    out = capsys.readouterr().out
    assert "99.jpg: image without label" in out and "no config written" in out and not config.exists()


def test_base_table_and_refusals(tmp_path, capsys, monkeypatch):
    images, masks = write_folder(tmp_path / "mine", count=3, scale=1)
    args = ["new-dataset", str(images), str(masks), "--classes", "background,vessel"]
    monkeypatch.setitem(new_dataset.BASES, "segformer", "segformer/not_here.py")
    assert main([*args, "--base", "segformer", "--out", str(tmp_path / "a.py")]) == 1
    err = capsys.readouterr().err
    assert "--base segformer" in err and "not in this checkout" in err and "unet" in err
    (tmp_path / "b.py").write_text("# mine\n")
    assert main([*args, "--out", str(tmp_path / "b.py")]) == 1
    assert "--force" in capsys.readouterr().err and (tmp_path / "b.py").read_text() == "# mine\n"
    assert main([*args, "--classes", "one", "--out", str(tmp_path / "c.py")]) == 1


def test_pspnet_base_starts_from_scratch_with_a_note(tmp_path, capsys):
    images, masks = write_folder(tmp_path / "mine", count=3, scale=1)
    config = tmp_path / "psp.py"
    assert main(["new-dataset", str(images), str(masks), "--classes", "background,vessel", "--base", "pspnet",
                 "--out", str(config)]) == 0
    cfg = Config.fromfile(str(config))
    assert cfg.model.pretrained is None and cfg.model.auxiliary_head.num_classes == 2
    assert cfg.crop_size == (64, 64)  # the smallest image side (72) rounded down to a multiple of 32
    assert "open-mmlab://resnet50_v1c" in config.read_text()


def test_split_is_by_name_hash():
    names = [f"img{i}" for i in range(50)]
    split = new_dataset.split_names(names, 0.2)
    assert len(split["val"]) == 10 and sorted(split["train"] + split["val"]) == sorted(names)
    grown = new_dataset.split_names(names + ["new1", "new2"], 0.2)
    assert len(set(split["val"]) - set(grown["val"])) <= 2  # each added name pushes out at most one
