"""The run report of a short DRIVE run with all four tricks on (head lr x10, OHEM, class weights,
CE + Dice), opened in headless Chromium; and the TensorBoard and wandb loggers of the same run."""
from __future__ import annotations

import json
import struct
from pathlib import Path

import pytest

from seglab.cli import main
from seglab.report.browser import check_page, find_chromium

REPO = Path(__file__).resolve().parents[2]
CONFIG = str(REPO / "configs/unet/fcn_unet_s5-d16_64x64_40k_drive.py")
DRIVE = REPO.parent / "shared/data/DRIVE"
SECTIONS = ["summary", "losses", "lr", "ohem", "class-weights", "metrics", "confusion", "predictions", "config"]

# The shipped config at a quarter of its width, 4 validation images at a quarter of their size
# (so the run takes seconds), and the four tricks.
OPTIONS = [
    "model.backbone.base_channels=16", "model.decode_head.in_channels=16", "model.decode_head.channels=16",
    "model.auxiliary_head.in_channels=32", "model.auxiliary_head.channels=16", "data.workers_per_gpu=0",
    "data.samples_per_gpu=2", "data.val.pipeline.1.img_scale=(146,141)", "runner.max_iters=4",
    "evaluation.interval=4", "checkpoint_config.interval=0", "log_config.interval=1",
    "optimizer.paramwise_cfg.custom_keys.head.lr_mult=10.0",
    "model.decode_head.sampler.type=OHEMPixelSampler", "model.decode_head.sampler.thresh=0.7",
    "model.decode_head.sampler.min_kept=100",
    "model.decode_head.loss_decode=[{'type': 'CrossEntropyLoss', 'loss_name': 'loss_ce', 'class_weight': [0.5, 4.0]},"
    " {'type': 'DiceLoss', 'loss_name': 'loss_dice', 'loss_weight': 3.0}]",
]


def _installed(module: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(module) is not None


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    if not (DRIVE / "images/training").is_dir():
        pytest.skip(f"DRIVE data not found at {DRIVE} (CI always has it)")
    root = tmp_path_factory.mktemp("report")
    split = root / "val.txt"
    split.write_text("01\n02\n03\n04\n")
    loggers = [{"type": "TextLoggerHook", "by_epoch": False}]
    if _installed("tensorboard"):
        loggers.append({"type": "TensorboardLoggerHook"})
    if _installed("wandb"):
        loggers.append({"type": "WandbLoggerHook", "init_kwargs": {"project": "seglab-test"}})
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("WANDB_MODE", "offline")
        mp.setenv("WANDB_DIR", str(root))
        mp.setenv("WANDB_SILENT", "true")
        code = main(["train", CONFIG, "--work-dir", str(root / "work"), "--no-progress", "--cfg-options",
                     f"data_root={DRIVE}", f"data.val.split={split}", f"log_config.hooks={loggers!r}", *OPTIONS])
    assert code == 0
    return root


def test_report_data_files_hold_what_each_trick_did(run):
    work = run / "work"
    page = (work / "report.html").read_text()
    for section in SECTIONS:
        assert f'<section id="{section}">' in page
    assert "http://" not in page and "https://" not in page  # nothing to fetch: it opens from disk
    data = json.loads((work / "report/run.json").read_text())
    assert data["command"].startswith("seglab train ") and "lr_mult=10.0" in data["command"]
    assert {(r["rule"], r["log_key"]) for r in data["lr_rules"]} == {("default", "lr_default"),
                                                                     ("custom_keys['head']", "lr_head")}
    assert [(loss["key"], loss["class_weight"]) for loss in data["losses"]] == [
        ("decode.loss_ce", [0.5, 4.0]), ("decode.loss_dice", None), ("aux.loss_ce", None)]
    assert [s["key"] for s in data["samplers"]] == ["decode.ohem_kept"]
    counts = json.loads((work / "report/label_counts.json").read_text())
    assert counts["classes"] == ["background", "vessel"] and counts["images"] == 20
    assert 0.05 < counts["counts"][1] / sum(counts["counts"]) < 0.12  # vessels are ~8.6% of the labels
    picks = json.loads((work / "report/picks.json").read_text())
    assert [p["which"] for p in picks] == ["best", "median", "worst"] and picks[0]["dice"] >= picks[-1]["dice"]
    assert "lr_head / lr_default" in page and "decode.ohem_kept" in page and "decode.loss_dice" in page


def test_report_renders_in_headless_chromium(run):
    if find_chromium() is None:
        pytest.skip("no Chromium on PATH: apt-get install chromium (.ci/run installs it where apt is available)")
    seen = check_page(run / "work/report.html")
    assert seen.sections == SECTIONS
    assert seen.images == 8 and seen.broken == []  # 5 figures and 3 overlays, each with naturalWidth > 0
    assert seen.errors == [] and seen.console == []


def test_seglab_report_rebuilds_the_page_from_the_work_dir(run, tmp_path, capsys):
    out = tmp_path / "again.html"
    assert main(["report", str(run / "work"), "--out", str(out)]) == 0
    assert str(out) in capsys.readouterr().out
    page = out.read_text()
    assert all(f'<section id="{s}">' in page for s in SECTIONS)
    assert 'class="note"' not in page.split('<section id="config">')[0]  # nothing is missing before the config
    assert "model.decode_head.sampler.thresh" in page  # a key the command line added, marked


def test_tensorboard_events_hold_every_scalar(run):
    if not _installed("tensorboard"):
        pytest.skip("tensorboard is not installed: pip install 'seglab[tensorboard]'")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(run / "work/tf_logs"))
    events.Reload()
    tags = set(events.Tags()["scalars"])
    assert {"learning_rate", "train/lr_head", "train/lr_default", "train/decode.ohem_kept", "train/decode.loss_ce",
            "train/decode.loss_dice", "train/aux.loss_ce", "train/loss", "val/mDice", "val/Dice.vessel"} <= tags
    head = {e.step: e.value for e in events.Scalars("train/lr_head")}
    default = {e.step: e.value for e in events.Scalars("train/lr_default")}
    assert sorted(head) == [1, 2, 3, 4]
    assert all(head[s] > 9 * default[s] for s in head)  # lr_mult=10 (poly's absolute min_lr bends it a little)


