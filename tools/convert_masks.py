#!/usr/bin/env python
"""Turn masks as people save them into the class-id PNGs seglab trains on.

- Colour masks (RGB, or palette PNGs whose indices are not the class ids): each pixel's colour
  becomes the index of that colour in a palette, given as JSON or taken from a dataset class or
  config. Colours not in the palette become 255 (ignored), and are reported.
- Binary masks saved as 0/255 (or any grey levels): grey >= --threshold becomes 1, the rest 0.

Every file under SRC (recursively) whose name ends in --suffix is written to the same relative
path under OUT, as a single-channel PNG. Nothing under SRC is changed; OUT may not be SRC or
lie inside it.

Palette JSON: a list of [r, g, b] in class order, or {"name": [r, g, b], ...} in class order,
or {"classes": [...], "palette": [[r, g, b], ...]}.

Usage:
    python tools/convert_masks.py SRC OUT --binary
    python tools/convert_masks.py SRC OUT --palette palette.json        (or inline: '[[0,0,0],[255,0,0]]')
    python tools/convert_masks.py SRC OUT --config configs/my_data.py   (the palette of data.train)
    python tools/convert_masks.py SRC OUT --dataset CityscapesDataset
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import cv2
import numpy as np
from tqdm import tqdm

MASK_SUFFIXES = (".png", ".bmp", ".gif", ".tif", ".tiff", ".jpg", ".jpeg")


class ConversionError(Exception):
    """The arguments or a file cannot be converted; the message says why."""


def parse_palette(text: str) -> list[tuple[int, int, int]]:
    """A palette from a JSON file or inline JSON (formats in the module docstring)."""
    path = Path(text)
    try:
        value = json.loads(path.read_text() if path.is_file() else text)
    except (OSError, json.JSONDecodeError) as e:
        raise ConversionError(f"--palette {text}: neither a JSON file nor inline JSON ({e})") from e
    if isinstance(value, dict):
        value = value["palette"] if "palette" in value else list(value.values())
    try:
        colours = [tuple(int(v) for v in colour) for colour in value]
    except (TypeError, ValueError) as e:
        raise ConversionError(f"--palette {text}: expected [[r, g, b], ...], got {value!r}") from e
    if not colours or any(len(c) != 3 or not all(0 <= v <= 255 for v in c) for c in colours):
        raise ConversionError(f"--palette {text}: every colour must be [r, g, b] with values 0..255")
    if len(set(colours)) != len(colours):
        raise ConversionError(f"--palette {text}: two classes share a colour")
    return colours


def palette_of_config(config: str, split: str) -> list[tuple[int, int, int]]:
    """The palette of ``data.<split>`` of a seglab config (its ``palette``, or its dataset type's)."""
    from seglab.config import Config
    from seglab.data.check import build_for_check, dataset_node
    from seglab.errors import SeglabError

    try:
        key, node = dataset_node(Config.fromfile(config).to_dict()["data"], split)
        dataset = build_for_check(node, key)
    except (SeglabError, KeyError) as e:
        raise ConversionError(f"--config {config}: cannot read the palette of data.{split}: {e}") from e
    return [tuple(int(v) for v in c) for c in dataset.PALETTE]


def palette_of_dataset(name: str) -> list[tuple[int, int, int]]:
    """The ``PALETTE`` of a registered dataset type (``CityscapesDataset``)."""
    import seglab.data  # noqa: F401  (registers the dataset types)
    from seglab.errors import SeglabError
    from seglab.registry import DATASETS

    try:
        palette = DATASETS.get(name).PALETTE
    except SeglabError as e:
        raise ConversionError(f"--dataset {name}: {e}") from e
    if not palette:
        raise ConversionError(f"--dataset {name} has no fixed palette; give one with --palette")
    return [tuple(int(v) for v in c) for c in palette]


def read_rgb(path: Path) -> np.ndarray:
    """Any mask file as (H, W, 3) RGB uint8 (a palette PNG expanded to its colours)."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as pil:
            return np.asarray(pil.convert("RGB"))
    except (UnidentifiedImageError, OSError) as e:
        raise ConversionError(f"cannot read {path}: {e}") from e


def colours_to_ids(rgb: np.ndarray, palette: list[tuple[int, int, int]], unknown: int = 255) -> tuple[np.ndarray, dict]:
    """``(class ids (H, W) uint8, {colour: pixels} of colours not in the palette)``."""
    packed = (rgb[..., 0].astype(np.int64) << 16) | (rgb[..., 1].astype(np.int64) << 8) | rgb[..., 2]
    codes, inverse = np.unique(packed, return_inverse=True)
    lookup = {(r << 16) | (g << 8) | b: i for i, (r, g, b) in enumerate(palette)}
    ids = np.array([lookup.get(int(c), unknown) for c in codes], dtype=np.uint8)
    counts = np.bincount(inverse.ravel(), minlength=len(codes))
    missing = {(int(c) >> 16, (int(c) >> 8) & 255, int(c) & 255): int(n)
               for c, n in zip(codes, counts) if int(c) not in lookup}
    return ids[inverse.reshape(packed.shape)], missing


def binary_to_ids(path: Path, threshold: int) -> np.ndarray:
    """A binary mask (0/255, or grey levels) as 0/1: grey >= ``threshold`` is 1."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as pil:
            return (np.asarray(pil.convert("L")) >= threshold).astype(np.uint8)
    except (UnidentifiedImageError, OSError) as e:
        raise ConversionError(f"cannot read {path}: {e}") from e


def mask_files(src: Path, suffix: str | None) -> list[Path]:
    endings = (suffix,) if suffix else MASK_SUFFIXES
    files = sorted(p for p in src.rglob("*") if p.is_file() and p.name.lower().endswith(endings))
    if not files:
        raise ConversionError(f"no mask files ending in {', '.join(endings)} under {src}")
    return files


def check_folders(src: Path, out: Path) -> None:
    if not src.is_dir():
        raise ConversionError(f"{src} is not a folder")
    src_r, out_r = src.resolve(), out.resolve()
    if out_r == src_r or src_r in out_r.parents:
        raise ConversionError(f"OUT {out} is SRC or inside it; write the converted masks to a new folder, so that "
                              "the originals stay as they are")


def convert(src: Path, out: Path, files: list[Path], to_ids) -> dict:
    """Write ``to_ids(file) -> (ids, unknown colours)`` of every file as OUT/<same path>.png."""
    unknown: dict = {}
    for path in tqdm(files, desc="converting", unit="mask", disable=None):
        ids, missing = to_ids(path)
        target = (out / path.relative_to(src)).with_suffix(".png")
        target.parent.mkdir(parents=True, exist_ok=True)
        if not cv2.imwrite(str(target), ids):
            raise ConversionError(f"cannot write {target}")
        for colour, n in missing.items():
            unknown.setdefault(colour, [0, path])[0] += n
    return unknown


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Convert colour, palette or 0/255 masks to class-id PNGs "
                                                 "(the originals are left as they are).")
    parser.add_argument("src", type=Path, metavar="SRC", help="folder of masks (searched recursively)")
    parser.add_argument("out", type=Path, metavar="OUT", help="new folder for the class-id PNGs")
    how = parser.add_mutually_exclusive_group(required=True)
    how.add_argument("--binary", action="store_true", help="0/255 (or grey) masks to 0/1")
    how.add_argument("--palette", metavar="JSON", help="colour of each class: a JSON file or inline JSON")
    how.add_argument("--config", metavar="CONFIG", help="use the palette of the config's data.<--split>")
    how.add_argument("--dataset", metavar="TYPE", help="use the PALETTE of a dataset type, e.g. CityscapesDataset")
    parser.add_argument("--split", default="train", help="with --config: which data split's palette (default train)")
    parser.add_argument("--threshold", type=int, default=128, help="with --binary: grey >= this is 1 (default 128)")
    parser.add_argument("--suffix", default=None, help="convert only files ending in this (default: any image file)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        check_folders(args.src, args.out)
        files = mask_files(args.src, args.suffix)
        if args.binary:
            unknown = convert(args.src, args.out, files, lambda p: (binary_to_ids(p, args.threshold), {}))
            classes = f"0 (grey < {args.threshold}) and 1"
        else:
            palette = (parse_palette(args.palette) if args.palette else palette_of_config(args.config, args.split)
                       if args.config else palette_of_dataset(args.dataset))
            unknown = convert(args.src, args.out, files, lambda p: colours_to_ids(read_rgb(p), palette))
            classes = f"0..{len(palette) - 1} in palette order"
    except ConversionError as e:
        print(f"convert_masks.py: error: {e}", file=sys.stderr)
        return 1
    print(f"wrote {len(files)} class-id PNGs ({classes}) to {args.out}")
    if unknown:
        worst = sorted(unknown.items(), key=lambda kv: -kv[1][0])[:5]
        shown = "; ".join(f"{c}: {n} pixels (e.g. {p.name})" for c, (n, p) in worst)
        print(f"warning: {sum(n for n, _ in unknown.values())} pixels of {len(unknown)} colours not in the palette "
              f"became 255 (ignored): {shown}", file=sys.stderr)
    print(f"use them with ann_dir='{args.out}' and a seg_map_suffix ending in '.png'; then seglab check-data CONFIG")
    return 0


if __name__ == "__main__":
    sys.exit(main())
