"""Every convolution of a config's model on its own: forward + backward time and GFLOP/s in fp32,
bf16 and bf16 channels-last, at the input shape it sees in a training step.

    python benchmarks/conv_layers.py configs/unet/fcn_unet_s5-d16_64x64_40k_drive.py \
        --data-root ../shared/data/DRIVE --out results/conv_layers.json

This says how close each layer is to the machine's arithmetic peak, which layers bf16 speeds up
least, and whether a layer would be faster in the other memory layout: what is left to gain from
the convolutions, which are most of a step. Each shape is timed once (the median of ``--reps``
calls after two warm-up calls) with random data and counted as often as the model uses it; the
backward computes the input gradient too, except for the image itself, as in training.
"""
from __future__ import annotations

import argparse
import math
import statistics
import sys
import tempfile
import time
from pathlib import Path

from _runner import SMOKE_UNET_OPTIONS, load_with_options, print_table, write_json

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

SETTINGS = ("fp32", "bf16", "bf16+cl")


def conv_calls(model, batch) -> list[tuple]:
    """(conv, input shape, output shape) for each call of a Conv2d in one forward of ``batch``, in
    call order."""
    import torch

    calls = []

    def record(module, inputs, output):
        calls.append((module, tuple(inputs[0].shape), tuple(output.shape)))

    hooks = [m.register_forward_hook(record) for m in model.modules() if isinstance(m, torch.nn.Conv2d)]
    try:
        with torch.no_grad():
            model(batch["img"], batch["img_metas"], gt_semantic_seg=batch["gt_semantic_seg"])
    finally:
        for h in hooks:
            h.remove()
    return calls


def forward_backward_seconds(conv, shape: tuple, setting: str, reps: int) -> float:
    import torch
    import torch.nn.functional as F

    dtype = torch.bfloat16 if "bf16" in setting else torch.float32
    layout = torch.channels_last if "cl" in setting.split("+") else torch.contiguous_format
    weight = torch.randn(conv.weight.shape, dtype=dtype).contiguous(memory_format=layout).requires_grad_()
    x = torch.randn(shape, dtype=dtype).contiguous(memory_format=layout).requires_grad_(shape[1] != 3)
    kwargs = dict(stride=conv.stride, padding=conv.padding, dilation=conv.dilation, groups=conv.groups)
    grad = torch.randn_like(F.conv2d(x.detach(), weight.detach(), **kwargs))
    times = []
    for _ in range(reps + 2):
        weight.grad = x.grad = None  # as after zero_grad(set_to_none=True): no accumulation timed
        t0 = time.perf_counter()
        F.conv2d(x, weight, **kwargs).backward(grad)
        times.append(time.perf_counter() - t0)
    return statistics.median(times[2:])


def gflop(conv, shape: tuple, out_shape: tuple) -> float:
    """Forward + backward multiply-adds x 2 (three products of the forward's size; two for the image)."""
    in_channels = shape[1]
    forward = 2 * math.prod(out_shape) * conv.weight[0].numel()  # each output: one weight row of MACs
    return forward * (2 if in_channels == 3 else 3) / 1e9


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("config")
    parser.add_argument("--data-root", default=None)
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--smoke", action="store_true", help="a tiny model, one rep (CI)")
    parser.add_argument("--cfg-options", nargs="+", default=[])
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    import torch

    from seglab.engine.benchmark import speed_options
    from seglab.engine.trainer import Trainer

    options = args.cfg_options + ["data.workers_per_gpu=0"] + (SMOKE_UNET_OPTIONS if args.smoke else [])
    if args.smoke:
        args.reps = 1
    cfg = load_with_options(args.config, options, args.data_root)
    with tempfile.TemporaryDirectory() as work_dir:
        trainer = Trainer(speed_options(cfg), work_dir, seed=0, progress=False)  # applies seglab's malloc setting
        batch = next(iter(trainer.train_loader))
    layers: dict[tuple, dict] = {}
    for conv, shape, out_shape in conv_calls(trainer.model.train(), batch):
        key = (shape, tuple(conv.weight.shape), conv.stride, conv.padding, conv.dilation, conv.groups)
        if key in layers:
            layers[key]["count"] += 1
            continue
        layers[key] = {"input": list(shape), "weight": list(conv.weight.shape), "stride": conv.stride[0],
                       "dilation": conv.dilation[0], "count": 1, "gflop": gflop(conv, shape, out_shape),
                       "ms": {s: 1e3 * forward_backward_seconds(conv, shape, s, args.reps) for s in SETTINGS}}
    rows, totals = [], dict.fromkeys(SETTINGS, 0.0)
    for layer in layers.values():
        ms = layer["ms"]
        for s in SETTINGS:
            totals[s] += layer["count"] * ms[s]
        rows.append(["x".join(map(str, layer["input"])), "x".join(map(str, layer["weight"])), layer["count"],
                     *(ms[s] for s in SETTINGS), *(layer["gflop"] / ms[s] * 1e3 for s in ("fp32", "bf16+cl")),
                     ms["fp32"] / ms["bf16+cl"], ms["bf16+cl"] / ms["bf16"]])
    rows.append(["all", "", sum(l["count"] for l in layers.values()), *(totals[s] for s in SETTINGS), "", "",
                 totals["fp32"] / totals["bf16+cl"], totals["bf16+cl"] / totals["bf16"]])
    print(f"{args.config}: each convolution's forward + backward, {torch.get_num_threads()} threads, "
          f"{torch.backends.cpu.get_cpu_capability()}")
    print_table(["input", "weight", "uses", "fp32 ms", "bf16 ms", "bf16+cl ms", "fp32 GFLOP/s", "bf16+cl GFLOP/s",
                 "fp32 / bf16+cl", "cl / nchw (bf16)"], rows)
    write_json(args.out, {"config": args.config, "capability": torch.backends.cpu.get_cpu_capability(),
                          "threads": torch.get_num_threads(), "layers": list(layers.values()),
                          "total_ms": totals})


if __name__ == "__main__":
    main()
