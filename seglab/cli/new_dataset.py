"""``seglab new-dataset IMG_DIR ANN_DIR --classes a,b --out configs/my_data.py``: a config for your data.

Finds the image and label endings and the split folders, checks every pair as ``check-data``
does, splits an unsplit folder into train/val (split files beside the config; no file is moved),
and writes a config on a shipped base (``--base``) with the crop chosen from the image sizes and
the class weights in a comment. Masks saved as 0/255 in a 2-class data set get
``label_value_map={255: 1}``. Nothing is written when the check finds errors.
"""
from __future__ import annotations

import argparse
import json
import os
import shlex
from pathlib import Path

from seglab.data.new_dataset import BASES

COMMAND = "new-dataset"
HELP = "write a config for a folder of images and a folder of masks (checked, split, crop and class weights chosen)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("img_dir", metavar="IMG_DIR", help="folder of images (or with train/ and val/ folders)")
    parser.add_argument("ann_dir", metavar="ANN_DIR", help="folder of masks, named after their images")
    parser.add_argument("--classes", required=True, help="class names in label-id order, comma-separated: bg,road,car")
    parser.add_argument("--palette", default=None, metavar="JSON",
                        help="colour of each class, JSON or a JSON file: [[0,0,0],[128,64,128],...]")
    parser.add_argument("--base", default="unet", choices=list(BASES),
                        help="shipped config to build on: its model, schedule and runtime (default: unet)")
    parser.add_argument("--out", required=True, metavar="FILE", help="the config to write, e.g. configs/my_data.py")
    parser.add_argument("--img-suffix", default=None, help="image file ending (default: the most common one)")
    parser.add_argument("--seg-map-suffix", default=None,
                        help="label ending after the image name, e.g. _mask.png (default: found from the names)")
    parser.add_argument("--val-fraction", type=float, default=0.2,
                        help="share of an unsplit folder's images for validation (default 0.2)")
    parser.add_argument("--force", action="store_true", help="overwrite FILE and its split files")


def run(args: argparse.Namespace) -> int:
    from seglab.cli.check_data import format_summary, print_report
    from seglab.config import Config
    from seglab.data import new_dataset as nd

    out = Path(args.out)
    if out.exists() and not args.force:
        from seglab.errors import ConfigError

        raise ConfigError(f"--out {out} exists; choose another name or add --force to overwrite it")
    classes, palette = _classes(args.classes), _palette(args.palette)
    base = nd.base_config(args.base)
    img_dir, ann_dir = os.path.abspath(args.img_dir), os.path.abspath(args.ann_dir)
    layout = nd.find_layout(img_dir, ann_dir, args.img_suffix, args.seg_map_suffix)
    value_map, notes = None, []
    reports = _check(layout, classes, palette, value_map)
    if _only_binary_255(reports, classes):
        value_map = {255: 1}
        notes.append(f"The masks are saved as 0/255: label_value_map={{255: 1}} reads 255 as class 1 {classes[1]!r}.")
        reports = _check(layout, classes, palette, value_map)
    for report in reports.values():
        print_report(report)
    print(format_summary(list(reports.values())))
    if any(r.errors for r in reports.values()):
        print("\nno config written: fix the errors above (the lines starting with 'fix' say how) and run again")
        return 1
    train_pairs = _split(layout, reports, out, args.val_fraction)
    base_values = Config.fromfile(str(base)).to_dict()
    new = nd.NewConfig(
        out=out, base=base, classes=classes, palette=palette, data_root=os.path.commonpath([img_dir, ann_dir]),
        layout=layout, crop=nd.choose_crop(_base_crop(base_values), [p.image_size for p in train_pairs]),
        img_scale=nd.median_size([p.image_size for p in train_pairs]),
        class_weights=_weights(train_pairs), label_value_map=value_map, command=_command(args), notes=notes)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(nd.config_text(new, base_values))
    Config.fromfile(str(out))  # it must load
    print(f"\nwrote {out}: base {args.base}, {len(classes)} classes, crop {new.crop}x{new.crop}, "
          f"{len(train_pairs)} training images{_split_text(layout)}")
    for note in notes:
        print(f"note: {note}")
    print(f"next: seglab browse-dataset {out} --out browse/   then   seglab train {out}")
    return 0


