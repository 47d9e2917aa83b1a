"""Each training trick switched on in a real (small) training run, checked in the JSON log."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from seglab.cli import main


def train_records(work_dir: Path) -> list[dict]:
    [log] = sorted(work_dir.glob("*.log.json"))
    return [r for r in map(json.loads, log.read_text().splitlines()) if r.get("mode") == "train"]


def train(config: Path, work_dir: Path, *options: str) -> list[dict]:
    args = ["train", str(config), "--work-dir", str(work_dir), "--no-progress"]
    assert main(args + (["--cfg-options", *options] if options else [])) == 0
    return train_records(work_dir)


@pytest.fixture
def config(small_config):
    return small_config(max_iters=4, ckpt_interval=0, eval_interval=0, log_interval=1)


def test_head_lr_x10_at_every_logged_iteration(config, tmp_path):
    records = train(config, tmp_path / "lr", "optimizer.paramwise_cfg.custom_keys.head.lr_mult=10.0",
                    "lr_config.min_lr=0.0")
    assert len(records) == 4
    for r in records:
        assert r["lr_head"] == pytest.approx(10 * r["lr_default"], rel=1e-6), r["iter"]
        assert r["lr"] == r["lr_default"]  # the first group holds the backbone's first parameter
    assert records[-1]["lr_head"] < records[0]["lr_head"]  # the schedule decays both groups


def test_ohem_logs_kept_fraction_without_optimising_it(config, tmp_path):
    records = train(config, tmp_path / "ohem", "model.decode_head.sampler.type=OHEMPixelSampler",
                    "model.decode_head.sampler.thresh=0.7", "model.decode_head.sampler.min_kept=100")
    for r in records:
        assert 0 < r["decode.ohem_kept"] <= 1
        assert "aux.ohem_kept" not in r  # only the head with a sampler
        assert r["loss"] == pytest.approx(r["decode.loss_ce"] + r["aux.loss_ce"], rel=1e-4)


def test_class_weighted_loss_trains(config, tmp_path):
    weights = tmp_path / "weights.json"
    weights.write_text("[0.5, 4.0]")
    records = train(config, tmp_path / "cw", f"model.decode_head.loss_decode.class_weight={weights}")
    assert all("decode.loss_ce" in r for r in records)


def test_two_losses_logged_by_name_and_summed(config, tmp_path):
    records = train(config, tmp_path / "multi",
                    "model.decode_head.loss_decode=[{'type':'CrossEntropyLoss','loss_name':'loss_ce'},"
                    "{'type':'DiceLoss','loss_name':'loss_dice','loss_weight':3.0}]")
    for r in records:
        assert r["loss"] == pytest.approx(r["decode.loss_ce"] + r["decode.loss_dice"] + r["aux.loss_ce"], rel=1e-4)


def test_non_loss_name_is_logged_but_not_optimised(config, tmp_path):
    with pytest.warns(UserWarning, match="logged but NOT optimised"):
        records = train(config, tmp_path / "named",
                        "model.decode_head.loss_decode=[{'type':'CrossEntropyLoss','loss_name':'loss_ce'},"
                        "{'type':'DiceLoss','loss_name':'dice_monitor'}]")
    for r in records:
        assert "decode.dice_monitor" in r
        assert r["loss"] == pytest.approx(r["decode.loss_ce"] + r["aux.loss_ce"], rel=1e-4)
