"""Reading images and label maps from local disk, with errors that name the file.

Images load as mmcv 1.x does (OpenCV, BGR channel order); label maps load unchanged, so a
palette PNG gives its palette indices (Pillow) and a greyscale PNG its grey values.
"""
from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import cv2
import numpy as np

from seglab.errors import ConfigError, DataError

_CV2_FLAGS = {
    "color": cv2.IMREAD_COLOR,
    "grayscale": cv2.IMREAD_GRAYSCALE,
    "unchanged": cv2.IMREAD_UNCHANGED,
    "color_ignore_orientation": cv2.IMREAD_COLOR | cv2.IMREAD_IGNORE_ORIENTATION,
    "grayscale_ignore_orientation": cv2.IMREAD_GRAYSCALE | cv2.IMREAD_IGNORE_ORIENTATION,
}
BACKENDS = ("cv2", "pillow")


def check_color_type(color_type: str, key: str = "color_type") -> None:
    if color_type not in _CV2_FLAGS:
        raise ConfigError(f"{key}={color_type!r} is not supported; use one of {', '.join(map(repr, _CV2_FLAGS))}")


def check_backend(backend: str, key: str = "imdecode_backend") -> None:
    if backend not in BACKENDS:
        raise ConfigError(f"{key}={backend!r} is not supported; use 'cv2' or 'pillow'")


def check_file_client_args(file_client_args: Mapping[str, Any] | None, owner: str) -> None:
    """0.x configs may pass ``file_client_args``; seglab reads local disk only."""
    if file_client_args is None:
        return
    if not isinstance(file_client_args, Mapping) or dict(file_client_args) not in ({}, {"backend": "disk"}):
        raise ConfigError(f"{owner}: file_client_args={file_client_args!r} is not supported; seglab reads local "
                          "files only (use dict(backend='disk') or leave it out)")


def _require_file(path: str, what: str) -> None:
    if not os.path.isfile(path):
        raise DataError(f"{what} {path} does not exist")


def read_image(path: str, color_type: str = "color", backend: str = "cv2") -> np.ndarray:
    """An image as a uint8 (H, W, 3) BGR array (or (H, W) for grayscale), as mmcv.imread gives it.

    Args:
        path: image file.
        color_type: ``'color'``, ``'grayscale'``, ``'unchanged'`` or their
            ``_ignore_orientation`` variants.
        backend: ``'cv2'`` or ``'pillow'``.
    """
    _require_file(path, "image file")
    if backend == "cv2":
        img = cv2.imread(path, _CV2_FLAGS[color_type])
        if img is None:
            raise DataError(f"image file {path} could not be decoded (not an image OpenCV can read, or corrupt)")
        return img
    return _read_with_pillow(path, color_type, "image file")


def _read_with_pillow(path: str, color_type: str, what: str) -> np.ndarray:
    from PIL import Image, ImageOps, UnidentifiedImageError

    try:
        with Image.open(path) as pil:
            if color_type in ("color", "grayscale"):
                pil = ImageOps.exif_transpose(pil)
            if color_type.startswith("color"):
                return np.ascontiguousarray(np.asarray(pil.convert("RGB"))[..., ::-1])
            if color_type.startswith("grayscale"):
                return np.asarray(pil.convert("L")).copy()
            array = np.array(pil)
    except (UnidentifiedImageError, OSError, ValueError) as e:
        raise DataError(f"{what} {path} could not be decoded: {e}") from e
    if array.ndim == 3 and array.shape[2] >= 3:  # unchanged colour: BGR like OpenCV
        array = np.ascontiguousarray(np.concatenate([array[..., 2::-1], array[..., 3:]], axis=2))
    return array


def read_label(path: str, backend: str = "pillow") -> np.ndarray:
    """A label map as a uint8 (H, W) array of class ids, read unchanged.

    A palette PNG gives its indices with ``backend='pillow'`` (OpenCV would expand the palette
    to colours). A three-channel file whose channels are equal is accepted as greyscale.

    Raises:
        DataError: the file is missing, unreadable, a colour image or holds values above 255.
    """
    _require_file(path, "label file")
    if backend == "cv2":
        label = cv2.imread(path, cv2.IMREAD_UNCHANGED)
        if label is None:
            raise DataError(f"label file {path} could not be decoded (not an image OpenCV can read, or corrupt)")
    else:
        label = _read_with_pillow(path, "unchanged", "label file")
    if label.ndim == 3 and label.shape[2] == 1:
        label = label[..., 0]
    if label.ndim == 3:
        if label.shape[2] >= 3 and (label[..., 0] == label[..., 1]).all() and (label[..., 0] == label[..., 2]).all():
            label = label[..., 0]
        else:
            raise DataError(f"label file {path} is a {label.shape[2]}-channel colour image; labels must be "
                            "single-channel class ids (a greyscale or palette PNG)")
    if label.ndim != 2:
        raise DataError(f"label file {path} has shape {label.shape}; expected a 2-D map of class ids")
    if label.dtype != np.uint8:
        if label.size and (label.min() < 0 or label.max() > 255):
            raise DataError(f"label file {path} holds values outside 0..255 ({label.min()}..{label.max()}); "
                            "seglab expects 8-bit class ids with 255 as the ignore value")
        label = label.astype(np.uint8)
    return label