def _classes(text: str) -> list[str]:
    from seglab.errors import ConfigError

    names = [n.strip() for n in text.split(",") if n.strip()]
    if len(names) < 2 or len(set(names)) != len(names):
        raise ConfigError(f"--classes {text}: give at least two distinct class names, comma-separated, in label-id "
                          "order (background,road,car)")
    return names


def _palette(text: str | None) -> list[list[int]] | None:
    from seglab.errors import ConfigError

    if text is None:
        return None
    try:
        value = json.loads(Path(text).read_text() if os.path.isfile(text) else text)
        return [[int(v) for v in colour] for colour in value]
    except (ValueError, TypeError) as e:
        raise ConfigError(f"--palette {text}: expected JSON like [[0,0,0],[128,64,128]] or a file holding it") from e


def _node(layout, split: str, classes, palette, value_map) -> dict:
    img_dir, ann_dir = layout.folders[split]
    node = dict(type="CustomDataset", img_dir=img_dir, ann_dir=ann_dir, img_suffix=layout.img_suffix,
                seg_map_suffix=layout.seg_map_suffix, classes=tuple(classes), label_value_map=value_map,
                pipeline=[dict(type="LoadImageFromFile"), dict(type="LoadAnnotations")])
    if palette is not None:
        node["palette"] = palette
    return node


def _check(layout, classes, palette, value_map) -> dict:
    """``check_split`` of each folder: ``{'train': report, 'val': report}`` or ``{'all': report}``."""
    from seglab.data.check import build_for_check, check_split

    reports = {}
    for split in layout.folders:
        key = f"data.{split}" if layout.presplit else "the pairs"
        dataset = build_for_check(_node(layout, split, classes, palette, value_map), key)
        reports[split] = check_split(dataset, key, strict_classes=split != "val")
    return reports


def _only_binary_255(reports: dict, classes: list[str]) -> bool:
    errors = [f for r in reports.values() for f in r.errors]
    return len(classes) == 2 and bool(errors) and all(f.kind == "binary 0/255" for f in errors)


def _split(layout, reports: dict, out: Path, val_fraction: float) -> list:
    """The training pairs; for an unsplit folder, split it and write the split files."""
    from seglab.data.new_dataset import split_names, write_split_files

    if layout.presplit:
        return reports["train"].pairs
    dataset = reports["all"].dataset
    pairs = reports["all"].pairs
    names = {p.image: os.path.relpath(p.image, dataset.img_dir)[: -len(layout.img_suffix)] for p in pairs}
    splits = split_names(sorted(names.values()), val_fraction)
    layout.split_files = write_split_files(splits, out.with_suffix(""))
    train = set(splits["train"])
    return [p for p in pairs if names[p.image] in train]


def _weights(pairs: list) -> list[float]:
    import numpy as np

    from seglab.data.class_stats import class_weights

    return class_weights(np.sum([p.class_pixels for p in pairs], axis=0), "inverse_log")[1].tolist()


def _base_crop(base_values: dict) -> int:
    crop = base_values.get("crop_size") or (512, 512)
    return min(crop) if isinstance(crop, (list, tuple)) else int(crop)


def _command(args: argparse.Namespace) -> str:
    parts = ["seglab", "new-dataset", args.img_dir, args.ann_dir, "--classes", args.classes, "--base", args.base,
             "--out", args.out]
    if args.palette:
        parts += ["--palette", args.palette]
    return shlex.join(parts)


def _split_text(layout) -> str:
    if layout.presplit:
        return " (split folders as found)"
    return f"; split files {', '.join(layout.split_files.values())}"
