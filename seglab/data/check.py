"""Checks of a dataset's image and label files, before they silently spoil a training run.

``seglab check-data`` runs ``check_split`` on every file of a split; the trainer runs
``check_training_labels`` on a sample of the training set before the first iteration. Each label
file is read twice:

- as saved (``read_saved_label``): Pillow mode, channels and distinct values or colours, to tell
  what the user saved (a 0/255 mask, a colour mask, a palette PNG);
- as training reads it: the pipeline's ``LoadAnnotations`` (or, for a split without one, the
  dataset's metrics loader) with the dataset's ``label_value_map``, ``reduce_zero_label`` and
  classes map.

The faults found (``Fault``) name the file and say what would fix it. Nothing is modified.
"""
from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from seglab.data.class_stats import count_label_pixels
from seglab.data.datasets.custom import CustomDataset, scan_files
from seglab.data.datasets.repeat import unwrap_repeats
from seglab.data.io import read_image
from seglab.data.transforms.loading import LoadAnnotations, LoadImageFromFile
from seglab.errors import ConfigError, DataError, SeglabError
from seglab.registry import DATASETS, did_you_mean

ERROR, WARNING = "error", "warning"
DEFAULT_SAMPLES = 32
CHECK_DATA_KEYS = ("samples",)


@dataclass(frozen=True)
class Fault:
    """One problem: ``kind`` (short, for the summary), the file (or config key) at fault, the message."""

    kind: str
    path: str
    message: str
    severity: str = ERROR


@dataclass
class SavedLabel:
    """A label file as saved: Pillow ``mode``, array ``shape``, and its distinct single-channel
    ``values``, or for a colour file its distinct RGB ``colours`` (K, 3)."""

    mode: str
    shape: tuple[int, ...]
    values: np.ndarray
    colours: np.ndarray | None = None


@dataclass
class PairCheck:
    """What was read for one image/label pair, and its faults. Sizes are ``(width, height)``."""

    image: str
    label: str | None
    image_size: tuple[int, int] | None = None
    label_size: tuple[int, int] | None = None
    saved: SavedLabel | None = None
    values: np.ndarray | None = None  # distinct values as training reads the label
    class_pixels: np.ndarray | None = None
    binary_255: bool = False  # saved as 0/255 in a 2-class dataset
    faults: list[Fault] = field(default_factory=list)


@dataclass
class SplitReport:
    """Everything ``check_split`` found for one dataset (``key``: its config key, ``data.train``)."""

    key: str
    dataset: CustomDataset | None
    pairs: list[PairCheck] = field(default_factory=list)
    orphan_labels: list[str] = field(default_factory=list)
    faults: list[Fault] = field(default_factory=list)
    advice: dict[str, str] = field(default_factory=dict)  # per fault kind: what would fix it
    notes: list[str] = field(default_factory=list)
    class_pixels: np.ndarray | None = None
    reader: str = ""

    @property
    def errors(self) -> list[Fault]:
        return [f for f in self.faults if f.severity == ERROR]

    @property
    def warnings(self) -> list[Fault]:
        return [f for f in self.faults if f.severity == WARNING]


# ---------------------------------------------------------------- config
def check_data_samples(value: Any) -> int:
    """How many training labels the trainer checks, from the config's ``check_data`` key:
    ``True`` (the default) 32, ``False`` or ``None`` 0, ``dict(samples=N)`` N."""
    if value is None or isinstance(value, bool):
        return DEFAULT_SAMPLES if value else 0
    if not isinstance(value, Mapping):
        raise ConfigError(f"check_data must be True, False or dict(samples=N), got {value!r}")
    for key in value:
        if key not in CHECK_DATA_KEYS:
            raise ConfigError(f"check_data: unknown key {key!r}.{did_you_mean(key, CHECK_DATA_KEYS)} "
                              "Accepted keys: samples")
    samples = value.get("samples", DEFAULT_SAMPLES)
    if not isinstance(samples, int) or isinstance(samples, bool) or samples < 0:
        raise ConfigError(f"check_data.samples must be a non-negative integer, got {samples!r}")
    return samples


