"""The one merge rule shared by ``_base_`` inheritance and ``--cfg-options`` overrides.

A child value merges over a base value like this:
- a dict merges key by key into a base dict, recursively;
- a dict with ``_delete_=True`` replaces the base value whole (the ``_delete_`` key is dropped);
- a dict over a missing key or over ``None`` is simply the new value (0.x raised here for
  ``None``; the intent is unambiguous, so seglab accepts it);
- a dict over any other non-dict value is an error that suggests ``_delete_=True``;
- every other value (numbers, strings, lists, tuples, None) replaces the base value.

Overrides (``list_index=True``) may also index into lists: ``{'0': {...}}`` over a list merges
into its first item (``train_pipeline.0.type=X`` on the command line).
Neither input is modified; the result shares unchanged subtrees with ``base``.
"""
from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from seglab.errors import ConfigError

DELETE_KEY = "_delete_"
MISSING: Any = object()  # "the base has no such key"


def join(path: str, key: Any) -> str:
    return f"{path}.{key}" if path else str(key)


def merge(base: Any, child: Any, path: str = "", *, list_index: bool = False) -> Any:
    """Return ``child`` merged over ``base``.

    Args:
        base: the existing value, or ``MISSING``.
        child: the new value.
        path: the dotted key of these values, for error messages.
        list_index: let a dict of integer keys merge into a list or tuple (overrides only).
    """
    if not isinstance(child, Mapping):
        return _copy_value(child, path)
    child = dict(child)
    delete = child.pop(DELETE_KEY, False)
    if not isinstance(delete, bool):
        raise ConfigError(f"{join(path, DELETE_KEY)} must be True or False, got {delete!r}")
    if delete or base is MISSING or base is None:
        base = {}
    elif list_index and isinstance(base, (list, tuple)):
        return _merge_into_list(base, child, path)
    elif not isinstance(base, Mapping):
        raise ConfigError(
            f"{path}: cannot merge the dict {child!r} into the existing value {base!r} "
            f"({type(base).__name__}). To replace that value with the dict, set _delete_=True in the "
            f"new dict (as an override: {join(path, DELETE_KEY)}=True).")
    merged = dict(base)
    for key, value in child.items():
        merged[key] = merge(base.get(key, MISSING), value, join(path, key), list_index=list_index)
    return merged


def _merge_into_list(base: list | tuple, child: dict, path: str) -> list | tuple:
    items = list(base)
    for key, value in child.items():
        try:
            index = int(key)
        except (TypeError, ValueError):
            raise ConfigError(f"{join(path, key)}: {path or 'the value'} is a {type(base).__name__}, so the "
                              f"next part of the key must be an item index (0 to {len(items) - 1}), "
                              f"not {key!r}") from None
        if not -len(items) <= index < len(items):
            raise ConfigError(f"{join(path, key)}: index {index} is out of range; {path} has "
                              f"{len(items)} item(s)")
        items[index] = merge(items[index], value, join(path, key), list_index=True)
    return items if isinstance(base, list) else tuple(items)


def _copy_value(value: Any, path: str) -> Any:
    """A deep copy of a replacing value; ``_delete_`` inside a list cannot mean anything."""
    if isinstance(value, (list, tuple)) and type(value) in (list, tuple):
        items = [_copy_item(v, f"{path}[{i}]") for i, v in enumerate(value)]
        return items if isinstance(value, list) else tuple(items)
    return copy.deepcopy(value)


def _copy_item(value: Any, path: str) -> Any:
    if isinstance(value, Mapping):
        if DELETE_KEY in value:
            raise ConfigError(f"{path}: '_delete_' is set on a dict inside a list, where it has no effect: "
                              f"a list replaces the base value whole. Remove the '_delete_' key.")
        return {k: _copy_item(v, join(path, k)) for k, v in value.items()}
    return _copy_value(value, path)

