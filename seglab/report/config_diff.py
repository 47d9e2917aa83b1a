"""Which values of a resolved config differ from the ``_base_`` files it builds on, and who set them.

Every leaf of the resolved config (dicts and lists of dicts are walked; other lists and tuples
are single values) is compared at its dotted key with two other configs:

    base       the merged ``_base_`` chain of the original config file
    own        the original config file itself (its bases and its own values)
    resolved   what the run used (the dump in the work dir: ``--cfg-options`` and settings such as
               ``work_dir`` included)

A key whose resolved value is not the base's is marked: ``'config file'`` when the file set it,
``'override'`` when the file's own value was replaced at run time.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

MISSING: Any = object()


@dataclass(frozen=True)
class ConfigRow:
    """One leaf of the resolved config: dotted key, value, base value (``MISSING`` when the base
    chain has no such key) and who changed it (``''`` when it is the base's value)."""

    key: str
    value: Any
    base: Any
    set_by: str


def flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    """``{'a.b': leaf, 'a.c.0.type': leaf, ...}``: dicts and lists holding dicts are walked."""
    if isinstance(value, Mapping) and value:
        items = value.items()
    elif isinstance(value, list) and any(isinstance(v, Mapping) for v in value):
        items = enumerate(value)
    else:
        return {prefix: value}
    out: dict[str, Any] = {}
    for key, item in items:
        out.update(flatten(item, f"{prefix}.{key}" if prefix else str(key)))
    return out


def compare(resolved: Mapping[str, Any], base: Mapping[str, Any] | None,
            own: Mapping[str, Any] | None) -> list[ConfigRow]:
    """A row per leaf of ``resolved``, marked against ``base`` and ``own`` (see the module
    docstring). Without ``base`` no row is marked."""
    flat = flatten(dict(resolved))
    flat_base = flatten(dict(base)) if base is not None else None
    flat_own = flatten(dict(own)) if own is not None else {}
    rows = []
    for key, value in flat.items():
        if flat_base is None:
            rows.append(ConfigRow(key, value, MISSING, ""))
            continue
        base_value = flat_base.get(key, MISSING)
        own_value = flat_own.get(key, MISSING)
        if _same(value, base_value):
            set_by = ""
        elif own_value is not MISSING and _same(value, own_value):
            set_by = "config file"
        else:
            set_by = "override"
        rows.append(ConfigRow(key, value, base_value, set_by))
    return rows


def _same(a: Any, b: Any) -> bool:
    if a is MISSING or b is MISSING:
        return a is b
    # a tuple dumped and loaded back may come back as a list: compare the values
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    return type(a) is type(b) and a == b or (isinstance(a, (int, float)) and isinstance(b, (int, float))
                                             and not isinstance(a, bool) and not isinstance(b, bool) and a == b)