def dataset_node(data_cfg: Mapping, split: str) -> tuple[str, dict]:
    """``(config key, config)`` of the dataset that reads ``data.<split>``'s files, inside any
    ``RepeatDataset`` wrappers: ``('data.train.dataset', {...})`` for 0.x's DRIVE config."""
    key, node = f"data.{split}", data_cfg[split]
    while isinstance(node, Mapping) and node.get("type") == "RepeatDataset" and isinstance(node.get("dataset"),
                                                                                         Mapping):
        key, node = f"{key}.dataset", node["dataset"]
    return key, dict(node)


def dataset_keys(data_cfg: Mapping | None) -> list[str]:
    """Config keys of every dataset in ``data`` that reads labels (for ``--cfg-options`` fixes)."""
    keys = []
    for split, node in (data_cfg or {}).items():
        if isinstance(node, Mapping) and "type" in node:
            key, inner = dataset_node(data_cfg, split)
            if inner.get("ann_dir"):
                keys.append(key)
    return keys


def build_for_check(node: Mapping, key: str) -> CustomDataset:
    """The dataset of config ``node``, built without the check that every image has a label, so
    that check-data can report each missing one. Its pipeline is built but not run."""
    node = dict(node)
    ann_dir = node.get("ann_dir")
    dataset = DATASETS.build({**node, "test_mode": True, "ann_dir": None}, key=key)
    if not isinstance(dataset, CustomDataset):
        raise ConfigError(f"{key} is a {type(dataset).__name__}, which check-data cannot read")
    if ann_dir is not None:  # resolved as CustomDataset does: under data_root unless absolute
        dataset.ann_dir = os.path.join(dataset.data_root or "", ann_dir)
    return dataset


# ---------------------------------------------------------------- reading
def read_saved_label(path: str) -> SavedLabel:
    """The label file as saved, read with Pillow (a palette PNG gives its indices)."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as pil:
            mode, array = pil.mode, np.asarray(pil)
    except (UnidentifiedImageError, OSError, ValueError) as e:
        raise DataError(f"cannot be decoded ({e})") from e
    if array.ndim == 3 and array.shape[2] >= 3:
        rgb = array[..., :3]
        if not ((rgb == rgb[..., :1]).all()):
            packed = (rgb[..., 0].astype(np.uint32) << 16) | (rgb[..., 1].astype(np.uint32) << 8) | rgb[..., 2]
            unique = np.unique(packed)
            colours = np.stack([unique >> 16, (unique >> 8) & 255, unique & 255], axis=1).astype(np.uint8)
            return SavedLabel(mode, array.shape, np.empty(0, np.int64), colours)
        array = rgb[..., 0]
    return SavedLabel(mode, array.shape, np.unique(array).astype(np.int64))


def label_loader(dataset: CustomDataset) -> LoadAnnotations:
    """The loader that reads the split's labels for training: the pipeline's ``LoadAnnotations``,
    else (a test pipeline) the one metrics use."""
    for transform in dataset.pipeline.transforms:
        if isinstance(transform, LoadAnnotations):
            return transform
    return dataset.gt_seg_map_loader


def image_loader(dataset: CustomDataset) -> LoadImageFromFile:
    """The pipeline's image loader (its colour type and backend), else the default one."""
    for transform in dataset.pipeline.transforms:
        if isinstance(transform, LoadImageFromFile):
            return transform
    return LoadImageFromFile()


def read_training_label(dataset: CustomDataset, loader: LoadAnnotations, seg_map: str) -> np.ndarray:
    """The label as the pipeline gets it, without the loader's range and size checks (the
    checks here report every file instead of stopping at the first)."""
    results: dict[str, Any] = {"ann_info": {"seg_map": seg_map}}
    dataset.pre_pipeline(results)
    results.pop("num_classes")
    return loader(results)["gt_semantic_seg"]


