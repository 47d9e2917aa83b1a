"""reuse_freed_memory: freed host memory is kept for the next step instead of being faulted in again.

The malloc setting is process-wide and permanent, so each measurement runs in a fresh process.
Page faults are counted, not timed: the count is what the setting changes.
"""
from __future__ import annotations

import platform
import subprocess
import sys

import pytest

from seglab.config import Config
from seglab.engine import Trainer

# One 64 MiB block a step, allocated, written and freed. glibc's default serves blocks above
# 32 MiB with a fresh mapping each time, faulted in one 4 KiB page at a time.
FAULTS_OF_FIVE_STEPS = """
import resource, sys, torch
from seglab.engine.host_memory import keep_freed_host_memory
if sys.argv[1] == "keep":
    assert keep_freed_host_memory()
def step():
    block = torch.ones(16 << 20)
    del block
step(); step()
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(5):
    step()
print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


def glibc_version() -> tuple[int, ...]:
    name, version = platform.libc_ver()
    return tuple(int(part) for part in version.split(".")) if name == "glibc" and version else ()


needs_glibc = pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="the setting is for glibc malloc")


def faults_of_five_steps(mode: str) -> int:
    out = subprocess.run([sys.executable, "-c", FAULTS_OF_FIVE_STEPS, mode], capture_output=True, text=True,
                         check=True).stdout
    return int(out.split()[-1])


@pytest.mark.skipif(glibc_version() < (2, 35), reason="glibc before 2.35 keeps blocks of at most 32 MiB")
def test_kept_memory_is_reused_without_page_faults():
    default, kept = faults_of_five_steps("default"), faults_of_five_steps("keep")
    assert default >= 5 * 16384  # 64 MiB a step faulted in again, 4 KiB a fault
    assert kept <= 16384 + 100  # at most once, while the heap's layout settles


@needs_glibc
@pytest.mark.parametrize("reuse", [True, False])
def test_the_trainer_applies_reuse_freed_memory_unless_switched_off(reuse, small_config, tmp_path, monkeypatch):
    calls = []
    monkeypatch.setattr("seglab.engine.host_memory.keep_freed_host_memory", lambda: calls.append(1) or True)
    cfg = Config.fromfile(str(small_config(max_iters=1, eval_interval=0)))
    cfg.reuse_freed_memory = reuse
    trainer = Trainer(cfg, tmp_path / "run", progress=False)
    assert trainer.reuse_freed_memory is reuse and len(calls) == int(reuse)
    trainer.train()
    assert f"reuse_freed_memory {reuse}" in next((tmp_path / "run").glob("*.log")).read_text()


@pytest.mark.parametrize("reuse", [True, False])
def test_init_segmentor_applies_reuse_freed_memory_unless_switched_off(reuse, small_config, monkeypatch):
    from seglab.engine.inference import init_segmentor

    calls = []
    monkeypatch.setattr("seglab.engine.host_memory.keep_freed_host_memory", lambda: calls.append(1) or True)
    cfg = Config.fromfile(str(small_config()))
    cfg.reuse_freed_memory = reuse
    init_segmentor(cfg, device="cpu")
    assert len(calls) == int(reuse)
