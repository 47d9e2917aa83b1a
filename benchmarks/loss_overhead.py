"""Cost of the training tricks as a fraction of the model step: OHEM (both modes), Dice,
class-weighted cross-entropy, each against plain cross-entropy.

    python benchmarks/loss_overhead.py configs/unet/fcn_unet_s5-d16_64x64_40k_drive.py \
        --data-root ../shared/data/DRIVE --out results/loss_overhead.json

All variants live in one process and their steps are interleaved round by round on the same
batch; the overhead is the median over rounds of (variant step / baseline step) - 1. Timing each
variant in its own process instead mixes in a +-5% difference between processes, as large as
the overheads being measured. The whole-step figure still carries a few percent of noise, so the
loss computation is also timed alone (the decode head's ``losses`` and their backward, on the
head's real logits): its extra time over plain cross-entropy, as a fraction of the step, is
the trick's cost without the noise.
"""
from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _runner import SMOKE_UNET_OPTIONS, load_with_options, print_table, write_json  # noqa: E402

from seglab.data import build_dataset, collate  # noqa: E402
from seglab.engine.benchmark import benchmark_variants, timed  # noqa: E402
from seglab.engine.run_config import parse_run_config  # noqa: E402
from seglab.registry import MODELS  # noqa: E402

VARIANTS = {
    "ce (baseline)": [],
    "ohem thresh=0.7": ["model.decode_head.sampler.type=OHEMPixelSampler", "model.decode_head.sampler.thresh=0.7",
                        "model.decode_head.sampler.min_kept=1000"],
    "ohem top-k": ["model.decode_head.sampler.type=OHEMPixelSampler", "model.decode_head.sampler.min_kept=1000"],
    "ce + dice": ["model.decode_head.loss_decode=[{'type':'CrossEntropyLoss','loss_name':'loss_ce'},"
                  "{'type':'DiceLoss','loss_name':'loss_dice','loss_weight':3.0}]"],
    "class-weighted ce": ["model.decode_head.loss_decode.class_weight=[0.5,2.0]"],
}


def loss_seconds(cfg, batch: dict, iters: int) -> float:
    """Median seconds of the decode head's ``losses`` plus their backward, on the head's logits."""
    torch.manual_seed(0)
    model = MODELS.build(parse_run_config(cfg).model, key="model")
    model.init_weights()
    model.train()
    with torch.no_grad():
        logit = model.decode_head(model.extract_feat(batch["img"]))
    logit.requires_grad_(True)

    def step(_: int) -> None:
        losses = model.decode_head.losses(logit, batch["gt_semantic_seg"])
        sum(value for name, value in losses.items() if "loss" in name).backward()

    timed(step, 3)
    return statistics.median(timed(step, max(iters, 10)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("config")
    parser.add_argument("--data-root", default=None)
    parser.add_argument("--iters", type=int, default=30, help="rounds; each times one step of every variant")
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--setting", default="fp32", help="fp32, bf16, bf16+cl, fp32+cl")
    parser.add_argument("--smoke", action="store_true", help="2 rounds with a tiny model (CI)")
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    iters, warmup, extra = (2, 1, SMOKE_UNET_OPTIONS) if args.smoke else (args.iters, args.warmup, [])
    parts = args.setting.split("+")
    cfgs = {name: load_with_options(args.config, options + extra, args.data_root)
            for name, options in VARIANTS.items()}
    results = benchmark_variants(cfgs, iters=iters, warmup=warmup, amp="bfloat16" if "bf16" in parts else None,
                                 channels_last="cl" in parts)
    first = next(iter(cfgs.values()))
    dataset = build_dataset(first.data.train)
    batch = collate([dataset[i] for i in range(int(first.data.samples_per_gpu))])
    base_step = results["ce (baseline)"]["step_s"]
    for name, cfg in cfgs.items():
        results[name]["loss_s"] = loss_seconds(cfg, batch, iters)
    base_loss = results["ce (baseline)"]["loss_s"]
    for r in results.values():
        r["loss_overhead"] = (r["loss_s"] - base_loss) / base_step
    rows = [[name, r["step_s"], f"{100 * (r['ratio'] - 1):+.1f}%", f"{1000 * r['loss_s']:.2f}",
             f"{100 * r['loss_overhead']:+.2f}%"] for name, r in results.items()]
    print(f"{args.config}, {args.setting}, model step, {iters} interleaved rounds; "
          "loss alone: the head's losses + backward, fp32")
    print_table(["loss setting", "step s/it", "step overhead", "loss alone ms", "loss overhead"], rows)
    write_json(args.out, {"config": args.config, "setting": args.setting, "results": results})


if __name__ == "__main__":
    main()
