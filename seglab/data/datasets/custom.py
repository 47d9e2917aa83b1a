"""``CustomDataset``: images and label maps in two folders, matched by file name (0.x layout).

    data_root/img_dir/xxx{img_suffix}      data_root/ann_dir/xxx{seg_map_suffix}
    data_root/img_dir/sub/yyy{img_suffix}  data_root/ann_dir/sub/yyy{seg_map_suffix}

Images are found recursively and sorted, or listed (basenames without suffix) in a ``split``
file. Labels hold class ids 0..N-1 and ``ignore_index`` (255). Metrics follow 0.x:
``pre_eval`` gives per-image areas, ``evaluate`` sums them into ``aAcc``, ``mIoU``, ``IoU.<class>``...
"""
from __future__ import annotations

import logging
import os
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import numpy as np
from torch.utils.data import Dataset

from seglab.data.io import check_file_client_args
from seglab.data.transforms.compose import Compose
from seglab.registry import config_error
from seglab.errors import ConfigError, DataError
from seglab.registry import DATASETS, TRANSFORMS, did_you_mean

_log = logging.getLogger(__name__)


def _under(root: str | None, path: str | None) -> str | None:
    if path is None or root is None or os.path.isabs(path):
        return None if path is None else str(path)
    return os.path.join(root, path)


def scan_files(directory: str, suffix: str) -> list[str]:
    """Paths (relative, '/'-separated, sorted) of files under ``directory`` ending in ``suffix``."""
    found = []
    for dirpath, _, filenames in os.walk(directory, followlinks=True):
        rel = os.path.relpath(dirpath, directory)
        for name in filenames:
            if name.endswith(suffix):
                found.append(name if rel == "." else f"{rel}/{name}".replace(os.sep, "/"))
    return sorted(found)


def _read_lines(path: str, what: str) -> list[str]:
    if not os.path.isfile(path):
        raise DataError(f"{what} {path} does not exist")
    with open(path, encoding="utf-8") as f:
        return [line.strip() for line in f if line.strip()]


def _value_map(mapping: Any) -> dict[int, int] | None:
    """``label_value_map`` checked: 8-bit label values to 8-bit class ids."""
    if mapping is None:
        return None
    if not isinstance(mapping, Mapping):
        raise config_error(f"label_value_map must be a dict like {{255: 1}}, got {mapping!r}")
    checked = {}
    for old, new in mapping.items():
        if not all(isinstance(v, int) and not isinstance(v, bool) and 0 <= v <= 255 for v in (old, new)):
            raise config_error(f"label_value_map: {old!r}: {new!r} is not a pair of label values in 0..255; "
                               "write it like {{255: 1}}")
        checked[old] = new
    return checked or None


def _random_palette(n: int) -> list[list[int]]:
    # 0.x draws from seed 42 without touching the global RNG; same colours here.
    return np.random.RandomState(42).randint(0, 255, size=(n, 3)).tolist()


