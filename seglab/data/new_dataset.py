"""A config for a folder of images and a folder of masks: what ``seglab new-dataset`` writes.

- ``find_layout``: the image and label endings (``21.png`` + ``21_manual1.png`` -> ``'.png'``,
  ``'_manual1.png'``) and the split folders, when the folders are split already
  (``train``/``val``, ``training``/``validation``);
- ``split_names``: a deterministic train/val split of an unsplit folder, by a hash of each file
  name, so a name keeps its side when files are added; written as split files, never moving a file;
- ``choose_crop``: the training crop from the base config's crop and the smallest image;
- ``config_text``: the config, a ``_base_`` on a shipped config plus the data set's overrides.

``BASES`` is the table of shipped configs that ``--base`` offers; one line adds one.
"""
from __future__ import annotations

import hashlib
import os
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from seglab.data.datasets.custom import scan_files
from seglab.errors import ConfigError, DataError

# --base name -> config under configs/ whose model, schedule and runtime the new config inherits.
BASES = {
    "unet": "unet/fcn_unet_s5-d16_64x64_40k_drive.py",
    "pspnet": "pspnet/pspnet_r50-d8_512x1024_40k_cityscapes.py",
    "deeplabv3plus": "deeplabv3plus/deeplabv3plus_r50-d8_512x1024_40k_cityscapes.py",
    "segformer": "segformer/segformer_mit-b0_512x512_160k_ade20k.py",
}
IMAGE_ENDINGS = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")
SPLIT_FOLDERS = {"train": ("train", "training"), "val": ("val", "validation", "valid")}
NORM = "dict(mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375], to_rgb=True)"


def configs_dir() -> Path:
    """The shipped ``configs/`` folder beside the ``seglab`` package (a source checkout)."""
    return Path(__file__).resolve().parents[2] / "configs"


def base_config(name: str) -> Path:
    """The file of ``--base name``; a clear error when it is unknown or not in this checkout."""
    if name not in BASES:
        raise ConfigError(f"--base {name}: unknown; use one of {', '.join(BASES)}")
    path = configs_dir() / BASES[name]
    if not path.is_file():
        raise ConfigError(f"--base {name}: its config {path} is not in this checkout of seglab; use one of "
                          f"{', '.join(b for b in BASES if (configs_dir() / BASES[b]).is_file())}")
    return path


@dataclass
class Layout:
    """Where the pairs are: ``folders`` maps split -> (image folder, label folder), both absolute."""

    img_suffix: str
    seg_map_suffix: str
    folders: dict[str, tuple[str, str]]
    presplit: bool
    split_files: dict[str, str] = field(default_factory=dict)


def _split_folders(img_dir: str, ann_dir: str) -> dict[str, tuple[str, str]] | None:
    found = {}
    for split, names in SPLIT_FOLDERS.items():
        for name in names:
            if os.path.isdir(os.path.join(img_dir, name)) and os.path.isdir(os.path.join(ann_dir, name)):
                found[split] = (os.path.join(img_dir, name), os.path.join(ann_dir, name))
                break
    return found if len(found) == len(SPLIT_FOLDERS) else None


def image_suffix(img_dir: str) -> str:
    """The most common image file ending under ``img_dir``, as spelled there (``.png``, ``.JPG``)."""
    endings = Counter(os.path.splitext(name)[1] for name in scan_files(img_dir, "")
                      if name.lower().endswith(IMAGE_ENDINGS))
    if not endings:
        raise DataError(f"no image files ({', '.join(IMAGE_ENDINGS)}) under {img_dir}")
    return endings.most_common(1)[0][0]


def label_suffix(img_dir: str, ann_dir: str, img_suffix: str) -> str:
    """The label ending that follows an image's name: ``21_manual1.png`` of ``21.png`` -> ``_manual1.png``."""
    stems = {name[: -len(img_suffix)] for name in scan_files(img_dir, img_suffix)}
    endings: Counter = Counter()
    for name in scan_files(ann_dir, ""):
        cuts = [i for i, char in enumerate(name) if char in "._-"]
        match = next((name[i:] for i in reversed(cuts) if name[:i] in stems), None)
        if match and match.lower().endswith(IMAGE_ENDINGS):
            endings[match] += 1
    if not endings:
        raise DataError(f"no file under {ann_dir} is named after an image of {img_dir} (image name + ending, "
                        "like 21.png and 21_mask.png); give --seg-map-suffix")
    return endings.most_common(1)[0][0]


