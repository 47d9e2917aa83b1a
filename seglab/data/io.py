"""Reading images and label maps from local disk, with errors that name the file.

Images load as mmcv 1.x does (OpenCV, BGR channel order); label maps load unchanged, so a
palette PNG gives its palette indices (Pillow) and a greyscale PNG its grey values.
"""
from __future__ import annotations

import os
import stat
from collections import OrderedDict
from collections.abc import Callable, Mapping
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


def _require_file(path: str, what: str) -> os.stat_result:
    try:
        st = os.stat(path)
    except OSError:
        st = None
    if st is None or not stat.S_ISREG(st.st_mode):
        raise DataError(f"{what} {path} does not exist")
    return st


class DecodedCache:
    """A least-recently-used cache of decoded files, bounded in bytes, one per process.

    Decoding dominates the training pipeline (a 584x565 PNG takes ~11 ms, everything after it
    ~4 ms), and small data sets repeated many times (DRIVE: 20 images, ``RepeatDataset`` x40000)
    decode the same files over and over. Entries are keyed by path, modification time and size, so
    a changed file is read again; callers get a copy, so in-place transforms cannot alter it.
    ``SEGLAB_DECODE_CACHE_MB`` sets the budget per process (default 256; 0 disables).
    """

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.bytes = 0
        self.entries: OrderedDict[tuple, np.ndarray] = OrderedDict()

    def get(self, key: tuple, decode: Callable[[], np.ndarray]) -> np.ndarray:
        array = self.entries.get(key)
        if array is not None:
            self.entries.move_to_end(key)
            return array.copy()
        array = decode()
        if 0 < array.nbytes <= self.max_bytes:
            self.entries[key] = array
            self.bytes += array.nbytes
            while self.bytes > self.max_bytes:
                self.bytes -= self.entries.popitem(last=False)[1].nbytes
            return array.copy()
        return array


_CACHE = DecodedCache(int(float(os.environ.get("SEGLAB_DECODE_CACHE_MB", "256")) * 2**20))


def _cache_key(path: str, st: os.stat_result, *mode: str) -> tuple:
    return (path, st.st_mtime_ns, st.st_size, *mode)


def read_image(path: str, color_type: str = "color", backend: str = "cv2") -> np.ndarray:
    """An image as a uint8 (H, W, 3) BGR array (or (H, W) for grayscale), as mmcv.imread gives it.

    Args:
        path: image file.
        color_type: ``'color'``, ``'grayscale'``, ``'unchanged'`` or their
            ``_ignore_orientation`` variants.
        backend: ``'cv2'`` or ``'pillow'``.
    """
    st = _require_file(path, "image file")
    return _CACHE.get(_cache_key(path, st, "image", color_type, backend),
                      lambda: _decode_image(path, color_type, backend))


def _decode_image(path: str, color_type: str, backend: str) -> np.ndarray:
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
    st = _require_file(path, "label file")
    return _CACHE.get(_cache_key(path, st, "label", backend), lambda: _decode_label(path, backend))


def _decode_label(path: str, backend: str) -> np.ndarray:
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
