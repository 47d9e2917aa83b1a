"""The benchmark scripts run end to end in smoke mode (a tiny model, a few iterations), so they
cannot rot. No timing is asserted: figures come from full runs on a quiet machine."""
from __future__ import annotations

import json
import os
import platform
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
CONFIG = "configs/unet/fcn_unet_s5-d16_64x64_40k_drive.py"
DRIVE = REPO.parent / "shared/data/DRIVE"


@pytest.fixture(autouse=True)
def need_drive():
    if not (DRIVE / "images/training").is_dir():
        pytest.skip(f"DRIVE data not found at {DRIVE} (CI always has it)")


def run_script(name: str, out: Path, *args: str) -> dict:
    cmd = [sys.executable, str(REPO / "benchmarks" / name), CONFIG, "--data-root", str(DRIVE), "--smoke",
           "--out", str(out), *args]
    result = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(out.read_text())


def test_train_speed(tmp_path):
    # byhand-fp32 is the hand-written 0.x-style loop (benchmarks/reference_loop.py), the baseline to beat
    data = run_script("train_speed.py", tmp_path / "t.json", "--settings", "fp32", "fp32+cl", "byhand-fp32")
    assert [r["setting"] for r in data["results"]] == ["fp32", "fp32+cl", "byhand-fp32"]
    assert all(r["step_s"] > 0 and r["e2e_s"] > 0 and r["peak_rss_mb"] > 0 for r in data["results"])
    assert data["results"][1]["channels_last"] and not data["results"][2]["channels_last"]


def test_train_speed_interleaved(tmp_path):
    data = run_script("train_speed.py", tmp_path / "t.json", "--interleave", "--settings", "fp32", "byhand-fp32")
    assert data["interleaved"] and [r["setting"] for r in data["results"]] == ["fp32", "byhand-fp32"]
    assert data["results"][0]["step_speedup"] == 1.0 and data["results"][0]["e2e_speedup"] == 1.0
    assert all(r["step_s"] > 0 and r["e2e_s"] > 0 for r in data["results"])
    for r in data["results"]:  # the median of the rounds lies between their quartiles
        for kind in ("step", "e2e"):
            q1, median, q3 = r[f"{kind}_speedup_quartiles"]
            assert q1 <= median <= q3 and median == r[f"{kind}_speedup"]


def test_loss_overhead(tmp_path):
    data = run_script("loss_overhead.py", tmp_path / "l.json")
    assert set(data["results"]) == {"ce (baseline)", "ohem thresh=0.7", "ohem top-k", "ce + dice",
                                    "class-weighted ce"}
    assert data["results"]["ce (baseline)"]["ratio"] == 1.0
    assert data["results"]["ce (baseline)"]["loss_overhead"] == 0.0
    assert all(r["loss_s"] > 0 for r in data["results"].values())


def test_bf16_accuracy(tmp_path):
    data = run_script("bf16_accuracy.py", tmp_path / "a.json")
    assert set(data["results"]) == {"fp32", "bf16"}
    for result in data["results"].values():
        assert result["iters"] == 4 and 0 <= result["mDice"] <= 1 and 0 <= result["mIoU"] <= 1


def test_bf16_gradients(tmp_path):
    # the whole model kept in fp32 inside the bf16 run must give the fp32 gradients back: the
    # variants really change the arithmetic they claim to
    whole = "backbone,decode_head,auxiliary_head"
    data = run_script("bf16_gradients.py", tmp_path / "g.json", "--fp32", "conv_seg", "--fp32", whole)
    errors = data["relative_error"]
    assert set(errors) == {"next batch (fp32)", "fp32 + cl", "bf16 + cl", "bf16 + cl, conv_seg fp32",
                           f"bf16 + cl, {whole} fp32"}
    assert errors["fp32 + cl"]["model"] < errors["bf16 + cl"]["model"] / 10
    assert errors["bf16 + cl"]["model"] < errors["next batch (fp32)"]["model"]
    # fp32 inside the bf16 run is fp32 in channels-last, operation for operation
    assert errors[f"bf16 + cl, {whole} fp32"]["model"] == pytest.approx(errors["fp32 + cl"]["model"], rel=1e-6)
    assert set(errors["bf16 + cl"]) == {"model", "backbone", "decode_head", "auxiliary_head"}
    assert len(data["largest"]) == 10 and all(e > 0 for e in data["largest"].values())


