#!/usr/bin/env python
"""Put the ADE20K scene-parsing archive (SceneParse150) in the layout ``ADE20KDataset`` configs read.

Input: ``ADEChallengeData2016.zip`` as distributed (or the folder it extracts to). It holds
``ADEChallengeData2016/images/{training,validation}/ADE_*.jpg`` and
``ADEChallengeData2016/annotations/{training,validation}/ADE_*.png`` (labels 0..150, 0 = "other",
ignored through ``reduce_zero_label``), plus text files seglab does not use.

Output (``data_root = 'data/ade/ADEChallengeData2016'`` in ``configs/_base_/datasets/ade20k.py``)::

    OUT/ADEChallengeData2016/images/{training,validation}/ADE_*.jpg
    OUT/ADEChallengeData2016/annotations/{training,validation}/ADE_*.png

Files are copied unchanged. Every image must have its label (same name, ``.png``); with
``--check-labels`` every label is also read and checked to hold only values 0..150.

Usage: python tools/convert_ade20k.py ADEChallengeData2016.zip -o data/ade
"""
from __future__ import annotations

import argparse
import shutil
import sys
import zipfile
from pathlib import Path, PurePosixPath

import numpy as np
from tqdm import tqdm

SPLITS = ("training", "validation")
NAME = "ADEChallengeData2016"
NUM_CLASSES = 150


class ConversionError(Exception):
    """The input does not look like the ADE20K scene-parsing archive."""


def layout_path(relative: str) -> tuple[str, str, str] | None:
    """``(kind, split, file name)`` of an archive member such as
    ``ADEChallengeData2016/images/training/ADE_train_00000001.jpg``, or ``None`` for other files."""
    parts = PurePosixPath(relative).parts
    if len(parts) < 3:
        return None
    kind, split, name = parts[-3:]
    suffix = {"images": ".jpg", "annotations": ".png"}.get(kind)
    if suffix is None or split not in SPLITS or not name.lower().endswith(suffix):
        return None
    return kind, split, name


def copy_members(source: Path, out_root: Path) -> dict[tuple[str, str], list[str]]:
    """Copy the images and labels of ``source`` (zip or folder) to ``out_root``; the names per (kind, split)."""
    found: dict[tuple[str, str], list[str]] = {(k, s): [] for k in ("images", "annotations") for s in SPLITS}
    if source.is_dir():
        members = [(str(p.relative_to(source).as_posix()), p) for p in sorted(source.rglob("*")) if p.is_file()]
        for relative, path in tqdm(members, desc="copy", unit="file"):
            where = layout_path(relative)
            if where:
                target = out_root / where[0] / where[1] / where[2]
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(path, target)
                found[where[:2]].append(where[2])
    elif zipfile.is_zipfile(source):
        with zipfile.ZipFile(source) as archive:
            for info in tqdm(archive.infolist(), desc="extract", unit="file"):
                where = None if info.is_dir() else layout_path(info.filename)
                if where:
                    target = out_root / where[0] / where[1] / where[2]
                    target.parent.mkdir(parents=True, exist_ok=True)
                    with archive.open(info) as src, open(target, "wb") as dst:
                        shutil.copyfileobj(src, dst)
                    found[where[:2]].append(where[2])
    else:
        raise ConversionError(f"{source} is neither a folder nor a zip archive")
    if not any(found.values()):
        raise ConversionError(f"no images/{{training,validation}}/*.jpg or annotations/.../*.png found in {source}")
    return found


def check_pairs(found: dict[tuple[str, str], list[str]]) -> None:
    for split in SPLITS:
        images = {Path(n).stem for n in found[("images", split)]}
        labels = {Path(n).stem for n in found[("annotations", split)]}
        if images - labels:
            missing = sorted(images - labels)
            raise ConversionError(f"{len(missing)} {split} image(s) have no label, e.g. {missing[0]}.jpg")
        if labels - images:
            extra = sorted(labels - images)
            raise ConversionError(f"{len(extra)} {split} label(s) have no image, e.g. {extra[0]}.png")


def check_labels(out_root: Path) -> None:
    from PIL import Image

    for path in tqdm(sorted((out_root / "annotations").rglob("*.png")), desc="check labels", unit="img"):
        with Image.open(path) as label:
            top = int(np.asarray(label).max())
        if top > NUM_CLASSES:
            raise ConversionError(f"label {path} holds the value {top}; ADE20K labels are 0..{NUM_CLASSES}")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Put ADEChallengeData2016.zip (or its extracted folder) in the layout of "
                    "configs/_base_/datasets/ade20k.py: OUT/ADEChallengeData2016/{images,annotations}/"
                    "{training,validation}.")
    parser.add_argument("source", help="ADEChallengeData2016.zip or the folder it extracts to")
    parser.add_argument("-o", "--out-dir", default="data/ade", help="output folder (default: data/ade)")
    parser.add_argument("--check-labels", action="store_true", help="read every label and check its values")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    out_root = Path(args.out_dir) / NAME
    try:
        found = copy_members(Path(args.source), out_root)
        check_pairs(found)
        if args.check_labels:
            check_labels(out_root)
    except ConversionError as e:
        print(f"convert_ade20k.py: error: {e}", file=sys.stderr)
        return 1
    for split in SPLITS:
        print(f"{split}: {len(found[('images', split)])} images -> {out_root}/images/{split}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
