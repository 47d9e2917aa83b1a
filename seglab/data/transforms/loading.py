"""Loading transforms: ``LoadImageFromFile`` and ``LoadAnnotations`` (0.x keys and results).

The dataset's ``pre_pipeline`` puts ``img_info``/``ann_info`` (file names relative to
``img_prefix``/``seg_prefix``), ``seg_fields``, and, for label checks, saved-value maps and custom
classes, ``label_value_map``, ``label_map``, ``num_classes`` and ``ignore_index`` into the results dict.
"""
from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import numpy as np

from seglab.data.io import (check_backend, check_color_type, check_file_client_args, read_image,
                            read_label)
from seglab.errors import DataError
from seglab.registry import TRANSFORMS


def _join(prefix: str | None, name: str) -> str:
    return os.path.join(prefix, name) if prefix is not None else name


@TRANSFORMS.register
class LoadImageFromFile:
    """Load ``img_info['filename']`` (under ``img_prefix``) into ``results['img']`` (BGR uint8).

    Sets ``filename``, ``ori_filename``, ``img``, ``img_shape``, ``ori_shape``, ``pad_shape``,
    ``scale_factor`` (1.0) and an identity ``img_norm_cfg``.

    Args:
        to_float32: convert the image to float32.
        color_type: ``'color'``, ``'grayscale'``, ``'unchanged'`` (or ``*_ignore_orientation``).
        imdecode_backend: ``'cv2'`` or ``'pillow'``.
        file_client_args: accepted for 0.x configs; only ``dict(backend='disk')``.
    """

    def __init__(self, to_float32: bool = False, color_type: str = "color", imdecode_backend: str = "cv2",
                 file_client_args: Mapping[str, Any] | None = None) -> None:
        check_color_type(color_type)
        check_backend(imdecode_backend)
        check_file_client_args(file_client_args, "LoadImageFromFile")
        self.to_float32 = to_float32
        self.color_type = color_type
        self.imdecode_backend = imdecode_backend

    def __call__(self, results: dict[str, Any]) -> dict[str, Any]:
        filename = _join(results.get("img_prefix"), results["img_info"]["filename"])
        img = read_image(filename, self.color_type, self.imdecode_backend)
        if self.to_float32:
            img = img.astype(np.float32)
        channels = 1 if img.ndim < 3 else img.shape[2]
        results.update(
            filename=filename, ori_filename=results["img_info"]["filename"], img=img,
            img_shape=img.shape, ori_shape=img.shape, pad_shape=img.shape, scale_factor=1.0,
            img_norm_cfg=dict(mean=np.zeros(channels, dtype=np.float32),
                              std=np.ones(channels, dtype=np.float32), to_rgb=False))
        return results

    def __repr__(self) -> str:
        return (f"LoadImageFromFile(to_float32={self.to_float32}, color_type={self.color_type!r}, "
                f"imdecode_backend={self.imdecode_backend!r})")


def reduce_zero_label(label: np.ndarray) -> np.ndarray:
    """0 (unlabelled) becomes 255 (ignored) and every other id shifts down by one."""
    out = label - 1  # uint8: 0 wraps to 255, which stays ignored
    out[label == 255] = 255
    return out


def apply_label_map(label: np.ndarray, label_map: Mapping[int, int]) -> np.ndarray:
    """Map old ids to new ones with one lookup table (all replacements read the original ids)."""
    lut = np.arange(256, dtype=np.uint8)
    for old, new in label_map.items():
        lut[int(old)] = new
    return lut[label]


def check_label_range(label: np.ndarray, num_classes: int, ignore_index: int, filename: str) -> None:
    """Every id must be a class (0..num_classes-1) or ``ignore_index``."""
    if label.size == 0 or int(label.max()) < num_classes:
        return
    bad = np.unique(label[(label >= num_classes) & (label != ignore_index)])
    if bad.size:
        shown = ", ".join(str(v) for v in bad[:8]) + (", ..." if bad.size > 8 else "")
        raise DataError(
            f"label file {filename} holds class id(s) {shown} outside 0..{num_classes - 1} (ignore_index is "
            f"{ignore_index}); check the dataset's classes and reduce_zero_label, or convert the labels to "
            "train ids (tools/convert_cityscapes.py does this for Cityscapes labelIds)")


@TRANSFORMS.register
class LoadAnnotations:
    """Load the label map ``ann_info['seg_map']`` (under ``seg_prefix``) into ``gt_semantic_seg``.

    Order: the dataset's ``label_value_map`` (values as saved -> class ids, e.g. ``{255: 1}``),
    then as in 0.x ``reduce_zero_label``, then the dataset's ``label_map`` (custom classes). The label must have the image's size (when the image is loaded) and hold only
    class ids below ``num_classes`` or ``ignore_index`` (when the dataset supplies them).

    Args:
        reduce_zero_label: label 0 becomes 255 (ignored) and the others shift down by one.
        imdecode_backend: ``'pillow'`` (palette PNGs give their indices) or ``'cv2'``.
        file_client_args: accepted for 0.x configs; only ``dict(backend='disk')``.
    """

    def __init__(self, reduce_zero_label: bool = False, imdecode_backend: str = "pillow",
                 file_client_args: Mapping[str, Any] | None = None) -> None:
        check_backend(imdecode_backend)
        check_file_client_args(file_client_args, "LoadAnnotations")
        self.reduce_zero_label = reduce_zero_label
        self.imdecode_backend = imdecode_backend

    def __call__(self, results: dict[str, Any]) -> dict[str, Any]:
        filename = _join(results.get("seg_prefix"), results["ann_info"]["seg_map"])
        label = read_label(filename, self.imdecode_backend)
        if results.get("label_value_map"):
            label = apply_label_map(label, results["label_value_map"])
        if self.reduce_zero_label:
            label = reduce_zero_label(label)
        if results.get("label_map"):
            label = apply_label_map(label, results["label_map"])
        img = results.get("img")
        if img is not None and img.shape[:2] != label.shape:
            raise DataError(f"label file {filename} is {label.shape[1]}x{label.shape[0]} (WxH) but its image "
                            f"{results.get('filename')} is {img.shape[1]}x{img.shape[0]}; they must match")
        if results.get("num_classes") is not None:
            check_label_range(label, results["num_classes"], results.get("ignore_index", 255), filename)
        results["gt_semantic_seg"] = label
        results.setdefault("seg_fields", []).append("gt_semantic_seg")
        return results

    def __repr__(self) -> str:
        return (f"LoadAnnotations(reduce_zero_label={self.reduce_zero_label}, "
                f"imdecode_backend={self.imdecode_backend!r})")