def _exif_rotated(path: str) -> bool:
    from PIL import Image

    try:
        with Image.open(path) as pil:
            return pil.getexif().get(0x0112, 1) in (5, 6, 7, 8)
    except (OSError, ValueError):
        return False


# ---------------------------------------------------------------- one pair
def check_pair(dataset: CustomDataset, image: str, label: str | None, loaders: tuple) -> PairCheck:
    """Read one pair (``image``, ``label`` relative to img_dir/ann_dir) and find its faults."""
    image_path = os.path.join(dataset.img_dir, image)
    label_path = os.path.join(dataset.ann_dir, label) if label else None
    pair = PairCheck(image_path, label_path)
    img_loader, ann_loader = loaders
    try:
        img = read_image(image_path, img_loader.color_type, img_loader.imdecode_backend)
        pair.image_size = (img.shape[1], img.shape[0])
    except DataError as e:
        pair.faults.append(Fault("unreadable image", image_path, str(e)))
    if label_path is None:
        pair.faults.append(Fault("image without label", image_path,
                                 f"has no label file {os.path.join(dataset.ann_dir, _expected_label(dataset, image))}"))
        return pair
    try:
        pair.saved = read_saved_label(label_path)
    except DataError as e:
        pair.faults.append(Fault("unreadable label", label_path, str(e)))
        return pair
    try:
        loaded = read_training_label(dataset, ann_loader, label)
    except DataError as e:
        pair.faults.append(_loader_fault(dataset, pair.saved, ann_loader, label_path, e))
        return pair
    pair.label_size = (loaded.shape[1], loaded.shape[0])
    pair.values = np.flatnonzero(np.bincount(loaded.ravel(), minlength=256))
    pair.class_pixels = count_label_pixels(loaded, len(dataset.CLASSES), dataset.ignore_index)[0]
    pair.faults.extend(_value_faults(dataset, pair, label_path))
    if pair.image_size and pair.label_size != pair.image_size:
        pair.faults.append(_size_fault(pair, label_path))
    return pair


def _expected_label(dataset: CustomDataset, image: str) -> str:
    return image[: -len(dataset.img_suffix)] + dataset.seg_map_suffix


def _loader_fault(dataset: CustomDataset, saved: SavedLabel, loader: LoadAnnotations, path: str,
                  error: DataError) -> Fault:
    if saved.colours is not None:
        return Fault("colour mask", path, f"is a colour ({saved.mode}) mask with {len(saved.colours)} colours "
                                          f"({_colours_text(saved.colours)}); labels must hold class ids")
    if saved.mode == "P" and loader.imdecode_backend == "cv2":
        return Fault("palette PNG read as colours", path,
                     "is a palette PNG: imdecode_backend='cv2' expands its palette into colours; "
                     "LoadAnnotations(imdecode_backend='pillow') (the default) reads its class ids")
    return Fault("unreadable label", path, str(error))


def _colours_text(colours: np.ndarray, limit: int = 4) -> str:
    shown = ", ".join(str(tuple(int(v) for v in c)) for c in colours[:limit])
    return shown + (", ..." if len(colours) > limit else "")


def _values_text(values: Sequence[int], limit: int = 8) -> str:
    values = [int(v) for v in values]
    return ", ".join(map(str, values[:limit])) + (", ..." if len(values) > limit else "")


def _value_faults(dataset: CustomDataset, pair: PairCheck, path: str) -> list[Fault]:
    num_classes, ignore = len(dataset.CLASSES), dataset.ignore_index
    saved = pair.saved.values if pair.saved is not None else np.empty(0)
    pair.binary_255 = (num_classes == 2 and 255 in saved and set(saved.tolist()) <= {0, 255}
                       and not pair.class_pixels[1])
    stray = [v for v in pair.values if v >= num_classes and v != ignore]
    if pair.binary_255 or not stray:
        return []
    return [Fault("ids out of range", path, f"holds id(s) {_values_text(stray)} outside 0..{num_classes - 1} "
                                            f"that are not ignore_index {ignore}")]


