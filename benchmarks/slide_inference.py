"""Slide-inference throughput (images per second) on the config's validation images, fp32 and
bf16, with the same (randomly initialised) weights.

    python benchmarks/slide_inference.py configs/unet/fcn_unet_s5-d16_64x64_40k_drive.py \
        --data-root ../shared/data/DRIVE --images 4 --out results/slide_inference.json
"""
from __future__ import annotations

import argparse
import resource
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _runner import SMOKE_UNET_OPTIONS, load_with_options, print_table, write_json  # noqa: E402

import torch  # noqa: E402

from seglab.data import build_dataset, collate  # noqa: E402
from seglab.engine.evaluator import predict  # noqa: E402
from seglab.engine.host_memory import apply_reuse_freed_memory  # noqa: E402
from seglab.engine.inference import init_segmentor  # noqa: E402
from seglab.engine.run_config import parse_run_config  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("config")
    parser.add_argument("--data-root", default=None)
    parser.add_argument("--images", type=int, default=4)
    parser.add_argument("--smoke", action="store_true", help="one small image, tiny model (CI)")
    parser.add_argument("--settings", nargs="+", default=["fp32", "bf16"], choices=["fp32", "bf16"])
    parser.add_argument("--cfg-options", nargs="+", default=[],
                        help="e.g. reuse_freed_memory=False for glibc's default malloc")
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    options = list(args.cfg_options)
    if args.smoke:
        options += SMOKE_UNET_OPTIONS + ["data.val.pipeline.1.img_scale=(128,128)"]
    cfg = load_with_options(args.config, options, args.data_root)
    n = 1 if args.smoke else args.images
    run = parse_run_config(cfg, need_max_iters=False)
    dataset = build_dataset(run.data.split("val"), default_args={"test_mode": True})
    samples = [collate([dataset[i]]) for i in range(n)]
    torch.manual_seed(0)
    reuse = apply_reuse_freed_memory(run.reuse_freed_memory)  # as init_segmentor (and so seglab test) does
    model = init_segmentor(cfg, device="cpu")  # randomly initialised
    rows, results, faults = [], {}, {}
    for name in args.settings:
        dtype = torch.bfloat16 if name == "bf16" else None
        predict(model, samples[0], torch.device("cpu"), dtype)  # warm-up
        usage, t0 = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
        for sample in samples:
            predict(model, sample, torch.device("cpu"), dtype)
        ips = n / (time.perf_counter() - t0)
        after = resource.getrusage(resource.RUSAGE_SELF)
        results[name] = ips
        faults[name] = (after.ru_minflt - usage.ru_minflt) / n
        rows.append([name, ips, 1 / ips, f"{faults[name]:.0f}", f"{(after.ru_stime - usage.ru_stime) / n:.2f}"])
    print(f"{args.config}: slide inference, test_cfg {dict(run.model['test_cfg'])}, {n} images, "
          f"reuse_freed_memory={reuse}")
    print_table(["setting", "images/s", "s/image", "minor faults/image", "kernel s/image"], rows)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak resident memory {peak:.0f} MiB")
    write_json(args.out, {"config": args.config, "images_per_s": results, "minor_faults_per_image": faults,
                          "images": n, "peak_rss_mb": peak, "reuse_freed_memory": reuse})


if __name__ == "__main__":
    main()
