"""``Compose``: a data pipeline built from a list of transform configs.

A transform is any callable ``results -> results`` (a dict with ``img``, ``gt_semantic_seg``,
``seg_fields``, ``img_shape``, ...); one returning ``None`` drops the sample, as in 0.x.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from seglab.registry import TRANSFORMS, config_error


def build_transforms(transforms: Sequence[Mapping | Callable], key: str) -> list[Callable]:
    """Build each config of ``transforms`` (callables pass through); errors name ``key.i``."""
    if isinstance(transforms, (str, bytes, Mapping)) or not isinstance(transforms, Sequence):
        raise config_error(f"{key} must be a list of transform configs, got {type(transforms).__name__}")
    built = []
    for i, t in enumerate(transforms):
        if isinstance(t, Mapping):
            built.append(TRANSFORMS.build(t, key=f"{key}.{i}"))
        elif callable(t):
            built.append(t)
        else:
            raise config_error(f"{key}.{i} must be a dict with a 'type' key or a callable, got {t!r}")
    return built


@TRANSFORMS.register
class Compose:
    """Apply transforms in order.

    Args:
        transforms: transform configs (built through the ``TRANSFORMS`` registry) or callables.
    """

    def __init__(self, transforms: Sequence[Mapping | Callable]) -> None:
        self.transforms = build_transforms(transforms, "pipeline")

    def __call__(self, results: dict[str, Any]) -> dict[str, Any] | None:
        for t in self.transforms:
            results = t(results)
            if results is None:
                return None
        return results

    def __repr__(self) -> str:
        inner = "".join(f"\n    {t!r}," for t in self.transforms)
        return f"Compose({inner}\n)"