def wandb_history(run_file: Path) -> list[dict]:
    """The history rows of an offline wandb run file: a LevelDB-style log of protobuf records
    (7-byte file header, 32 KiB blocks, each chunk with a 7-byte header: crc, length, type)."""
    from wandb.proto import wandb_internal_pb2

    raw, rows, pos, pending = run_file.read_bytes(), [], 7, b""
    while pos + 7 <= len(raw):
        if 32768 - pos % 32768 < 7:  # a block's tail too short for a header is padding
            pos += 32768 - pos % 32768
            continue
        _, length, kind = struct.unpack("<IHB", raw[pos:pos + 7])
        chunk, pos = raw[pos + 7:pos + 7 + length], pos + 7 + length
        if kind == 0:
            break
        pending = chunk if kind in (1, 2) else pending + chunk
        if kind in (1, 4):  # a full record, or the last chunk of one
            record = wandb_internal_pb2.Record()
            record.ParseFromString(pending)
            if record.WhichOneof("record_type") == "history":
                rows.append({item.key or "/".join(item.nested_key): json.loads(item.value_json)
                             for item in record.history.item})
    return rows


def test_wandb_offline_run_holds_every_scalar(run):
    if not _installed("wandb"):
        pytest.skip("wandb is not installed: pip install 'seglab[wandb]'")
    [run_file] = (run / "wandb").glob("offline-run-*/run-*.wandb")
    rows = wandb_history(run_file)
    assert [row["_step"] for row in rows] == [1, 2, 3, 4]
    keys = set().union(*rows)
    assert {"learning_rate", "train/lr_head", "train/lr_default", "train/decode.ohem_kept", "train/decode.loss_ce",
            "train/decode.loss_dice", "train/aux.loss_ce", "train/loss", "val/mDice"} <= keys
    assert rows[-1]["val/mDice"] > 0  # the evaluation shares the last iteration's step
