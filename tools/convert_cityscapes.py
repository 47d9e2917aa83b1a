#!/usr/bin/env python
"""Make Cityscapes train-id labels and split lists for ``CityscapesDataset``.

Every ``gtFine/**/*_gtFine_labelIds.png`` gets a ``*_gtFine_labelTrainIds.png`` beside it, with
the 19 evaluated classes as train ids 0..18 (the official ``cityscapesscripts`` table) and 255
everywhere else. ``train.txt``/``val.txt``/``test.txt`` list the images of each
``leftImg8bit/<split>`` as ``city/city_xxxxxx_yyyyyy`` (usable as a dataset ``split``).

Usage: python tools/convert_cityscapes.py data/cityscapes --nproc 8
"""
from __future__ import annotations

import argparse
import sys
from multiprocessing.pool import ThreadPool
from pathlib import Path

import cv2
import numpy as np
from tqdm import tqdm

LABEL_SUFFIX = "_gtFine_labelIds.png"
TRAIN_ID_SUFFIX = "_gtFine_labelTrainIds.png"
IMAGE_SUFFIX = "_leftImg8bit.png"

# labelId -> trainId of the 19 evaluated classes; every other id (void, rare classes) -> 255.
LABEL_TO_TRAIN_ID = {
    7: 0,    # road
    8: 1,    # sidewalk
    11: 2,   # building
    12: 3,   # wall
    13: 4,   # fence
    17: 5,   # pole
    19: 6,   # traffic light
    20: 7,   # traffic sign
    21: 8,   # vegetation
    22: 9,   # terrain
    23: 10,  # sky
    24: 11,  # person
    25: 12,  # rider
    26: 13,  # car
    27: 14,  # truck
    28: 15,  # bus
    31: 16,  # train
    32: 17,  # motorcycle
    33: 18,  # bicycle
}


def lookup_table() -> np.ndarray:
    lut = np.full(256, 255, dtype=np.uint8)
    for label_id, train_id in LABEL_TO_TRAIN_ID.items():
        lut[label_id] = train_id
    return lut


def convert_file(path: Path, lut: np.ndarray) -> Path:
    """Write the train-id label beside ``path`` and return its path."""
    label = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if label is None or label.ndim != 2:
        raise ValueError(f"{path} is not a single-channel label image")
    out = path.with_name(path.name[: -len(LABEL_SUFFIX)] + TRAIN_ID_SUFFIX)
    if not cv2.imwrite(str(out), lut[label]):
        raise OSError(f"cannot write {out}")
    return out


def write_split_lists(root: Path, img_dir: str, out_dir: Path) -> list[Path]:
    """``<split>.txt`` for each ``root/img_dir/<split>``: image names without the suffix, sorted."""
    written = []
    for split in ("train", "val", "test"):
        split_dir = root / img_dir / split
        if not split_dir.is_dir():
            continue
        names = sorted(p.relative_to(split_dir).as_posix()[: -len(IMAGE_SUFFIX)]
                       for p in split_dir.rglob(f"*{IMAGE_SUFFIX}"))
        out = out_dir / f"{split}.txt"
        out.write_text("".join(f"{n}\n" for n in names))
        written.append(out)
    return written


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Write *_gtFine_labelTrainIds.png (19 classes, 255 = ignored) beside every "
                    "*_gtFine_labelIds.png, and train/val/test.txt image lists.")
    parser.add_argument("cityscapes_path", help="Cityscapes root holding leftImg8bit/ and gtFine/")
    parser.add_argument("--gt-dir", default="gtFine", help="label folder under the root (default: gtFine)")
    parser.add_argument("--img-dir", default="leftImg8bit", help="image folder under the root (default: leftImg8bit)")
    parser.add_argument("-o", "--out-dir", default=None, help="where the split lists go (default: the root)")
    parser.add_argument("--nproc", type=int, default=1, help="parallel conversions (default: 1)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    root = Path(args.cityscapes_path)
    gt_root = root / args.gt_dir
    files = sorted(gt_root.rglob(f"*{LABEL_SUFFIX}")) if gt_root.is_dir() else []
    if not files:
        print(f"convert_cityscapes.py: error: no *{LABEL_SUFFIX} files under {gt_root}", file=sys.stderr)
        return 1
    lut = lookup_table()
    try:
        with ThreadPool(max(1, args.nproc)) as pool:  # OpenCV releases the GIL while coding PNGs
            for _ in tqdm(pool.imap_unordered(lambda p: convert_file(p, lut), files), total=len(files),
                          desc="labelTrainIds", unit="img"):
                pass
    except (ValueError, OSError) as e:
        print(f"convert_cityscapes.py: error: {e}", file=sys.stderr)
        return 1
    out_dir = Path(args.out_dir) if args.out_dir else root
    out_dir.mkdir(parents=True, exist_ok=True)
    lists = write_split_lists(root, args.img_dir, out_dir)
    print(f"{len(files)} label files converted; split lists: {', '.join(p.name for p in lists) or 'none'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
