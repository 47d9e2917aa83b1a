"""Formatting transforms: arrays to tensors (``DefaultFormatBundle``, ``ImageToTensor``) and the
final selection of keys and image metas (``Collect``).

Unlike 0.x there is no ``DataContainer``: ``Collect`` returns plain tensors and a plain
``img_metas`` dict, and ``seglab.data.collate`` batches them.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from seglab.registry import config_error
from seglab.errors import ConfigError
from seglab.registry import TRANSFORMS

DEFAULT_META_KEYS = ("filename", "ori_filename", "ori_shape", "img_shape", "pad_shape", "scale_factor",
                     "flip", "flip_direction", "img_norm_cfg")


def image_to_tensor(img: np.ndarray, dtype: type | None = None) -> torch.Tensor:
    """(H, W[, C]) array -> (C, H, W) tensor sharing one contiguous copy."""
    if img.ndim < 3:
        img = img[..., None]
    return torch.from_numpy(np.ascontiguousarray(img.transpose(2, 0, 1), dtype=dtype))


@TRANSFORMS.register
class DefaultFormatBundle:
    """``img`` -> float32 (C, H, W) tensor; ``gt_semantic_seg`` -> int64 (1, H, W) tensor."""

    def __call__(self, results: dict[str, Any]) -> dict[str, Any]:
        if "img" in results:
            results["img"] = image_to_tensor(results["img"], np.float32)
        if "gt_semantic_seg" in results:
            results["gt_semantic_seg"] = torch.from_numpy(
                np.ascontiguousarray(results["gt_semantic_seg"][None], dtype=np.int64))
        return results

    def __repr__(self) -> str:
        return "DefaultFormatBundle()"


@TRANSFORMS.register
class ImageToTensor:
    """Turn each of ``keys`` (H, W[, C] arrays) into a (C, H, W) tensor of the same dtype.

    Args:
        keys: the results keys to convert.
    """

    def __init__(self, keys: Sequence[str]) -> None:
        if isinstance(keys, str):
            raise config_error(f"keys must be a list such as ['img'], got the string {keys!r}")
        self.keys = list(keys)

    def __call__(self, results: dict[str, Any]) -> dict[str, Any]:
        for key in self.keys:
            results[key] = image_to_tensor(results[key])
        return results

    def __repr__(self) -> str:
        return f"ImageToTensor(keys={self.keys})"


@TRANSFORMS.register
class Collect:
    """Keep ``keys`` and gather ``meta_keys`` into ``img_metas``: ``dict(img_metas=..., **keys)``.

    Args:
        keys: results keys passed to the model (``['img', 'gt_semantic_seg']``).
        meta_keys: results keys collected into the ``img_metas`` dict.
    """

    def __init__(self, keys: Sequence[str], meta_keys: Sequence[str] = DEFAULT_META_KEYS) -> None:
        if isinstance(keys, str) or isinstance(meta_keys, str):
            raise config_error("keys and meta_keys must be lists of names, not a string")
        self.keys = list(keys)
        self.meta_keys = list(meta_keys)

    def __call__(self, results: dict[str, Any]) -> dict[str, Any]:
        missing = [k for k in self.meta_keys + self.keys if k not in results]
        if missing:
            raise ConfigError(
                f"Collect: {', '.join(map(repr, missing))} not in the pipeline's results for "
                f"{results.get('filename', 'this sample')} (present: {', '.join(sorted(results))}); add the "
                "transform that sets them before Collect, or drop them from Collect's keys/meta_keys")
        data = {"img_metas": {k: results[k] for k in self.meta_keys}}
        data.update((k, results[k]) for k in self.keys)
        return data

    def __repr__(self) -> str:
        return f"Collect(keys={self.keys}, meta_keys={self.meta_keys})"
