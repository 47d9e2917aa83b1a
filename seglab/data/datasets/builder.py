"""``build_dataset``: a dataset from its config (``data.train``, ``data.val``, ``data.test``)."""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from torch.utils.data import Dataset

from seglab.registry import DATASETS


def build_dataset(cfg: Mapping[str, Any], default_args: Mapping[str, Any] | None = None, *,
                  key: str | None = None) -> Dataset:
    """Build ``cfg`` through ``DATASETS``; ``default_args`` fill keys the config does not set.

    For a ``RepeatDataset`` the defaults (e.g. ``test_mode=True``) go to the wrapped dataset.

    Args:
        cfg: dataset config with ``type``.
        default_args: arguments used where ``cfg`` does not set them.
        key: the config's path for error messages (``'data.train'``).
    """
    defaults = dict(default_args or {})
    if isinstance(cfg, Mapping) and cfg.get("type") == "RepeatDataset" and defaults:
        inner = cfg.get("dataset")
        if isinstance(inner, Mapping):
            cfg = {**cfg, "dataset": {**defaults, **inner}}
        defaults = {}
    return DATASETS.build(cfg, key=key, **defaults)