@DATASETS.register
class CustomDataset(Dataset):
    """A segmentation dataset of image files and label-map files.

    ``__getitem__`` runs the pipeline: in training the collected dict
    (``img``, ``gt_semantic_seg``, ``img_metas``), in test mode the test sample (lists, one
    entry per test-time augmentation).

    Args:
        pipeline: transform configs (see ``seglab.data.transforms``).
        img_dir: image folder (under ``data_root`` when relative).
        img_suffix: image file ending.
        ann_dir: label folder (under ``data_root`` when relative); needed for training and metrics.
        seg_map_suffix: label file ending; a label's name is its image's with the suffix replaced.
        split: text file of image basenames (without suffix), one per line; all images when None.
        data_root: folder that relative ``img_dir``, ``ann_dir`` and ``split`` are under.
        test_mode: run the test pipeline (no labels loaded by ``__getitem__``).
        ignore_index: label value that is not a class (excluded from metrics).
        reduce_zero_label: for metrics, label 0 is ignored and the other ids shift down by one.
        classes: class names (a list, or a text file with one name per line); for a dataset type
            with fixed classes, a subset of them: the other ids are then mapped to 255.
        palette: one ``[r, g, b]`` per class (a list, or a text file of ``r g b`` lines).
        gt_seg_map_loader_cfg: ``LoadAnnotations`` arguments for the labels used by metrics.
        label_value_map: ``{value saved in the label files: class id}``, applied to every label as
            it is read, before ``reduce_zero_label`` and the ``classes`` map, in training and
            evaluation alike; e.g. ``{255: 1}`` for binary masks saved as 0/255. Other values stay.
        file_client_args: accepted for 0.x configs; only ``dict(backend='disk')``.
    """

    CLASSES: tuple[str, ...] | None = None
    PALETTE: list[list[int]] | None = None

    def __init__(self, pipeline: Sequence[Mapping], img_dir: str, img_suffix: str = ".jpg",
                 ann_dir: str | None = None, seg_map_suffix: str = ".png", split: str | None = None,
                 data_root: str | None = None, test_mode: bool = False, ignore_index: int = 255,
                 reduce_zero_label: bool = False, classes: Sequence[str] | str | None = None,
                 palette: Sequence[Sequence[int]] | str | None = None,
                 gt_seg_map_loader_cfg: Mapping[str, Any] | None = None,
                 label_value_map: Mapping[int, int] | None = None,
                 file_client_args: Mapping[str, Any] | None = None) -> None:
        check_file_client_args(file_client_args, type(self).__name__)
        self.pipeline = Compose(pipeline)
        self.data_root = data_root
        self.img_dir = _under(data_root, img_dir)
        self.ann_dir = _under(data_root, ann_dir)
        self.split = _under(data_root, split)
        self.img_suffix = img_suffix
        self.seg_map_suffix = seg_map_suffix
        self.test_mode = test_mode
        self.ignore_index = ignore_index
        self.reduce_zero_label = reduce_zero_label
        self.CLASSES, self.label_map = self._resolve_classes(classes)
        self.PALETTE = self._resolve_palette(palette)
        self.label_value_map = _value_map(label_value_map)
        loader_cfg = {"type": "LoadAnnotations", "reduce_zero_label": reduce_zero_label,
                      **dict(gt_seg_map_loader_cfg or {})}
        self.gt_seg_map_loader = TRANSFORMS.build(loader_cfg, key="gt_seg_map_loader_cfg")
        if not test_mode and self.ann_dir is None:
            raise config_error(f"{type(self).__name__} for training needs ann_dir (the label folder); "
                               "set ann_dir=..., or test_mode=True for a dataset without labels")
        self.img_infos = self.load_annotations()
        _log.info("Loaded %d images from %s", len(self.img_infos), self.img_dir)

    # ----- classes and palette -------------------------------------------------------------
    def _resolve_classes(self, classes: Any) -> tuple[tuple[str, ...], dict[int, int] | None]:
        default = type(self).CLASSES
        if classes is None:
            if default is None:
                raise config_error(f"{type(self).__name__} needs classes=(...), the class names in label-id order")
            return tuple(default), None
        names = tuple(_read_lines(str(classes), "classes file") if isinstance(classes, (str, os.PathLike))
                      else (str(c) for c in classes))
        if not names or len(set(names)) != len(names):
            raise config_error(f"classes must be a non-empty list of distinct names, got {list(names)}")
        if default is None:
            return names, None
        unknown = [c for c in names if c not in default]
        if unknown:
            raise config_error(f"classes {unknown} are not classes of {type(self).__name__}."
                               f"{did_you_mean(unknown[0], default)} Its classes: {', '.join(default)}")
        label_map = {i: (names.index(c) if c in names else 255) for i, c in enumerate(default)}
        if names == tuple(default):
            return names, None
        return names, label_map

    def _resolve_palette(self, palette: Any) -> list[list[int]]:
        n = len(self.CLASSES)
        if palette is None:
            default = type(self).PALETTE
            if default is not None and self.label_map is not None:
                by_new = sorted((new, old) for old, new in self.label_map.items() if new != 255)
                return [list(default[old]) for _, old in by_new]
            if default is not None and len(default) == n:
                return [list(c) for c in default]
            return _random_palette(n)
        if isinstance(palette, (str, os.PathLike)):
            palette = [line.replace(",", " ").split() for line in _read_lines(str(palette), "palette file")]
        try:
            colours = [[int(v) for v in c] for c in palette]
        except (TypeError, ValueError) as e:
            raise config_error(f"palette must be a list of [r, g, b] integers, got {palette!r}") from e
        if len(colours) != n or any(len(c) != 3 or not all(0 <= v <= 255 for v in c) for c in colours):
            raise config_error(f"palette needs one [r, g, b] (0..255) per class: {n} classes, got {colours}")
        return colours

    # ----- files ------------------------------------------------------------------------------
    def load_annotations(self) -> list[dict[str, Any]]:
        """``img_infos``: ``[{'filename': rel_path, 'ann': {'seg_map': rel_path}}, ...]``."""
        if self.split is not None:
            names = [n + self.img_suffix for n in _read_lines(self.split, "split file")]
            self._check_exist(self.img_dir, names, "image", f"listed in split file {self.split}")
            if not names:
                raise DataError(f"split file {self.split} lists no images")
        else:
            if not os.path.isdir(self.img_dir):
                raise DataError(f"image directory {self.img_dir} does not exist (img_dir={self.img_dir!r}, "
                                f"data_root={self.data_root!r})")
            names = scan_files(self.img_dir, self.img_suffix)
            if not names:
                raise DataError(f"no images ending in {self.img_suffix!r} found under {self.img_dir} "
                                "(searched recursively); check img_dir and img_suffix")
        infos = [{"filename": n} for n in names]
        if self.ann_dir is not None:
            if not os.path.isdir(self.ann_dir):
                raise DataError(f"label directory {self.ann_dir} does not exist (ann_dir)")
            for info in infos:
                info["ann"] = {"seg_map": info["filename"][: -len(self.img_suffix)] + self.seg_map_suffix}
            self._check_exist(self.ann_dir, [i["ann"]["seg_map"] for i in infos], "label",
                              f"(a label's name is its image's with {self.img_suffix!r} replaced by "
                              f"{self.seg_map_suffix!r})")
        return infos

    @staticmethod
    def _check_exist(directory: str, names: list[str], what: str, hint: str) -> None:
        missing = [n for n in names if not os.path.isfile(os.path.join(directory, n))]
        if missing:
            shown = ", ".join(os.path.join(directory, n) for n in missing[:3])
            raise DataError(f"{len(missing)} of {len(names)} {what} files are missing: {shown}"
                            f"{', ...' if len(missing) > 3 else ''} {hint}")

    def __len__(self) -> int:
        return len(self.img_infos)

    def get_ann_info(self, idx: int) -> dict[str, str]:
        return self.img_infos[idx]["ann"]

    def pre_pipeline(self, results: dict[str, Any]) -> None:
        """What every pipeline run starts from: prefixes, custom-class map, label checks."""
        results["seg_fields"] = []
        results["img_prefix"] = self.img_dir
        results["seg_prefix"] = self.ann_dir
        results["num_classes"] = len(self.CLASSES)
        results["ignore_index"] = self.ignore_index
        if self.label_value_map:
            results["label_value_map"] = self.label_value_map
        if self.label_map is not None:
            results["label_map"] = self.label_map

    def __getitem__(self, idx: int) -> dict[str, Any]:
        results: dict[str, Any] = {"img_info": self.img_infos[idx]}
        if not self.test_mode:
            results["ann_info"] = self.get_ann_info(idx)
        self.pre_pipeline(results)
        return self.pipeline(results)

    # ----- evaluation ----------------------------------------------------------------------
    def get_gt_seg_map_by_idx(self, index: int) -> np.ndarray:
        """Label map of image ``index`` as metrics see it (after reduce_zero_label and label_map)."""
        if self.ann_dir is None:
            raise ConfigError(f"{type(self).__name__} has no ann_dir, so it has no labels to evaluate against")
        results: dict[str, Any] = {"ann_info": self.get_ann_info(index)}
        self.pre_pipeline(results)
        self.gt_seg_map_loader(results)
        return results["gt_semantic_seg"]

    def get_gt_seg_maps(self) -> Iterator[np.ndarray]:
        """Every label map in order (a generator, as in 0.x)."""
        for idx in range(len(self)):
            yield self.get_gt_seg_map_by_idx(idx)

    def pre_eval(self, preds: np.ndarray | list[np.ndarray], indices: int | list[int]) -> list[tuple]:
        """Per image ``(area_intersect, area_union, area_pred_label, area_label)`` over classes."""
        from seglab.evaluation import intersect_and_union

        preds = preds if isinstance(preds, list) else [preds]
        indices = indices if isinstance(indices, list) else [indices]
        out = []
        for pred, index in zip(preds, indices):
            label = self.get_gt_seg_map_by_idx(index)
            if np.shape(pred) != label.shape:
                path = os.path.join(self.ann_dir, self.get_ann_info(index)["seg_map"])
                raise DataError(f"prediction of shape {tuple(np.shape(pred))} does not match the label "
                                f"{path} of shape {label.shape}")
            # The label is already reduced/remapped, so the metric must not do it again.
            out.append(intersect_and_union(pred, label, len(self.CLASSES), self.ignore_index,
                                           label_map=None, reduce_zero_label=False))
        return out

    def evaluate(self, results: list, metric: str | Sequence[str] = "mIoU",
                 logger: logging.Logger | str | None = None) -> dict[str, float]:
        """0.x metrics as fractions: ``aAcc``, ``m<Metric>`` and ``<Metric>.<class>`` for each metric.

        Args:
            results: ``pre_eval`` outputs (one tuple per image) or one prediction per image.
            metric: ``'mIoU'``, ``'mDice'``, ``'mFscore'`` or a list of them.
            logger: where the per-class table goes (default the ``seglab`` logger; ``'silent'``: nowhere).
        """
        from seglab.evaluation import check_metrics, pre_eval_to_metrics, summarize

        metrics = check_metrics(metric, key="evaluation.metric")
        if results and isinstance(results[0], np.ndarray):
            results = [self.pre_eval(pred, i)[0] for i, pred in enumerate(results)]
        if not results:
            raise DataError("evaluate() got no results")
        # Percentages rounded to two decimals, then back to fractions, as 0.x logs them.
        eval_results, table = summarize(pre_eval_to_metrics(results, metrics), self.CLASSES)
        if logger != "silent":
            log = logger if isinstance(logger, logging.Logger) else _log
            log.info("per class results:\n%s", table)
        return eval_results
