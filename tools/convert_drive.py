#!/usr/bin/env python
"""Convert the DRIVE retinal-vessel archive to the layout ``DRIVEDataset`` reads.

Input: the extracted DRIVE folder (with ``training/`` and ``test/``), or the archive files
(``training.zip`` and ``test.zip``, or one zip holding both). Each split folder holds
``images/NN_<split>.tif``, ``1st_manual/NN_manual1.gif`` and ``mask/NN_<split>_mask.gif``.

Output (the 20 "test" images serve as the validation split, as in MMSegmentation)::

    OUT/images/{training,validation}/NN.png             RGB images, lossless
    OUT/annotations/{training,validation}/NN_manual1.png labels 0 background, 1 vessel (>= 128)
    OUT/masks/{training,validation}/NN_mask.png          field-of-view masks 0/1

Usage: python tools/convert_drive.py training.zip test.zip -o data/DRIVE
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import zipfile
from pathlib import Path

import cv2
import numpy as np
from tqdm import tqdm

SPLITS = {"training": "training", "test": "validation"}


class ConversionError(Exception):
    """The input does not look like the DRIVE archive."""


def read_binary_gif(path: Path) -> np.ndarray:
    """A GIF (OpenCV cannot decode GIF, Pillow can) as a 0/1 uint8 map: 1 where grey >= 128."""
    from PIL import Image

    with Image.open(path) as gif:
        return (np.asarray(gif.convert("L")) >= 128).astype(np.uint8)


def find_split_dirs(roots: list[Path]) -> dict[str, Path]:
    """``{'training': path, 'test': path}``: folders named after a split that hold ``images/``."""
    found: dict[str, Path] = {}
    for root in roots:
        candidates = [root, *(p for p in sorted(root.rglob("*")) if p.is_dir())]
        for folder in candidates:
            if folder.name in SPLITS and (folder / "images").is_dir():
                if folder.name in found and found[folder.name] != folder:
                    raise ConversionError(f"two '{folder.name}' folders found: {found[folder.name]} and {folder}")
                found[folder.name] = folder
    if not found:
        where = ", ".join(map(str, roots))
        raise ConversionError(f"no DRIVE 'training/images' or 'test/images' folder found in {where}")
    return found


def image_id(path: Path) -> str:
    """``21_training.tif`` -> ``21``; ``01_test_mask.gif`` -> ``01``."""
    return path.name.split("_")[0].split(".")[0]


def convert_split(split_dir: Path, out_dir: Path, out_split: str) -> int:
    images = sorted(p for p in (split_dir / "images").iterdir() if p.suffix.lower() in (".tif", ".tiff"))
    if not images:
        raise ConversionError(f"no .tif images in {split_dir / 'images'}")
    for sub in ("images", "annotations", "masks"):
        (out_dir / sub / out_split).mkdir(parents=True, exist_ok=True)
    manual_dir, mask_dir = split_dir / "1st_manual", split_dir / "mask"
    if not manual_dir.is_dir():
        print(f"warning: {manual_dir} not found; {out_split} gets images without labels", file=sys.stderr)
    for path in tqdm(images, desc=out_split, unit="img"):
        nn = image_id(path)
        img = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if img is None:
            raise ConversionError(f"cannot read image {path}")
        cv2.imwrite(str(out_dir / "images" / out_split / f"{nn}.png"), img)
        manual = manual_dir / f"{nn}_manual1.gif"
        if manual_dir.is_dir():
            if not manual.is_file():
                raise ConversionError(f"label {manual} for image {path} not found")
            cv2.imwrite(str(out_dir / "annotations" / out_split / f"{nn}_manual1.png"), read_binary_gif(manual))
        masks = sorted(mask_dir.glob(f"{nn}_*mask.gif")) if mask_dir.is_dir() else []
        if masks:
            cv2.imwrite(str(out_dir / "masks" / out_split / f"{nn}_mask.png"), read_binary_gif(masks[0]))
    return len(images)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Convert the DRIVE archive (folder or training.zip + test.zip) to seglab's DRIVE layout: "
                    "images/, annotations/ (labels 0/1) and masks/, each with training/ and validation/.")
    parser.add_argument("sources", nargs="+", metavar="SOURCE",
                        help="the extracted DRIVE folder, or the training.zip and test.zip archives")
    parser.add_argument("-o", "--out-dir", default="data/DRIVE", help="output folder (default: data/DRIVE)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    out_dir = Path(args.out_dir)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            roots = []
            for i, source in enumerate(map(Path, args.sources)):
                if source.is_dir():
                    roots.append(source)
                elif zipfile.is_zipfile(source):
                    target = Path(tmp) / str(i)
                    with zipfile.ZipFile(source) as archive:
                        archive.extractall(target)
                    roots.append(target)
                else:
                    raise ConversionError(f"{source} is neither a folder nor a zip archive")
            for split, split_dir in sorted(find_split_dirs(roots).items()):
                n = convert_split(split_dir, out_dir, SPLITS[split])
                print(f"{split}: {n} images -> {out_dir}/images/{SPLITS[split]}")
    except ConversionError as e:
        print(f"convert_drive.py: error: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
