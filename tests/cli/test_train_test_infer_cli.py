"""The shipped DRIVE config end to end: train, test (metrics + overlays), infer, plot-log;
and an MMSegmentation-style checkpoint (``module.`` prefix, ``state_dict`` wrapper) gives the
same predictions as the seglab checkpoint it came from."""
from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch

from seglab.cli import main
from seglab.config import Config
from seglab.engine.inference import inference_segmentor, init_segmentor

REPO = Path(__file__).resolve().parents[2]
CONFIG = str(REPO / "configs/unet/fcn_unet_s5-d16_64x64_40k_drive.py")
DRIVE = REPO.parent / "shared/data/DRIVE"

# The reference model at a quarter of its width, and validation images at a quarter of their size,
# so the test takes seconds; every other value is the shipped config's.
SMALL = ["model.backbone.base_channels=16", "model.decode_head.in_channels=16", "model.decode_head.channels=16",
         "model.auxiliary_head.in_channels=32", "model.auxiliary_head.channels=16", "data.workers_per_gpu=0",
         "data.samples_per_gpu=2", "data.val.pipeline.1.img_scale=(146,141)",
         "data.test.pipeline.1.img_scale=(146,141)"]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    if not (DRIVE / "images/training").is_dir():
        pytest.skip(f"DRIVE data not found at {DRIVE} (CI always has it)")
    work_dir, drive = tmp_path_factory.mktemp("drive"), DRIVE
    code = main(["train", CONFIG, "--work-dir", str(work_dir),
                 "--no-progress", "--cfg-options", f"data_root={drive}", "runner.max_iters=4",
                 "evaluation.interval=4", "checkpoint_config.interval=2", "log_config.interval=2", *SMALL])
    assert code == 0
    return work_dir, drive


def test_train_on_drive_writes_everything(trained):
    work_dir, _ = trained
    names = {p.name for p in work_dir.iterdir()}
    assert {"fcn_unet_s5-d16_64x64_40k_drive.py", "iter_2.pth", "iter_4.pth", "latest.pth", "plots"} <= names
    assert {"loss.png", "lr.png", "metrics.png"} <= {p.name for p in (work_dir / "plots").iterdir()}
    records = [json.loads(x) for x in next(work_dir.glob("*.log.json")).read_text().splitlines()]
    [val] = [r for r in records if r.get("mode") == "val"]
    assert {"mDice", "aAcc", "Dice.vessel", "Dice.background"} <= set(val)
    dumped = Config.fromfile(str(work_dir / "fcn_unet_s5-d16_64x64_40k_drive.py"))
    assert dumped.data.train.dataset.data_root == dumped.data_root  # data_root override reached the splits


def test_test_command_reports_metrics_and_writes_overlays(trained, tmp_path):
    work_dir, drive = trained
    out, show = tmp_path / "metrics.json", tmp_path / "show"
    code = main(["test", CONFIG, str(work_dir / "latest.pth"),
                 "--eval", "mDice", "mIoU", "--out", str(out), "--show-dir", str(show), "--no-progress",
                 "--data-root", str(drive), "--cfg-options", *SMALL])
    assert code == 0
    metrics = json.loads(out.read_text())
    assert {"mDice", "mIoU", "aAcc"} <= set(metrics)
    overlays = sorted(show.glob("*.png"))
    assert len(overlays) == 20 and overlays[0].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_test_command_reads_the_run_settings_once(trained, capsys):
    work_dir, drive = trained
    code = main(["test", CONFIG, str(work_dir / "latest.pth"), "--eval", "mDice", "--no-progress",
                 "--data-root", str(drive), "--cfg-options", *SMALL, "evaluaton.interval=1"])
    assert code == 0
    assert capsys.readouterr().out.count("config key 'evaluaton' is not used by seglab") == 1


def test_test_command_warns_once_about_more_workers_than_cpus(trained, capsys):
    from seglab.data.loader import usable_cpus

    work_dir, drive = trained
    cpus = usable_cpus()
    if cpus > 8:
        pytest.skip(f"starting {cpus + 1} loader processes to oversubscribe {cpus} CPUs is too many for a test")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        code = main(["test", CONFIG, str(work_dir / "latest.pth"), "--eval", "mDice", "--no-progress",
                     "--data-root", str(drive), "--cfg-options", *SMALL, f"data.workers_per_gpu={cpus + 1}"])
    assert code == 0
    out = capsys.readouterr().out
    assert out.count(f"data.workers_per_gpu={cpus + 1} starts {cpus + 1} loader processes on {cpus} usable") == 1
    assert not [w for w in caught if "worker processes" in str(w.message)]  # PyTorch's, once per loader


def test_infer_writes_masks_and_overlays(trained, tmp_path):
    work_dir, drive = trained
    image = drive / "images/validation/01.png"
    code = main(["infer", CONFIG, str(work_dir / "latest.pth"),
                 str(image), "--out", str(tmp_path), "--cfg-options", *SMALL])
    assert code == 0
    import cv2

    mask = cv2.imread(str(tmp_path / "01_mask.png"), cv2.IMREAD_UNCHANGED)
    assert mask.shape == (584, 565) and set(np.unique(mask)) <= {0, 1}
    assert (tmp_path / "01_overlay.png").is_file()


def test_plot_log_draws_the_run(trained, tmp_path):
    work_dir, _ = trained
    assert main(["plot-log", str(work_dir), "--out", str(tmp_path)]) == 0
    assert {"loss.png", "lr.png", "metrics.png"} <= {p.name for p in tmp_path.iterdir()}


def test_mmseg_style_checkpoint_gives_the_same_prediction(trained, tmp_path):
    work_dir, drive = trained
    cfg = Config.fromfile(CONFIG)
    cfg.merge_from_dict({"model.backbone.base_channels": 16, "model.decode_head.in_channels": 16,
                         "model.decode_head.channels": 16, "model.auxiliary_head.in_channels": 32,
                         "model.auxiliary_head.channels": 16, "data.test.pipeline.1.img_scale": (146, 141)})
    ours = torch.load(work_dir / "latest.pth", weights_only=True)["state_dict"]
    mmseg_file = tmp_path / "mmseg.pth"
    torch.save({"meta": {}, "state_dict": {f"module.{k}": v for k, v in ours.items()}}, mmseg_file)
    image = drive / "images/validation/02.png"
    a = inference_segmentor(init_segmentor(cfg, str(work_dir / "latest.pth")), image)
    b = inference_segmentor(init_segmentor(cfg, str(mmseg_file)), image)
    assert np.array_equal(a, b)