def _size_fault(pair: PairCheck, path: str) -> Fault:
    (lw, lh), (iw, ih) = pair.label_size, pair.image_size
    message = f"is {lw}x{lh} (WxH) but its image {pair.image} is {iw}x{ih}"
    if (lw, lh) == (ih, iw) and _exif_rotated(pair.image):
        message += ("; the image carries an EXIF rotation, which LoadImageFromFile applies: use "
                    "color_type='color_ignore_orientation' or save the image upright")
    return Fault("size mismatch", path, message)


# ---------------------------------------------------------------- one split
def find_pairs(dataset: CustomDataset) -> tuple[list[tuple[str, str | None]], list[str]]:
    """``([(image, label or None), ...], labels without an image)``, names relative to
    img_dir/ann_dir. Labels without an image are only looked for when no split file selects
    the images (a split file leaves the other labels out on purpose)."""
    pairs = [pair_of(dataset, info["filename"]) for info in dataset.img_infos]
    orphans = []
    if dataset.split is None and dataset.ann_dir is not None and os.path.isdir(dataset.ann_dir):
        expected = {_expected_label(dataset, image) for image, _ in pairs}
        orphans = [name for name in scan_files(dataset.ann_dir, dataset.seg_map_suffix) if name not in expected]
    return pairs, orphans


def pair_of(dataset: CustomDataset, image: str) -> tuple[str, str | None]:
    """``(image, its label or None when the file is missing)``, relative to img_dir/ann_dir."""
    label = _expected_label(dataset, image)
    exists = dataset.ann_dir is not None and os.path.isfile(os.path.join(dataset.ann_dir, label))
    return image, label if exists else None


def check_split(dataset: CustomDataset, key: str, *, indices: Sequence[int] | None = None,
                config: str | None = None, fix_keys: Sequence[str] = (), strict_classes: bool = True,
                progress: bool = True) -> SplitReport:
    """Check the pairs of ``dataset`` (all, or those at ``indices``) and the split as a whole.

    Args:
        dataset: a dataset from ``build_for_check`` (or a built training dataset).
        key: its config key, named in messages (``data.train.dataset``).
        indices: the images to check (default: all, plus labels without an image).
        config: the config file, for the commands in fix messages.
        fix_keys: config keys of every dataset split, for ``--cfg-options`` fixes.
        strict_classes: a class that never appears is an error (else a warning).
        progress: show a progress bar.
    """
    from tqdm import tqdm

    report = SplitReport(key, dataset)
    if indices is None:
        pairs, report.orphan_labels = find_pairs(dataset)
    else:
        pairs = [pair_of(dataset, dataset.img_infos[i]["filename"]) for i in indices]
    if dataset.ann_dir is None or not os.path.isdir(dataset.ann_dir):
        report.faults.append(Fault("no label folder", key, f"label folder ann_dir={dataset.ann_dir!r} does not "
                                                           "exist; set ann_dir (under data_root)"))
        return report
    loader = label_loader(dataset)
    source = "the training pipeline" if loader is not dataset.gt_seg_map_loader else "the metrics"
    report.reader = f"{loader!r} of {source}"
    loaders = (image_loader(dataset), loader)
    for image, label in tqdm(pairs, desc=f"checking {key}", unit="pair", disable=None if progress else True):
        pair = check_pair(dataset, image, label, loaders)
        report.pairs.append(pair)
        report.faults.extend(pair.faults)
    for name in report.orphan_labels:
        report.faults.append(Fault("label without image", os.path.join(dataset.ann_dir, name),
                                   f"has no image {os.path.join(dataset.img_dir, name[: -len(dataset.seg_map_suffix)])}"
                                   f"{dataset.img_suffix}"))
    _split_faults(report, loader, config or "CONFIG", list(fix_keys) or [key], strict_classes)
    return report