def test_conv_layers(tmp_path):
    data = run_script("conv_layers.py", tmp_path / "c.json")
    layers = data["layers"]
    assert sum(layer["count"] for layer in layers) == 26  # the UNet's convolutions, each call counted
    first = layers[0]
    assert first["input"] == [4, 3, 64, 64] and first["weight"] == [8, 3, 3, 3]
    assert first["gflop"] == pytest.approx(2 * 2 * 4 * 64 * 64 * 8 * 3 * 9 / 1e9)  # no input gradient for the image
    assert all(ms > 0 for layer in layers for ms in layer["ms"].values())
    assert set(data["total_ms"]) == {"fp32", "bf16", "bf16+cl"}


def test_host_memory(tmp_path):
    data = run_script("host_memory.py", tmp_path / "h.json")
    results = data["results"]
    assert [r["reuse_freed_memory"] for r in results["glibc default"]["runs"]] == [False]
    applies = platform.libc_ver()[0] == "glibc"
    assert [r["reuse_freed_memory"] for r in results["reuse freed memory"]["runs"]] == [applies]
    assert all(r["minor_faults_per_step"] >= 0 and r["kernel_s_per_step"] >= 0 for r in results.values())
    assert len(data["step_speedup_quartiles"]) == 3


def test_data_pipeline(tmp_path):
    data = run_script("data_pipeline.py", tmp_path / "d.json")
    assert data["per_worker_images_per_s"] > 0 and data["loader_images_per_s"] > 0


def test_slide_inference(tmp_path):
    data = run_script("slide_inference.py", tmp_path / "s.json")
    results = data["results"]
    assert set(results) == {"byhand-fp32", "fp32", "bf16", "bf16+cl"}
    assert results["fp32"]["pixel_agreement"] == 1.0  # batched windows predict what one at a time does
    assert all(r["seconds_per_image"] > 0 and 0 <= r["mDice"] <= 1 for r in results.values())


def test_profile_step(tmp_path):
    data = run_script("profile_step.py", tmp_path / "p.json")
    for result in data["results"]:
        assert result["step_s"] > 0 and result["seconds"]["convolutions"] > 0
        assert set(result["seconds"]) >= {"optimizer", "losses", "python and framework overhead"}


@pytest.mark.skipif(shutil.which("taskset") is None, reason="device_suite.sh pins cores with taskset")
def test_device_suite(tmp_path):
    # The whole-suite script for a lent GPU machine: its CPU phase here, the GPU phase skipped.
    out = tmp_path / "suite"
    env = {**os.environ, "SMOKE": "1", "PY": sys.executable}
    result = subprocess.run(["bash", "benchmarks/device_suite.sh", str(DRIVE), str(out), "2", "4"], cwd=REPO,
                            env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    speed = json.loads((out / "cpu_speed.json").read_text())
    assert [r["setting"] for r in speed["results"]] == ["fp32", "byhand-fp32", "byhand-bf16+cl", "bf16+cl", "bf16"]
    assert "ohem thresh=0.7" in json.loads((out / "cpu_loss_bf16.json").read_text())["results"]
    assert "reuse freed memory" in json.loads((out / "cpu_host_memory.json").read_text())["results"]
    conv_layers = json.loads((out / "cpu_conv_layers.json").read_text())
    assert set(conv_layers["total_ms"]) == {"fp32", "bf16", "bf16+cl"}
    assert "cpu job A on" in (out / "log.txt").read_text()


def test_report_size(tmp_path):
    out = tmp_path / "r.json"
    cmd = [sys.executable, str(REPO / "benchmarks/report_size.py"), "--smoke", "--no-browser", "--data-root", str(DRIVE),
           "--out", str(out)]
    result = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    data = json.loads(out.read_text())
    assert data["iters"] == 400 and 0 < data["page_bytes"] < 5 * 2**20  # opened in Chromium by tests/report
