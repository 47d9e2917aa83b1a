"""Does bf16 cost accuracy? Train one config for the same iterations in fp32 and in bf16 autocast
(same seed, same data order) and compare the validation metrics.

    python benchmarks/bf16_accuracy.py configs/unet/fcn_unet_s5-d16_64x64_40k_drive.py \
        --data-root ../shared/data/DRIVE --iters 4000 --out results/bf16_accuracy.json

Each run is ``seglab train`` in its own process; the metrics are those of the evaluation after
the last iteration, read from the run's JSON log. bf16 needs a GPU or a CPU with native bf16
(AVX-512/AMX); elsewhere seglab warns and trains in fp32, which the table shows as ``amp_used``.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _runner import SMOKE_UNET_OPTIONS, print_table, write_json

SETTINGS = {"fp32": [], "bf16": ["amp.dtype=bfloat16"]}


def train_and_evaluate(args: argparse.Namespace, options: list[str], work_dir: Path) -> dict:
    iters = str(args.iters)
    cmd = [sys.executable, "-m", "seglab", "train", args.config, "--work-dir", str(work_dir), "--seed", "0",
           "--no-progress", "--cfg-options", f"runner.max_iters={iters}", f"evaluation.interval={iters}",
           "evaluation.metric=['mIoU','mDice']", f"checkpoint_config.interval={iters}",
           f"log_config.interval={max(1, args.iters // 20)}", *options]
    if args.data_root:
        cmd += ["--data-root", args.data_root]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True)
    seconds = time.perf_counter() - t0
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{proc.stderr[-3000:]}")
    records = [json.loads(line) for log in work_dir.glob("*.log.json") for line in log.read_text().splitlines()]
    val = [r for r in records if r.get("mode") == "val"][-1]
    env = next(r for r in records if "env_info" in r)
    amp_used = "bf16" if "amp torch.bfloat16" in proc.stderr + proc.stdout else "fp32"
    return {"iters": args.iters, "mIoU": val["mIoU"], "mDice": val["mDice"], "aAcc": val["aAcc"],
            "wall_s": seconds, "env": env["env_info"], "amp_used": amp_used}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("config")
    parser.add_argument("--data-root", default=None)
    parser.add_argument("--iters", type=int, default=4000)
    parser.add_argument("--settings", nargs="+", choices=list(SETTINGS), default=list(SETTINGS))
    parser.add_argument("--smoke", action="store_true", help="4 iterations of a tiny model (CI)")
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    extra = []
    if args.smoke:
        args.iters, extra = 4, SMOKE_UNET_OPTIONS + ["model.test_cfg.stride=(64,64)"]
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.settings:
            results[name] = train_and_evaluate(args, SETTINGS[name] + extra, Path(tmp) / name)
    rows = [[name, r["amp_used"], r["iters"], r["mDice"], r["mIoU"], r["aAcc"], f"{r['wall_s']:.0f}"]
            for name, r in results.items()]
    print(f"{args.config}, {args.iters} iterations, seed 0, {next(iter(results.values()))['env']}")
    print_table(["setting", "amp used", "iters", "mDice", "mIoU", "aAcc", "wall s"], rows)
    write_json(args.out, {"config": args.config, "results": results})


if __name__ == "__main__":
    main()
