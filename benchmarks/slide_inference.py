"""Slide-inference speed and agreement on the config's validation images, per setting.

    python benchmarks/slide_inference.py configs/unet/fcn_unet_s5-d16_64x64_40k_drive.py \
        --data-root ../shared/data/DRIVE --images 20 --checkpoint work_dirs/unet/latest.pth \
        --settings byhand-fp32 fp32 bf16 bf16+cl --out results/slide_inference.json

Settings: ``fp32``, ``bf16`` (autocast), ``+cl`` (channels-last model and windows), and
``byhand-fp32``, the baseline to beat: 0.x's sliding window written out, one window at a time
through the same model in fp32. Every setting predicts the same images with the same weights
(``--checkpoint``, else a random initialisation). The table gives images per second, the speedup
over the first setting, the share of pixels whose class agrees with the first setting's, and the
metric over the images (mDice by default).
"""
from __future__ import annotations

import argparse
import resource
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _runner import SMOKE_UNET_OPTIONS, load_with_options, print_table, setting_flags, write_json  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402

from seglab.data import build_dataset, collate  # noqa: E402
from seglab.engine.evaluator import predict  # noqa: E402
from seglab.engine.host_memory import apply_reuse_freed_memory  # noqa: E402
from seglab.engine.inference import init_segmentor  # noqa: E402
from seglab.engine.run_config import parse_run_config  # noqa: E402
from seglab.evaluation import MetricAccumulator, summarize  # noqa: E402
from seglab.models.segmentors.encoder_decoder import slide_windows  # noqa: E402


@torch.no_grad()
def byhand_predict(model, sample: dict) -> np.ndarray:
    """0.x's slide inference, one window at a time in fp32 (``mmseg``'s ``slide_inference`` loop)."""
    img, metas = sample["img"][0], sample["img_metas"][0]
    h, w = img.shape[2:]
    crop, stride = model.test_cfg["crop_size"], model.test_cfg["stride"]
    crop = (crop, crop) if isinstance(crop, int) else crop
    stride = (stride, stride) if isinstance(stride, int) else stride
    preds = img.new_zeros((1, model.out_channels, h, w))
    count = img.new_zeros((1, 1, h, w))
    for y1, y2, x1, x2 in slide_windows(h, w, tuple(crop), tuple(stride)):
        preds[:, :, y1:y2, x1:x2] += model.encode_decode(img[:, :, y1:y2, x1:x2], metas)
        count[:, :, y1:y2, x1:x2] += 1
    logits = model._rescale(preds / count, metas)
    return logits.argmax(dim=1)[0].numpy()


def run_setting(model, samples: list, setting: str) -> tuple[list[np.ndarray], float]:
    """Predictions of every sample and the seconds they took."""
    flags = setting_flags(setting)
    model.to(memory_format=torch.channels_last if flags["channels_last"] else torch.contiguous_format)
    dtype = torch.bfloat16 if flags["amp"] else None
    device = torch.device("cpu")
    if setting.startswith("byhand-"):
        if setting != "byhand-fp32":
            raise SystemExit("the by-hand baseline is byhand-fp32, as 0.x ran it")
        run_one = lambda s: byhand_predict(model, s)  # noqa: E731
    else:
        run_one = lambda s: predict(model, s, device, dtype)[0]  # noqa: E731
    run_one(samples[0])  # warm-up
    t0 = time.perf_counter()
    preds = [run_one(s) for s in samples]
    return preds, time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("config")
    parser.add_argument("--data-root", default=None)
    parser.add_argument("--images", type=int, default=4)
    parser.add_argument("--checkpoint", default=None, help="trained weights (default: random initialisation)")
    parser.add_argument("--smoke", action="store_true", help="one small image, tiny model (CI)")
    parser.add_argument("--settings", nargs="+", default=["byhand-fp32", "fp32", "bf16", "bf16+cl"])
    parser.add_argument("--metric", default="mDice")
    parser.add_argument("--cfg-options", nargs="+", default=[],
                        help="e.g. reuse_freed_memory=False for glibc's default malloc")
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    options = list(args.cfg_options)
    if args.smoke:
        options += SMOKE_UNET_OPTIONS + ["data.val.pipeline.1.img_scale=(128,128)"]
    cfg = load_with_options(args.config, options, args.data_root)
    run = parse_run_config(cfg, need_max_iters=False)
    dataset = build_dataset(run.data.split("val"), default_args={"test_mode": True})
    n = 1 if args.smoke else min(args.images, len(dataset))
    samples = [collate([dataset[i]]) for i in range(n)]
    torch.manual_seed(0)
    reuse = apply_reuse_freed_memory(run.reuse_freed_memory)  # as init_segmentor (and so seglab test) does
    model = init_segmentor(cfg, args.checkpoint, device="cpu", run=run)
    rows, results = [], {}
    for setting in args.settings:
        usage = resource.getrusage(resource.RUSAGE_SELF)
        preds, seconds = run_setting(model, samples, setting)
        after = resource.getrusage(resource.RUSAGE_SELF)
        acc = MetricAccumulator(len(dataset.CLASSES), dataset.ignore_index)
        for i, pred in enumerate(preds):
            acc.add_areas(dataset.pre_eval([pred], [i])[0])
        metric = summarize(acc.compute([args.metric]), dataset.CLASSES)[0][args.metric]
        first = results.get(args.settings[0])
        agree = 1.0 if first is None else float(np.mean([np.mean(a == b) for a, b in zip(preds, first["preds"])]))
        results[setting] = {"preds": preds, "seconds_per_image": seconds / n, "pixel_agreement": agree,
                            args.metric: metric, "minor_faults_per_image": (after.ru_minflt - usage.ru_minflt) / n}
        base = results[args.settings[0]]["seconds_per_image"]
        rows.append([setting, n / seconds, seconds / n, f"{base / (seconds / n):.2f}x", f"{100 * agree:.3f}%",
                     f"{metric:.4f}"])
    print(f"{args.config}: slide inference, test_cfg {dict(run.model['test_cfg'])}, {n} images, "
          f"{torch.get_num_threads()} threads, {torch.backends.cpu.get_cpu_capability()}, "
          f"reuse_freed_memory={reuse}, weights: {args.checkpoint or 'random'}")
    print_table(["setting", "images/s", "s/image", "speedup", f"agree with {args.settings[0]}", args.metric], rows)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak resident memory {peak:.0f} MiB")
    for r in results.values():
        r.pop("preds")
    write_json(args.out, {"config": args.config, "images": n, "checkpoint": args.checkpoint, "results": results,
                          "peak_rss_mb": peak, "reuse_freed_memory": reuse,
                          "cpu_capability": torch.backends.cpu.get_cpu_capability()})


if __name__ == "__main__":
    main()
