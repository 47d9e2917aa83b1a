"""Where a training step's time goes, by kind of work, from ``torch.profiler``.

    python benchmarks/profile_step.py configs/unet/fcn_unet_s5-d16_64x64_40k_drive.py \
        --data-root ../shared/data/DRIVE --settings fp32 bf16+cl --out results/profile.json

Profiles ``--iters`` model steps (after ``--warmup``) on one batch and sorts every operator's own
time (on the calling thread: the step's wall-clock time inside that operator, not the CPU time of
its worker threads) into groups: convolutions, matrix products, norms and activations,
interpolation, losses, optimizer, copies and layout conversions, other operators. What is left of
the wall-clock time is Python and framework overhead between operators. The table gives each
group's share of the step, so the work outside convolutions and matrix products can be read off.
"""
from __future__ import annotations

import argparse
import re
import sys
import tempfile
import time
from pathlib import Path

from _runner import SMOKE_UNET_OPTIONS, load_with_options, print_table, setting_flags, write_json

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

GROUPS = [  # first match wins; matched against the operator name
    ("convolutions", r"conv|mkldnn_convolution|thnn_conv|slow_conv"),
    ("matrix products", r"addmm|^aten::mm$|bmm|matmul|linear|baddbmm|_scaled_dot"),
    ("norms and activations", r"batch_norm|layer_norm|group_norm|instance_norm|relu|gelu|silu|hardtanh|sigmoid"
                              r"|threshold_backward|native_norm"),
    ("interpolation", r"upsample|interpolate|grid_sampler|adaptive_avg_pool|avg_pool|max_pool"),
    ("losses", r"nll_loss|cross_entropy|log_softmax|_softmax|softmax|binary_cross|topk|sort|one_hot"),
    ("optimizer", r"_fused_sgd|_fused_adam|sgd|adam|_foreach|zero_|lerp"),
    ("copies and layout conversions", r"copy_|contiguous|clone|^aten::to$|_to_copy|to_dense|to_mkldnn|reorder"
                                      r"|as_strided|cat|stack|permute|transpose|pad|empty_like|fill_"),
]


def group_of(name: str) -> str:
    for group, pattern in GROUPS:
        if re.search(pattern, name):
            return group
    return "other operators"


def profile_setting(cfg, setting: str, iters: int, warmup: int) -> dict:
    import torch
    from torch.profiler import ProfilerActivity, profile

    from seglab.engine.benchmark import speed_options, timed, training_step
    from seglab.engine.trainer import Trainer

    flags = setting_flags(setting)
    with tempfile.TemporaryDirectory() as work_dir:
        trainer = Trainer(speed_options(cfg, amp="bfloat16" if flags["amp"] else None,
                                        channels_last=flags["channels_last"], compile=flags["compile"]),
                          work_dir, seed=0, progress=False)
        batch = next(iter(trainer.train_loader))
        trainer.train_model.train()
        step = training_step(trainer)
        timed(lambda i: step(i, batch), warmup, trainer.device)
        with profile(activities=[ProfilerActivity.CPU]) as prof:
            t0 = time.perf_counter()
            for i in range(iters):
                step(warmup + i, batch)
            wall = (time.perf_counter() - t0) / iters
        torch.set_num_threads(torch.get_num_threads())
    shares: dict[str, float] = {g: 0.0 for g, _ in GROUPS}
    shares["other operators"] = 0.0
    top: dict[str, float] = {}
    for event in prof.key_averages():
        seconds = event.self_cpu_time_total / 1e6 / iters
        shares[group_of(event.key)] += seconds
        top[event.key] = seconds
    shares["python and framework overhead"] = max(wall - sum(shares.values()), 0.0)
    return {"setting": setting, "step_s": wall, "seconds": shares,
            "top_ops": dict(sorted(top.items(), key=lambda kv: -kv[1])[:15])}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("config")
    parser.add_argument("--data-root", default=None)
    parser.add_argument("--settings", nargs="+", default=["fp32", "bf16+cl"])
    parser.add_argument("--iters", type=int, default=10)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--cfg-options", nargs="+", default=[])
    parser.add_argument("--smoke", action="store_true", help="2 iterations of a tiny model (CI)")
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    options = list(args.cfg_options) + (SMOKE_UNET_OPTIONS if args.smoke else [])
    iters, warmup = (2, 1) if args.smoke else (args.iters, args.warmup)
    cfg = load_with_options(args.config, options, args.data_root)
    results = [profile_setting(cfg, s, iters, warmup) for s in args.settings]
    import torch

    print(f"{args.config}: {iters} profiled steps, {torch.get_num_threads()} threads, "
          f"{torch.backends.cpu.get_cpu_capability()}")
    groups = list(results[0]["seconds"])
    header = ["group"] + [f"{r['setting']} ms" for r in results] + [f"{r['setting']} %" for r in results]
    rows = [[g] + [1000 * r["seconds"][g] for r in results] + [f"{100 * r['seconds'][g] / r['step_s']:.1f}"
                                                                for r in results] for g in groups]
    rows.append(["step"] + [1000 * r["step_s"] for r in results] + ["100.0" for _ in results])
    print_table(header, rows)
    for r in results:
        outside = 1 - (r["seconds"]["convolutions"] + r["seconds"]["matrix products"]) / r["step_s"]
        print(f"{r['setting']}: {100 * outside:.1f}% of the step is outside convolutions and matrix products")
    write_json(args.out, {"config": args.config, "iters": iters, "results": results})


if __name__ == "__main__":
    main()
