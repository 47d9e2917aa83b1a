"""A run killed with SIGKILL and resumed from latest.pth ends with the weights of an unbroken run."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import torch


def seglab(*args: str) -> list[str]:
    return [sys.executable, "-m", "seglab", *args]


def latest_iter(work_dir: Path) -> int:
    """The iteration latest.pth points to (0 while there is none)."""
    try:
        return int(Path(os.readlink(work_dir / "latest.pth")).stem.split("_")[1])
    except FileNotFoundError:
        return 0


def final_state(path: Path) -> dict[str, torch.Tensor]:
    return torch.load(path, map_location="cpu", weights_only=True)["state_dict"]


def test_killed_run_resumes_to_identical_weights(small_config, tmp_path):
    config = small_config(max_iters=24, ckpt_interval=1, eval_interval=0, log_interval=4, workers=2)
    common = ["--deterministic", "--no-progress", "--seed", "3"]

    straight = tmp_path / "straight"
    subprocess.run(seglab("train", str(config), "--work-dir", str(straight), *common), check=True,
                   capture_output=True)

    broken = tmp_path / "broken"
    proc = subprocess.Popen(seglab("train", str(config), "--work-dir", str(broken), *common),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.time() + 120
    while latest_iter(broken) < 5:
        assert proc.poll() is None and time.time() < deadline, "training ended before it could be killed"
        time.sleep(0.02)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not (broken / "iter_24.pth").exists(), "the run finished before the kill"
    assert 5 <= latest_iter(broken) < 24

    subprocess.run(seglab("train", str(config), "--work-dir", str(broken), "--resume-from",
                          str(broken / "latest.pth"), *common), check=True, capture_output=True)
    expected, resumed = final_state(straight / "iter_24.pth"), final_state(broken / "iter_24.pth")
    assert expected.keys() == resumed.keys()
    for key in expected:
        assert torch.equal(expected[key], resumed[key]), key