def find_layout(img_dir: str, ann_dir: str, img_suffix: str | None = None,
                seg_map_suffix: str | None = None) -> Layout:
    """Endings and split folders of ``img_dir``/``ann_dir`` (absolute paths)."""
    for what, folder in (("IMG_DIR", img_dir), ("ANN_DIR", ann_dir)):
        if not os.path.isdir(folder):
            raise DataError(f"{what} {folder} is not a folder")
    split = _split_folders(img_dir, ann_dir)
    folders = split or {"all": (img_dir, ann_dir)}
    first_img, first_ann = next(iter(folders.values()))
    img_suffix = img_suffix or image_suffix(first_img)
    seg_map_suffix = seg_map_suffix or label_suffix(first_img, first_ann, img_suffix)
    return Layout(img_suffix, seg_map_suffix, folders, presplit=split is not None)


def _hash(name: str) -> str:
    return hashlib.sha1(name.encode("utf-8")).hexdigest()


def split_names(names: Sequence[str], val_fraction: float) -> dict[str, list[str]]:
    """``{'train': [...], 'val': [...]}``: the names whose hash sorts first go to val (at least one)."""
    if len(names) < 2:
        raise DataError(f"{len(names)} labelled image(s): a train/val split needs at least 2")
    count = min(len(names) - 1, max(1, round(len(names) * val_fraction)))
    val = set(sorted(names, key=_hash)[:count])
    return {"train": sorted(n for n in names if n not in val), "val": sorted(val)}


def write_split_files(splits: Mapping[str, list[str]], prefix: Path) -> dict[str, str]:
    """``PREFIX_train.txt`` and ``PREFIX_val.txt``, one image name (without ending) per line."""
    paths = {}
    for split, names in splits.items():
        path = prefix.parent / f"{prefix.name}_{split}.txt"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("".join(f"{n}\n" for n in names))
        paths[split] = str(path.resolve())
    return paths


