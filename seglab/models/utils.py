"""Small helpers 0.x model code imports (``mmseg.core.add_prefix``)."""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def add_prefix(inputs: Mapping[str, Any], prefix: str) -> dict[str, Any]:
    """``{'loss_ce': v}`` -> ``{'<prefix>.loss_ce': v}``: how a segmentor names each head's losses."""
    return {f"{prefix}.{name}": value for name, value in inputs.items()}