def _split_faults(report: SplitReport, loader: LoadAnnotations, config: str, fix_keys: list[str],
                  strict_classes: bool) -> None:
    dataset = report.dataset
    counted = [p.class_pixels for p in report.pairs if p.class_pixels is not None]
    report.class_pixels = np.sum(counted, axis=0) if counted else np.zeros(len(dataset.CLASSES), np.int64)
    report.faults.extend(_binary_faults(report, config, fix_keys))
    kinds = {f.kind for f in report.faults}
    advice = {"colour mask": _colour_advice, "ids out of range": _range_advice, "size mismatch": _size_advice}
    for kind, make in advice.items():
        if kind in kinds:
            report.advice[kind] = make(report, loader, config)
    if counted and not report.class_pixels.any():
        report.faults.append(Fault("no labelled pixels", report.key, "no label holds a class pixel; check ann_dir, "
                                                                     "reduce_zero_label and ignore_index"))
    elif counted and "binary 0/255" not in kinds:
        report.faults.extend(_absent_class_faults(report, strict_classes))
    if loader is not dataset.gt_seg_map_loader and loader.reduce_zero_label != dataset.reduce_zero_label:
        report.faults.append(Fault(
            "reduce_zero_label differs", report.key,
            f"the pipeline's LoadAnnotations has reduce_zero_label={loader.reduce_zero_label} but the dataset "
            f"has reduce_zero_label={dataset.reduce_zero_label}, so metrics read other ids than training; "
            "set both alike", WARNING))
    report.notes.extend(label_reading_notes(dataset, loader))


def _binary_faults(report: SplitReport, config: str, fix_keys: list[str]) -> list[Fault]:
    """0/255 masks in a 2-class dataset: an error when class 1 never appears (255 means the
    class but is read as ignore_index) or when 255 is not ignore_index."""
    binary = [p for p in report.pairs if p.binary_255]
    if not binary:
        return []
    dataset = report.dataset
    wrong = not report.class_pixels[1] or dataset.ignore_index != 255
    severity = ERROR if wrong else WARNING
    report.advice["binary 0/255"] = binary_255_message(dataset, len(binary), wrong, config, fix_keys)
    return [Fault("binary 0/255", p.label, "holds only 0 and 255", severity) for p in binary]


def binary_255_message(dataset: CustomDataset, files: int, wrong: bool, config: str, fix_keys: Sequence[str]) -> str:
    """What a 0/255 mask in a 2-class dataset does, and the two fixes."""
    name = dataset.CLASSES[1]
    if wrong and dataset.ignore_index == 255:
        effect = (f"{files} label file(s) hold only 0 and 255 and none holds 1: with 2 classes and ignore_index=255 "
                  f"every pixel saved as 255 is ignored, so class 1 {name!r} is never learned")
    elif wrong:
        effect = f"{files} label file(s) hold only 0 and 255, but 255 is not a class id of this 2-class dataset"
    else:  # mapping 255 everywhere would also turn the others' ignored pixels into the class
        return (f"{files} label file(s) hold only 0 and 255 while the others use 1 for {name!r}; 255 is read as "
                f"ignore_index. If 255 means {name!r} in these files, save them with 1 instead (python "
                "tools/convert_masks.py SRC OUT --binary converts a folder of them)")
    options = " ".join(f"'{key}.label_value_map={{255: 1}}'" for key in fix_keys)
    ann_dir = dataset.ann_dir or "ANN_DIR"
    return (f"{effect}. If 255 means {name!r}, map it as the labels are read: --cfg-options {options} "
            f"(or label_value_map={{255: 1}} in each dataset of {config}), or convert the files to 0/1: "
            f"python tools/convert_masks.py {ann_dir} {ann_dir.rstrip('/')}_01 --binary, and point ann_dir at the new "
            "folder")


