"""Cost of the training tricks as a fraction of the model step: OHEM (both modes), Dice,
class-weighted cross-entropy, each against plain cross-entropy measured in the same run.

    python benchmarks/loss_overhead.py configs/unet/fcn_unet_s5-d16_64x64_40k_drive.py \
        --data-root ../shared/data/DRIVE --out results/loss_overhead.json
"""
from __future__ import annotations

import argparse

from _runner import SMOKE_UNET_OPTIONS, print_table, seglab_benchmark, write_json

VARIANTS = {
    "ce (baseline)": [],
    "ohem thresh=0.7": ["model.decode_head.sampler.type=OHEMPixelSampler", "model.decode_head.sampler.thresh=0.7",
                        "model.decode_head.sampler.min_kept=1000"],
    "ohem top-k": ["model.decode_head.sampler.type=OHEMPixelSampler", "model.decode_head.sampler.min_kept=1000"],
    "ce + dice": ["model.decode_head.loss_decode=[{'type':'CrossEntropyLoss','loss_name':'loss_ce'},"
                  "{'type':'DiceLoss','loss_name':'loss_dice','loss_weight':3.0}]"],
    "class-weighted ce": ["model.decode_head.loss_decode.class_weight=[0.5,2.0]"],
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("config")
    parser.add_argument("--data-root", default=None)
    parser.add_argument("--iters", type=int, default=30)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--setting", default="fp32", help="fp32, bf16, bf16+cl ...")
    parser.add_argument("--smoke", action="store_true", help="2 iterations of a tiny model (CI)")
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    iters, warmup, extra = (2, 1, SMOKE_UNET_OPTIONS) if args.smoke else (args.iters, args.warmup, [])
    results = {}
    for name, options in VARIANTS.items():
        results[name] = seglab_benchmark(args.config, iters=iters, warmup=warmup, setting=args.setting,
                                         step_only=True, data_root=args.data_root, cfg_options=options + extra)
    base = results["ce (baseline)"]["step_s"]
    rows = [[name, r["step_s"], f"{100 * (r['step_s'] / base - 1):+.1f}%"] for name, r in results.items()]
    print(f"{args.config}, {args.setting}, model step, {iters} iterations")
    print_table(["loss setting", "step s/it", "overhead"], rows)
    write_json(args.out, {"config": args.config, "setting": args.setting, "results": results})


if __name__ == "__main__":
    main()