def choose_crop(base_crop: int, sizes: Sequence[tuple[int, int]], multiple: int = 32) -> int:
    """The base config's crop side, or the smallest image side (a multiple of 32) when smaller."""
    smallest = min(min(w, h) for w, h in sizes)
    return max(multiple, min(base_crop, smallest // multiple * multiple))


def median_size(sizes: Sequence[tuple[int, int]]) -> tuple[int, int]:
    """``(long side, short side)`` of the median image, for ``Resize(img_scale=...)``."""
    longs = sorted(max(s) for s in sizes)
    shorts = sorted(min(s) for s in sizes)
    return longs[len(longs) // 2], shorts[len(shorts) // 2]


def _relative_base(base: Path, out: Path) -> str:
    """``_base_`` relative to the new config when both lie in one checkout, else absolute."""
    repo = configs_dir().parent
    out_dir = out.resolve().parent
    if repo in out_dir.parents or out_dir == repo:
        return os.path.relpath(base, out_dir)
    return str(base)


@dataclass
class NewConfig:
    """What the new config says, apart from the base's settings."""

    out: Path
    base: Path
    classes: Sequence[str]
    palette: Sequence[Sequence[int]] | None
    data_root: str
    layout: Layout
    crop: int
    img_scale: tuple[int, int]
    class_weights: Sequence[float]
    label_value_map: Mapping[int, int] | None = None
    command: str = ""
    notes: list[str] = field(default_factory=list)


def config_text(new: NewConfig, base_cfg: Mapping[str, Any]) -> str:
    """The Python config file of ``new`` (``base_cfg``: the base config's values)."""
    lines = _header(new) + _model_lines(new, base_cfg) + _data_lines(new)
    return "\n".join(lines) + "\n"


def _header(new: NewConfig) -> list[str]:
    weights = ", ".join(f"{w:.6g}" for w in new.class_weights)
    lines = [f"# Data set of {new.data_root}, written by: {new.command}",
             f"# Check it: seglab check-data {new.out} --split all",
             f"# See augmented training samples: seglab browse-dataset {new.out} --out browse/",
             f"# Train: seglab train {new.out}",
             f"_base_ = [{_relative_base(new.base, new.out)!r}]",
             "",
             "# Class weights from the training labels (ENet: 1/ln(1.02 + class frequency); the same as",
             "# `seglab class-weights`). For a class-balanced loss:",
             f"# model = dict(decode_head=dict(loss_decode=dict(type='CrossEntropyLoss', class_weight=[{weights}])))"]
    return lines + [f"# {note}" for note in new.notes]


def _model_lines(new: NewConfig, base_cfg: Mapping[str, Any]) -> list[str]:
    model = base_cfg.get("model", {})
    parts = [f"decode_head=dict(num_classes={len(new.classes)})"]
    if model.get("auxiliary_head"):
        parts.append(f"auxiliary_head=dict(num_classes={len(new.classes)})")
    if (model.get("test_cfg") or {}).get("mode") == "slide":
        stride = max(1, new.crop * 2 // 3)
        parts.append(f"test_cfg=dict(crop_size=({new.crop}, {new.crop}), stride=({stride}, {stride}))")
    lines = [""]
    pretrained = model.get("pretrained")
    if isinstance(pretrained, str) and pretrained.startswith("open-mmlab://"):
        lines += [f"# The base starts from ImageNet weights {pretrained}: download them and set",
                  "# model.pretrained='/path/to/weights.pth' (much better than training from scratch, as here)."]
        parts.insert(0, "pretrained=None")
    lines.append("model = dict(\n    " + ",\n    ".join(parts) + ")")
    return lines


def _dataset_dict(new: NewConfig) -> str:
    items = [f"type='CustomDataset'", "data_root=data_root", f"img_suffix={new.layout.img_suffix!r}",
             f"seg_map_suffix={new.layout.seg_map_suffix!r}", f"classes={tuple(new.classes)!r}"]
    if new.palette:
        items.append(f"palette={[list(c) for c in new.palette]!r}")
    if new.label_value_map:
        items.append(f"label_value_map={dict(new.label_value_map)!r}")
    return "_dataset = dict(\n    " + ",\n    ".join(items) + ")"


def _split_lines(new: NewConfig) -> list[str]:
    lines = []
    for split, pipeline in (("train", "train_pipeline"), ("val", "test_pipeline"), ("test", "test_pipeline")):
        source = "val" if split == "test" else split
        img_dir, ann_dir = new.layout.folders.get(source, new.layout.folders.get("all"))
        items = [f"img_dir={os.path.relpath(img_dir, new.data_root)!r}",
                 f"ann_dir={os.path.relpath(ann_dir, new.data_root)!r}"]
        if source in new.layout.split_files:
            items.append(f"split={new.layout.split_files[source]!r}")
        lines.append(f"    {split}=dict(_dataset, _delete_=True, pipeline={pipeline},\n"
                     f"{' ' * (len(split) + 10)}{', '.join(items)}),")
    return lines


def _data_lines(new: NewConfig) -> list[str]:
    c, (long, short) = new.crop, new.img_scale
    return ["",
            "dataset_type = 'CustomDataset'",
            f"data_root = {new.data_root!r}",
            f"img_norm_cfg = {NORM}",
            f"img_scale = ({long}, {short})  # the median image (long, short side)",
            f"crop_size = ({c}, {c})  # the base's crop, or the smallest image side when smaller",
            "train_pipeline = [",
            "    dict(type='LoadImageFromFile'),",
            "    dict(type='LoadAnnotations'),",
            "    dict(type='Resize', img_scale=img_scale, ratio_range=(0.5, 2.0)),",
            "    dict(type='RandomCrop', crop_size=crop_size, cat_max_ratio=0.75),",
            "    dict(type='RandomFlip', prob=0.5),",
            "    dict(type='PhotoMetricDistortion'),",
            "    dict(type='Normalize', **img_norm_cfg),",
            "    dict(type='Pad', size=crop_size, pad_val=0, seg_pad_val=255),",
            "    dict(type='DefaultFormatBundle'),",
            "    dict(type='Collect', keys=['img', 'gt_semantic_seg']),",
            "]",
            "test_pipeline = [",
            "    dict(type='LoadImageFromFile'),",
            "    dict(type='MultiScaleFlipAug', img_scale=img_scale, flip=False, transforms=[",
            "        dict(type='Resize', keep_ratio=True),",
            "        dict(type='RandomFlip'),",
            "        dict(type='Normalize', **img_norm_cfg),",
            "        dict(type='ImageToTensor', keys=['img']),",
            "        dict(type='Collect', keys=['img']),",
            "    ]),",
            "]",
            _dataset_dict(new),
            "data = dict(",
            *_split_lines(new),
            ")"]