def _colour_advice(report: SplitReport, loader: LoadAnnotations, config: str) -> str:
    dataset = report.dataset
    colours = np.unique(np.concatenate([p.saved.colours for p in report.pairs
                                        if p.saved is not None and p.saved.colours is not None]), axis=0)
    ann_dir = dataset.ann_dir.rstrip("/")
    palette = {tuple(c) for c in dataset.PALETTE}
    if all(tuple(int(v) for v in c) in palette for c in colours):
        how = (f"their colours are the dataset's palette, so: python tools/convert_masks.py {ann_dir} {ann_dir}_ids "
               f"--config {config}")
    else:
        how = (f"they hold {len(colours)} colours ({_colours_text(colours)}), not the dataset's palette: write the "
               f"colour of each class to palette.json ([[r, g, b], ...] in class order) and run python "
               f"tools/convert_masks.py {ann_dir} {ann_dir}_ids --palette palette.json")
    return (f"colour masks must become class-id PNGs; {how}; then set ann_dir to the new folder and "
            "seg_map_suffix to its ending")


def _range_advice(report: SplitReport, loader: LoadAnnotations, config: str) -> str:
    dataset = report.dataset
    num_classes = len(dataset.CLASSES)
    saved = sorted({int(v) for p in report.pairs if p.saved is not None for v in p.saved.values})
    values = [v for v in saved if v != dataset.ignore_index]
    greys = palette_greys(dataset.PALETTE)
    if len(set(greys)) == len(greys) and set(values) <= set(greys):
        mapping = ", ".join(f"{g}: {i}" for i, g in enumerate(greys) if g in values)
        how = (f"the values are the grey levels of the classes' palette colours (colour masks saved as grey): "
               f"convert the colour originals with tools/convert_masks.py, or set label_value_map={{{mapping}}} "
               f"in each dataset of {config}")
    elif not loader.reduce_zero_label and values and values[0] == 0 and values[-1] == num_classes:
        how = (f"ids run 0..{num_classes}: if 0 means 'unlabelled', set reduce_zero_label=True in the dataset and its "
               f"LoadAnnotations (0 becomes ignored, 1..{num_classes} become classes 0..{num_classes - 1})")
    elif 0 < len(values) <= num_classes:
        mapping = ", ".join(f"{v}: {i}" for i, v in enumerate(values))
        how = (f"the files hold {len(values)} distinct values ({_values_text(values)}), which look like codes "
               f"rather than class ids: if they stand for the classes in this order, set label_value_map={{{mapping}}} "
               f"in each dataset of {config}")
    else:
        how = (f"the labels must hold class ids 0..{num_classes - 1} (classes: {', '.join(dataset.CLASSES)}) or "
               f"{dataset.ignore_index}; check classes, or convert the labels to class ids")
    return how


def palette_greys(palette: Sequence[Sequence[int]]) -> list[int]:
    """The grey level of each palette colour as OpenCV and Pillow convert colour to grey (ITU-R 601)."""
    return [int(round(0.299 * r + 0.587 * g + 0.114 * b)) for r, g, b in palette]


def _size_advice(report: SplitReport, loader: LoadAnnotations, config: str) -> str:
    return ("every label must have its image's size; re-export the labels at the image size "
            "(nearest-neighbour, never smoothing class ids)")


def _absent_class_faults(report: SplitReport, strict: bool) -> list[Fault]:
    names = [f"{i} {name!r}" for i, (name, n) in enumerate(zip(report.dataset.CLASSES, report.class_pixels))
             if not n]
    if not names:
        return []
    effect = ("the model never learns them and their class weight is 0" if strict
              else "their IoU and Dice are NaN (not counted in the means)")
    return [Fault("class never appears", report.key, f"class(es) {', '.join(names)} appear in no label of "
                                                     f"{report.key}: {effect}", ERROR if strict else WARNING)]


