"""What keeping freed host memory (``reuse_freed_memory``, on by default) saves per training step:
minor page faults, kernel CPU time and step time, against glibc's default behaviour.

    python benchmarks/host_memory.py configs/unet/fcn_unet_s5-d16_64x64_40k_drive.py \
        --data-root ../shared/data/DRIVE --pairs 6 --out results/host_memory.json

The setting is process-wide and cannot be undone, so each measurement is a process of its own
(`seglab benchmark --step-only --json`), and the two run in alternating order, pair by pair.
Faults and kernel time are counts that the machine's noise barely moves; the step-time ratio is
taken within each pair (median and quartiles over the pairs).
"""
from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _runner import SMOKE_UNET_OPTIONS, print_table, seglab_benchmark, write_json  # noqa: E402

from seglab.engine.benchmark import speedups_to_first  # noqa: E402

MODES = {"glibc default": "reuse_freed_memory=False", "reuse freed memory": "reuse_freed_memory=True"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("config")
    parser.add_argument("--data-root", default=None)
    parser.add_argument("--setting", default="fp32", help="fp32, bf16+cl, ...")
    parser.add_argument("--pairs", type=int, default=6, help="process pairs, each mode once per pair")
    parser.add_argument("--iters", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--cfg-options", nargs="+", default=[])
    parser.add_argument("--smoke", action="store_true", help="one pair, 2 iterations of a tiny model (CI)")
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    pairs, iters, warmup, options = args.pairs, args.iters, args.warmup, list(args.cfg_options)
    if args.smoke:
        pairs, iters, warmup, options = 1, 2, 1, options + SMOKE_UNET_OPTIONS
    runs: dict[str, list[dict]] = {mode: [] for mode in MODES}
    for pair in range(pairs):
        order = list(MODES) if pair % 2 == 0 else list(MODES)[::-1]
        for mode in order:
            runs[mode].append(seglab_benchmark(args.config, iters=iters, warmup=warmup, setting=args.setting,
                                               step_only=True, data_root=args.data_root,
                                               cfg_options=options + [MODES[mode]]))
    # each pair is a round: the first mode is the baseline of the ratio
    speedup = speedups_to_first({mode: [r["step_s"] for r in rs] for mode, rs in runs.items()})["reuse freed memory"]
    results = {mode: {"step_s": statistics.median(r["step_s"] for r in rs),
                      "minor_faults_per_step": statistics.median(r["minor_faults_per_step"] for r in rs),
                      "kernel_s_per_step": statistics.median(r["kernel_s_per_step"] for r in rs),
                      "peak_rss_mb": statistics.median(r["peak_rss_mb"] for r in rs),
                      "runs": rs} for mode, rs in runs.items()}
    rows = [[mode, r["step_s"], f"{r['minor_faults_per_step']:.0f}", f"{1000 * r['kernel_s_per_step']:.0f}",
             f"{r['peak_rss_mb']:.0f}"] for mode, r in results.items()]
    print(f"{args.config}, {args.setting}, model step, {pairs} process pairs x {iters} iterations")
    print_table(["malloc", "step s/it", "minor faults/step", "kernel ms/step", "peak MiB"], rows)
    print(f"step speedup from reusing freed memory, per pair: {speedup[1]:.3f}x "
          f"(quartiles {speedup[0]:.3f}-{speedup[2]:.3f})")
    write_json(args.out, {"config": args.config, "setting": args.setting, "pairs": pairs,
                          "step_speedup_quartiles": speedup, "results": results})


if __name__ == "__main__":
    main()
