"""Throughput of the training data pipeline alone: images per second in one process (what one
worker delivers) and through the DataLoader with the config's workers.

    python benchmarks/data_pipeline.py configs/unet/fcn_unet_s5-d16_64x64_40k_drive.py \
        --data-root ../shared/data/DRIVE --out results/data_pipeline.json
"""
from __future__ import annotations

import argparse
import itertools
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _runner import print_table, write_json  # noqa: E402

from seglab.config import load_config  # noqa: E402
from seglab.engine.run_config import parse_run_config  # noqa: E402
from seglab.config import DictAction  # noqa: E402
from seglab.data import build_dataset, collate, worker_init  # noqa: E402
from seglab.engine.train_stream import SeededSamples, TrainStreamSampler  # noqa: E402


def per_process(dataset, n: int) -> float:
    samples = SeededSamples(dataset)
    t0 = time.perf_counter()
    for pos, item in enumerate(itertools.islice(iter(TrainStreamSampler(len(dataset), seed=0)), n)):
        samples[item]
    return n / (time.perf_counter() - t0)


def through_loader(dataset, batch: int, workers: int, n_batches: int) -> float:
    import torch

    loader = torch.utils.data.DataLoader(SeededSamples(dataset), batch_size=batch, num_workers=workers,
                                         sampler=TrainStreamSampler(len(dataset), seed=0), collate_fn=collate,
                                         worker_init_fn=worker_init)
    stream = iter(loader)
    next(stream)  # workers started
    t0 = time.perf_counter()
    for _ in range(n_batches):
        next(stream)
    return n_batches * batch / (time.perf_counter() - t0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("config")
    parser.add_argument("--data-root", default=None)
    parser.add_argument("--cfg-options", nargs="+", action=DictAction, default=None)
    parser.add_argument("--samples", type=int, default=200)
    parser.add_argument("--smoke", action="store_true", help="a few samples (CI)")
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    data = parse_run_config(load_config(args.config, args.cfg_options, args.data_root)).data
    n = 8 if args.smoke else args.samples
    dataset = build_dataset(data.split("train"))
    batch, workers = data.loader("train").samples_per_gpu, data.loader("train").workers_per_gpu
    one = per_process(dataset, n)
    loader = through_loader(dataset, batch, workers, max(n // batch, 2))
    print(f"{args.config}: train pipeline, batch {batch}")
    print_table(["measure", "images/s"], [["one process (per worker)", one],
                                         [f"DataLoader, {workers} workers", loader]])
    write_json(args.out, {"config": args.config, "per_worker_images_per_s": one,
                          "loader_images_per_s": loader, "workers": workers, "samples": n})


if __name__ == "__main__":
    main()