def label_reading_notes(dataset: CustomDataset, loader: LoadAnnotations) -> list[str]:
    """How saved values become class ids: ``label_value_map``, ``reduce_zero_label``, classes map."""
    notes = []
    if dataset.label_value_map:
        notes.append("label_value_map: saved " + ", ".join(f"{k} -> {v}" for k, v in dataset.label_value_map.items()))
    if loader.reduce_zero_label:
        classes = dataset.CLASSES
        shown = ", ".join(f"{i + 1} -> {i} {name!r}" for i, name in enumerate(classes[:3]))
        more = f", ..., {len(classes)} -> {len(classes) - 1} {classes[-1]!r}" if len(classes) > 3 else ""
        notes.append(f"reduce_zero_label=True: 0 becomes {dataset.ignore_index} (ignored, never learned); "
                     f"the other ids shift down by one: {shown}{more}; 255 stays ignored")
    if dataset.label_map:
        moved = [f"{k} -> {v}" for k, v in dataset.label_map.items() if k != v]
        notes.append(f"classes subset of {type(dataset).__name__}: ids {', '.join(moved[:8])}"
                     f"{', ...' if len(moved) > 8 else ''}")
    return notes


# ---------------------------------------------------------------- before training
def sample_indices(length: int, samples: int) -> list[int]:
    """``samples`` indices spread evenly over ``range(length)`` (all of them when fewer)."""
    if samples >= length:
        return list(range(length))
    return sorted({int(round(i)) for i in np.linspace(0, length - 1, samples)})


def check_training_labels(dataset: Any, samples: int = DEFAULT_SAMPLES, *, data_cfg: Mapping | None = None,
                          config: str | None = None) -> None:
    """The label checks of ``seglab check-data`` on ``samples`` files of the training set,
    spread over it; raises ``DataError`` (one line, with the fix) on the first kind of error.

    Does nothing when ``samples`` is 0 or the dataset is not a ``CustomDataset``. A class missing
    from the sample is not an error here (a sample need not hold every class).

    Args:
        dataset: the built training dataset (``RepeatDataset`` wrappers are looked through).
        samples: how many label files to read (config key ``check_data=dict(samples=N)``).
        data_cfg: the config's ``data``, to name every split's key in the suggested fix.
        config: the config file, for the commands in messages.
    """
    dataset = unwrap_repeats(dataset)
    if not samples or not isinstance(dataset, CustomDataset) or dataset.ann_dir is None:
        return
    key = dataset_node(data_cfg, "train")[0] if data_cfg and "train" in data_cfg else "data.train"
    report = check_split(dataset, key, indices=sample_indices(len(dataset), samples), config=config,
                         fix_keys=dataset_keys(data_cfg), strict_classes=False, progress=False)
    if report.errors:
        raise DataError(training_error_message(report, report.errors, config))


def training_error_message(report: SplitReport, errors: list[Fault], config: str | None) -> str:
    """One line: the first kind of error, an example file, the fix, and how to see all or skip."""
    first = errors[0]
    parts = [f"{len(report.pairs)} training label files checked before the first iteration"]
    if first.path == report.key:
        parts.append(first.message)
    else:
        files = [f for f in errors if f.kind == first.kind]
        parts.append(f"{len(files)} of them: {first.kind}, e.g. {first.path} {first.message}")
    if first.kind in report.advice:
        parts.append(report.advice[first.kind])
    parts.append(f"seglab check-data {config or 'CONFIG'} lists every file; check_data=False in the config skips "
                 "this check if the values are intended")
    return ". ".join(parts)


def check_split_config(data_cfg: Mapping, split: str, *, config: str | None = None,
                       progress: bool = True) -> SplitReport:
    """``check_split`` of ``data.<split>`` of a config, every file; a dataset that cannot be
    built (no image folder, a split file naming missing images) is reported as a fault."""
    key, node = dataset_node(data_cfg, split)
    try:
        dataset = build_for_check(node, key)
    except SeglabError as e:
        report = SplitReport(key, None)
        report.faults.append(Fault("cannot list files", key, str(e)))
        return report
    return check_split(dataset, key, config=config, fix_keys=dataset_keys(data_cfg), progress=progress,
                       strict_classes=split == "train")
