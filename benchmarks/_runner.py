"""Helpers shared by the benchmark scripts: run ``seglab benchmark`` in a fresh process per setting
(so peak memory, thread pools and compile caches of one setting do not leak into the next) and
print tables."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

# Small-model overrides for --smoke runs (CI): the scripts' code paths, not their figures.
SMOKE_UNET_OPTIONS = [
    "model.backbone.base_channels=8", "model.decode_head.in_channels=8", "model.decode_head.channels=8",
    "model.auxiliary_head.in_channels=16", "model.auxiliary_head.channels=8", "data.workers_per_gpu=1",
]


def setting_flags(setting: str) -> dict:
    """``'bf16+cl'`` -> amp, channels_last and compile flags (a ``byhand-`` prefix is ignored)."""
    parts = setting.removeprefix("byhand-").split("+")
    return {"amp": "bf16" if "bf16" in parts else None, "channels_last": "cl" in parts,
            "compile": "compile" in parts}


def load_with_options(config: str, options: list[str], data_root: str | None = None):
    """The config as ``seglab`` commands load it, with ``key=value`` overrides and ``--data-root``."""
    from seglab.config import load_config
    from seglab.config.overrides import parse_value

    overrides = {key: parse_value(value) for key, value in (option.split("=", 1) for option in options)}
    return load_config(config, overrides, data_root)


def seglab_benchmark(config: str, *, iters: int, warmup: int, setting: str = "fp32", step_only: bool = False,
                     data_root: str | None = None, cfg_options: list[str] | None = None) -> dict:
    """Run ``seglab benchmark --json`` for one setting (``fp32``, ``bf16``, ``bf16+cl``, ``bf16+cl+compile``).

    A setting starting with ``byhand-`` (``byhand-fp32``, ``byhand-bf16+cl``) runs the same config
    through ``reference_loop.py`` instead: a 0.x-style loop written by hand, the baseline to beat.
    """
    flags = setting_flags(setting)
    if setting.startswith("byhand-"):
        cmd = [sys.executable, str(Path(__file__).with_name("reference_loop.py")), config]
    else:
        cmd = [sys.executable, "-m", "seglab", "benchmark", config, "--json"]
        if flags["compile"]:
            cmd.append("--compile")
        if step_only:
            cmd.append("--step-only")
    cmd += ["--iters", str(iters), "--warmup", str(warmup)]
    if flags["amp"]:
        cmd += ["--amp", flags["amp"]]
    if flags["channels_last"]:
        cmd.append("--channels-last")
    if data_root:
        cmd += ["--data-root", data_root]
    if cfg_options:
        cmd += ["--cfg-options", *cfg_options]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{proc.stderr[-3000:]}")
    out = proc.stdout
    result = json.loads(out[out.index("{"):])
    result["setting"] = setting
    return result


def print_table(header: list[str], rows: list[list]) -> None:
    cells = [header] + [[f"{c:.3f}" if isinstance(c, float) else str(c) for c in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    for n, row in enumerate(cells):
        print("  ".join(c.rjust(w) for c, w in zip(row, widths)))
        if n == 0:
            print("  ".join("-" * w for w in widths))


def write_json(path: str | None, payload: dict, quiet: bool = False) -> None:
    if path:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        Path(path).write_text(json.dumps(payload, indent=1))
        if not quiet:
            print(f"wrote {path}")
