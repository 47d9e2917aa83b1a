"""``seglab benchmark CONFIG``: seconds per training iteration of a config on this machine."""
from __future__ import annotations

import argparse
import json

from seglab.cli.options import add_config_arguments, config_from_args

COMMAND = "benchmark"
HELP = "measure training speed of a config (model step alone and end to end)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_config_arguments(parser)
    parser.add_argument("--iters", type=int, default=20, help="measured iterations")
    parser.add_argument("--warmup", type=int, default=5, help="iterations run before measuring")
    parser.add_argument("--amp", choices=["bf16", "bfloat16", "fp16", "float16"], default=None,
                        help="autocast dtype (bf16 on CPU)")
    parser.add_argument("--channels-last", action="store_true", help="channels-last memory format")
    parser.add_argument("--compile", action="store_true", help="torch.compile the model")
    parser.add_argument("--step-only", action="store_true", help="skip the end-to-end measurement")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")


def run(args: argparse.Namespace) -> int:
    from seglab.engine.benchmark import benchmark_training

    cfg = config_from_args(args)
    amp = {"bf16": "bfloat16", "fp16": "float16"}.get(args.amp, args.amp)
    result = benchmark_training(cfg, iters=args.iters, warmup=args.warmup, end_to_end=not args.step_only,
                                amp=amp, channels_last=args.channels_last, compile=args.compile)
    result["config"] = args.config
    if args.json:
        print(json.dumps(result, indent=1))
        return 0
    print(f"{args.config}: batch {result['batch_size']}, {result['amp']}, channels_last={result['channels_last']}, "
          f"compile={result['compile']}, {result['torch_threads']} threads")
    print(f"  model step  {result['step_s']:.3f} s/iter")
    if "e2e_s" in result:
        print(f"  end to end  {result['e2e_s']:.3f} s/iter ({result['images_per_s']:.1f} images/s)")
    print(f"  peak memory {result['peak_rss_mb']:.0f} MiB (resident)")
    print(f"  per step    {result['minor_faults_per_step']:.0f} minor page faults, "
          f"{1000 * result['kernel_s_per_step']:.0f} ms kernel CPU time "
          f"(reuse_freed_memory={result['reuse_freed_memory']})")
    return 0
