"""``seglab browse-dataset CONFIG --out DIR``: training samples as the model gets them, in one PNG.

Runs ``--n`` samples of ``data.<split>`` through the split's pipeline (augmentations included,
seeded by ``--seed``), maps the normalised images back to pixels and draws their labels over them
in the dataset's palette, ignored pixels (padding, 255) in white, with a legend. Mistakes in the
augmentation (labels shifted against the image, flips applied to one of them, crops of
nothing but padding, classes in the wrong colour) show before training does.
"""
from __future__ import annotations

import argparse
import os
from pathlib import Path

from seglab.cli.options import add_config_arguments, config_from_args

COMMAND = "browse-dataset"
HELP = "draw training samples after the pipeline with their labels overlaid, as one PNG grid"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_config_arguments(parser)
    parser.add_argument("--out", required=True, metavar="DIR",
                        help="folder for browse_<split>.png (or a file name ending in .png)")
    parser.add_argument("--n", type=int, default=16, help="how many samples (default 16)")
    parser.add_argument("--split", default="train", help="which data.<split> (default: train)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the random augmentations (default 0)")


def run(args: argparse.Namespace) -> int:
    import numpy as np

    from seglab.cli.class_weights import build_split
    from seglab.data.check import sample_indices
    from seglab.errors import ConfigError
    from seglab.evaluation.visualize import save_label_grid, training_sample_picture

    if args.n < 1:
        raise ConfigError(f"--n {args.n}: draw at least one sample")
    dataset = build_split(config_from_args(args), args.split)
    if dataset.test_mode:
        raise ConfigError(f"data.{args.split} is a test-mode dataset without labels in its pipeline; "
                          "use --split train")
    np.random.seed(args.seed)
    items = []
    for index in sample_indices(len(dataset), args.n) * (args.n // len(dataset) + 1):
        sample = dataset[index]
        if sample is None or "gt_semantic_seg" not in sample:
            raise ConfigError(f"data.{args.split}.pipeline gives no gt_semantic_seg to draw; collect it with "
                              "Collect(keys=['img', 'gt_semantic_seg'])")
        image, label = training_sample_picture(sample)
        metas = sample["img_metas"]
        flipped = ", flipped" if metas.get("flip") else ""
        title = f"{os.path.basename(metas['filename'])} {image.shape[1]}x{image.shape[0]}{flipped}"
        items.append((image, label, title))
        if len(items) == args.n:
            break
    out = Path(args.out)
    path = out if out.suffix.lower() == ".png" else out / f"browse_{args.split}.png"
    save_label_grid(path, items, dataset.PALETTE, dataset.CLASSES, dataset.ignore_index)
    print(f"wrote {path}: {len(items)} samples of data.{args.split} after its pipeline, labels in the palette")
    return 0
