"""The baseline seglab has to beat: a 0.x-style training loop written by hand around the same
model, optionally with the by-hand speed trick (``torch.autocast`` + channels-last).

    python benchmarks/reference_loop.py configs/unet/fcn_unet_s5-d16_64x64_40k_drive.py \
        --data-root ../shared/data/DRIVE --amp bf16 --channels-last

What MMSegmentation 0.x does each iteration, reproduced without it: ``forward_train``, its
``parse_losses`` (one ``.item()`` per logged value), ``zero_grad``, ``backward`` and a plain
``torch.optim.SGD`` step (mmcv builds the default, per-parameter implementation), with batches
from a shuffling DataLoader over the same dataset. The model is seglab's, which has the
reference's architecture and parameters, and the transforms are seglab's too (decode cache
included), so the baseline's end-to-end time is, if anything, faster than 0.x's own would be.
Prints JSON in the format of ``seglab benchmark --json``.
"""
from __future__ import annotations

import argparse
import contextlib
import json
import resource
import statistics
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from seglab.cli.options import add_config_arguments, config_from_args  # noqa: E402
from seglab.data import build_dataloader, build_dataset  # noqa: E402
from seglab.engine.benchmark import timed  # noqa: E402
from seglab.engine.run_config import parse_run_config  # noqa: E402
from seglab.registry import MODELS  # noqa: E402


class ReferenceLoop:
    """Model, optimizer and data as 0.x sets them up, and its training step (see the module doc)."""

    def __init__(self, cfg, amp: str | None = None, channels_last: bool = False) -> None:
        torch.manual_seed(0)
        self.device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
        run = parse_run_config(cfg)
        torch.backends.cudnn.benchmark = run.cudnn_benchmark  # as 0.x's train.py does
        self.amp = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(amp)
        self.channels_last = channels_last
        self.model = MODELS.build(run.model, key="model")
        self.model.init_weights()
        self.model.to(self.device).train()
        if channels_last:
            self.model.to(memory_format=torch.channels_last)
        opt = run.optimizer
        self.optimizer = torch.optim.SGD(self.model.parameters(), lr=opt["lr"], momentum=opt.get("momentum", 0),
                                         weight_decay=opt.get("weight_decay", 0))
        loader = run.data.loader("train")
        self.loader = build_dataloader(build_dataset(run.data.split("train")), loader.samples_per_gpu,
                                       loader.workers_per_gpu, seed=0, pin_memory=self.device.type == "cuda")

    def step(self, batch: dict) -> dict[str, float]:
        img, gt = batch["img"].to(self.device), batch["gt_semantic_seg"].to(self.device)
        if self.channels_last:
            img = img.contiguous(memory_format=torch.channels_last)
        autocast = torch.autocast(self.device.type, dtype=self.amp) if self.amp else contextlib.nullcontext()
        with autocast:
            losses = self.model.forward_train(img, batch["img_metas"], gt)
        means = {name: value.mean() for name, value in losses.items()}
        loss = sum(value for name, value in means.items() if "loss" in name)
        log_vars = {name: value.item() for name, value in means.items()}  # 0.x syncs every iteration
        self.optimizer.zero_grad()
        loss.backward()
        self.optimizer.step()
        return log_vars


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_config_arguments(parser)
    parser.add_argument("--iters", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--amp", choices=["bf16", "fp16"], default=None)
    parser.add_argument("--channels-last", action="store_true")
    args = parser.parse_args()
    loop = ReferenceLoop(config_from_args(args), args.amp, args.channels_last)
    device = loop.device
    stream = iter(loop.loader)
    batch = next(stream)
    timed(lambda i: loop.step(batch), args.warmup, device)
    step_s = statistics.median(timed(lambda i: loop.step(batch), args.iters, device))
    e2e_s = statistics.median(timed(lambda i: loop.step(next(stream)), args.iters, device))
    batch_size = batch["img"].shape[0]
    print(json.dumps({
        "amp": str(loop.amp).replace("torch.", "") if loop.amp else "fp32", "channels_last": args.channels_last,
        "compile": False, "batch_size": batch_size, "iters": args.iters, "step_s": step_s, "e2e_s": e2e_s,
        "images_per_s": batch_size / e2e_s,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "device": str(device) if device.type == "cpu" else torch.cuda.get_device_name(device),
        "torch_threads": torch.get_num_threads(), "cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "config": args.config}, indent=1))

if __name__ == "__main__":
    main()
