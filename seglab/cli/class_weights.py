"""``seglab class-weights CONFIG``: class weights for a weighted loss from the training labels.

Scans every label map of ``data.<split>`` once (after ``reduce_zero_label`` and the dataset's
class map, ignoring ``ignore_index``), counts the pixels of each class and turns the frequencies
into weights (``seglab.data.class_stats``: ENet's inverse_log, SegNet's median_freq, or inverse).
A class that never occurs gets weight 0 (and a warning naming it). The weights are written to a
file that ``CrossEntropyLoss(class_weight='FILE')`` reads (.json list, .npy, or .txt one per line).
"""
from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from tqdm import tqdm

from seglab.data.class_stats import METHODS, class_weights
from seglab.errors import ConfigError, DataError
from seglab.registry import did_you_mean

__all__ = ["METHODS", "build_split", "class_weights", "count_class_pixels", "format_weight_table", "write_weights"]
COMMAND = "class-weights"
HELP = "compute class weights for a weighted loss from a dataset's label maps"
OUT_SUFFIXES = (".json", ".npy", ".txt")

_METHOD_HELP = ("how frequencies f (class pixels / all non-ignored pixels) become weights: "
                "inverse_log = 1/ln(1.02 + f) (ENet; default); median_freq = median(f)/f, the median over "
                "the classes present (SegNet); inverse = 1/f normalised so that the present classes' "
                "weights average 1. Classes absent from the labels get weight 0.")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from seglab.config import DictAction

    parser.add_argument("config", metavar="CONFIG", help="config file whose data.<split> is scanned")
    parser.add_argument("--split", default="train", help="which data.<split> to scan (default: train)")
    parser.add_argument("--method", default="inverse_log", choices=METHODS, help=_METHOD_HELP)
    parser.add_argument("--out", default="class_weights.json", metavar="FILE",
                        help="where the weights go: .json (a list), .npy or .txt (one per line); "
                             "default: class_weights.json")
    parser.add_argument("--cfg-options", nargs="+", action=DictAction, metavar="KEY=VALUE",
                        help="override config values, e.g. data.train.dataset.data_root=/data/DRIVE")


def run(args: argparse.Namespace) -> int:
    from seglab.config import load_config

    out = Path(args.out)
    if out.suffix.lower() not in OUT_SUFFIXES:
        raise ConfigError(f"--out {out}: unsupported extension {out.suffix!r}; use one of {', '.join(OUT_SUFFIXES)}")
    cfg = load_config(args.config, args.cfg_options)
    dataset = build_split(cfg, args.split)
    counts = count_class_pixels(dataset)
    freqs, weights = class_weights(counts, args.method)
    names = [str(c) for c in dataset.CLASSES]
    absent = [name for name, n in zip(names, counts) if n == 0]
    if absent:
        print(f"warning: {len(absent)} class(es) never occur in data.{args.split}, weight 0: "
              f"{', '.join(absent)}", file=sys.stderr)
    print(format_weight_table(names, counts, freqs, weights, args.method))
    write_weights(out, weights)
    print(f"\nwrote {len(weights)} weights to {out}; use them with")
    print(f"  model = dict(decode_head=dict(loss_decode=dict(type='CrossEntropyLoss', "
          f"class_weight='{out.resolve()}')))")
    print(f"  or --cfg-options model.decode_head.loss_decode.class_weight={out.resolve()}")
    return 0


def build_split(cfg, split: str):
    """The dataset of ``cfg.data[split]``, unwrapped from a ``RepeatDataset`` (scanned once)."""
    from seglab.data import build_dataset
    from seglab.data.datasets.repeat import unwrap_repeats
    from seglab.engine.run_config import parse_run_config

    data = parse_run_config(cfg, need_max_iters=False).data
    splits = [name for name in ("train", "val", "test") if getattr(data, name) is not None]
    if split not in splits:
        raise ConfigError(f"--split {split}: the config has no data.{split}.{did_you_mean(split, splits)} "
                          f"Dataset splits in it: {', '.join(splits) or 'none'}")
    dataset = unwrap_repeats(build_dataset(data.split(split), key=f"data.{split}"))
    if not hasattr(dataset, "get_gt_seg_map_by_idx"):
        raise ConfigError(f"data.{split} is a {type(dataset).__name__}, which has no label maps to scan")
    return dataset


def count_class_pixels(dataset) -> np.ndarray:
    """Pixels per class over every label map of ``dataset`` (ignore_index and ids >= classes left out)."""
    from seglab.data.class_stats import label_pixel_counts

    num_classes = len(dataset.CLASSES)
    indices = tqdm(range(len(dataset)), desc="scanning labels", unit="img", file=sys.stderr, disable=None)
    counts, stray = label_pixel_counts(dataset, indices)
    if stray:
        print(f"warning: {stray} labelled pixels hold ids outside 0..{num_classes - 1} that are not "
              f"ignore_index={dataset.ignore_index}; they are left out", file=sys.stderr)
    if counts.sum() == 0:
        raise DataError(f"the labels of {type(dataset).__name__} ({len(dataset)} images) hold no class pixels; "
                        "check ann_dir, reduce_zero_label and ignore_index")
    return counts


def format_weight_table(names: Sequence[str], counts: Sequence[int], freqs: Sequence[float],
                        weights: Sequence[float], method: str) -> str:
    """One line per class: name, pixel count, frequency (%), weight."""
    width = max(len("class"), *(len(n) for n in names))
    lines = [f"{'class':<{width}}  {'pixels':>14}  {'frequency':>10}  {method:>12}"]
    for name, n, f, w in zip(names, counts, freqs, weights):
        lines.append(f"{name:<{width}}  {int(n):>14,}  {f * 100:>9.4f}%  {w:>12.4f}")
    return "\n".join(lines)


def write_weights(path: Path, weights: np.ndarray) -> None:
    """Write the weights as a .json list, a .npy array or a .txt file with one weight per line."""
    path.parent.mkdir(parents=True, exist_ok=True)
    suffix = path.suffix.lower()
    values = [float(w) for w in weights]
    if suffix == ".json":
        path.write_text(json.dumps(values) + "\n")
    elif suffix == ".npy":
        with path.open("wb") as f:  # a file object: np.save would append .npy to other spellings
            np.save(f, np.asarray(values, dtype=np.float64))
    elif suffix == ".txt":
        path.write_text("".join(f"{v!r}\n" for v in values))
    else:
        raise ConfigError(f"--out {path}: unsupported extension {path.suffix!r}; use one of {', '.join(OUT_SUFFIXES)}")
