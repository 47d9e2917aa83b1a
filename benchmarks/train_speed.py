"""Training speed of one config under several speed settings, as ratios to fp32 in the same run.

    python benchmarks/train_speed.py configs/unet/fcn_unet_s5-d16_64x64_40k_drive.py \
        --data-root ../shared/data/DRIVE --settings fp32 bf16 bf16+cl --out results/train_speed.json

Each setting runs in its own process (`seglab benchmark --json`): the model step alone on one batch,
and end to end with the real data pipeline and workers. `byhand-...` settings time the baseline to
beat: a 0.x-style loop around the same model, with autocast and channels-last added by hand.
"""
from __future__ import annotations

import argparse

from _runner import SMOKE_UNET_OPTIONS, print_table, seglab_benchmark, write_json


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("config")
    parser.add_argument("--data-root", default=None)
    parser.add_argument("--settings", nargs="+", default=["fp32", "bf16", "bf16+cl"],
                        help="fp32, bf16, bf16+cl (channels-last), bf16+cl+compile, ...; the first is the "
                             "baseline. byhand-fp32, byhand-bf16+cl: the same model in a 0.x-style loop "
                             "written by hand (benchmarks/reference_loop.py)")
    parser.add_argument("--iters", type=int, default=30)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--cfg-options", nargs="+", default=[])
    parser.add_argument("--smoke", action="store_true", help="2 iterations of a tiny model (CI)")
    parser.add_argument("--out", default=None, help="JSON file for the results")
    args = parser.parse_args()
    iters, warmup, options = args.iters, args.warmup, list(args.cfg_options)
    if args.smoke:
        iters, warmup, options = 2, 1, options + SMOKE_UNET_OPTIONS
    results = []
    for setting in args.settings:  # the JSON is rewritten after each setting: a cut-short run keeps what it measured
        results.append(seglab_benchmark(args.config, iters=iters, warmup=warmup, setting=setting,
                                        data_root=args.data_root, cfg_options=options))
        write_json(args.out, {"config": args.config, "baseline": results[0]["setting"], "results": results},
                   quiet=True)
    base = results[0]
    rows = [[r["setting"], r["step_s"], r["e2e_s"], base["step_s"] / r["step_s"], base["e2e_s"] / r["e2e_s"],
             f"{r['images_per_s']:.1f}", f"{r['peak_rss_mb']:.0f}"] for r in results]
    print(f"{args.config}, batch {base['batch_size']}, {base['torch_threads']} threads, {iters} iterations, "
          f"{base['device']}")
    print_table(["setting", "step s/it", "e2e s/it", "step speedup", "e2e speedup", "img/s", "peak MiB"], rows)
    write_json(args.out, {"config": args.config, "baseline": base["setting"], "results": results})

if __name__ == "__main__":
    main()
