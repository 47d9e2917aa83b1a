"""DRIVE with its vessel masks saved as 0/255 (as most binary masks are saved): ``seglab train``
stops before the first iteration with the fix, and the fix it suggests trains and evaluates."""
from __future__ import annotations

import json
import math
import re
import shutil
from pathlib import Path

import cv2
import pytest

from seglab.cli import main

REPO = Path(__file__).resolve().parents[2]
CONFIG = str(REPO / "configs/unet/fcn_unet_s5-d16_64x64_40k_drive.py")
# the shipped config at a quarter of its width, validation images at a quarter of their size
SMALL = ["model.backbone.base_channels=16", "model.decode_head.in_channels=16", "model.decode_head.channels=16",
         "model.auxiliary_head.in_channels=32", "model.auxiliary_head.channels=16", "data.workers_per_gpu=0",
         "data.samples_per_gpu=2", "data.val.pipeline.1.img_scale=(146,141)", "runner.max_iters=2",
         "evaluation.interval=2", "log_config.interval=1"]


@pytest.fixture
def drive_0_255(drive_root, tmp_path) -> Path:
    """Three training pairs and one validation pair of DRIVE, labels saved as 0/255."""
    root = tmp_path / "DRIVE"
    for split, names in (("training", ["21", "22", "23"]), ("validation", ["01"])):
        (root / "images" / split).mkdir(parents=True)
        (root / "annotations" / split).mkdir(parents=True)
        for nn in names:
            shutil.copy(drive_root / "images" / split / f"{nn}.png", root / "images" / split)
            label = cv2.imread(str(drive_root / "annotations" / split / f"{nn}_manual1.png"), cv2.IMREAD_UNCHANGED)
            assert set(label.ravel().tolist()) == {0, 1}
            cv2.imwrite(str(root / "annotations" / split / f"{nn}_manual1.png"), label * 255)
    return root


def test_0_255_drive_stops_before_training_and_the_fix_trains(drive_0_255, tmp_path, capsys):
    args = ["train", CONFIG, "--no-progress", "--data-root", str(drive_0_255)]
    assert main([*args, "--work-dir", str(tmp_path / "stopped"), "--cfg-options", *SMALL]) == 1
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "holds only 0 and 255" in err and "'vessel' is never learned" in err
    assert "21_manual1.png" in err and "tools/convert_masks.py" in err
    log = next((tmp_path / "stopped").glob("*.log")).read_text()
    assert "Iter [" not in log and not list((tmp_path / "stopped").glob("*.pth"))

    fix = re.findall(r"'(data\.[\w.]+=\{255: 1\})'", err)
    assert "data.train.dataset.label_value_map={255: 1}" in fix and "data.val.label_value_map={255: 1}" in fix
    work_dir = tmp_path / "fixed"
    assert main([*args, "--work-dir", str(work_dir), "--cfg-options", *SMALL, *fix]) == 0
    records = [json.loads(x) for x in next(work_dir.glob("*.log.json")).read_text().splitlines()]
    assert [r["iter"] for r in records if r.get("mode") == "train"] == [1, 2]
    [val] = [r for r in records if r.get("mode") == "val"]
    assert math.isfinite(val["Acc.vessel"])  # NaN unless the validation labels hold vessels: the map applies there
