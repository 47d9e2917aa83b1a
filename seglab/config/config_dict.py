"""``ConfigDict``: a dict whose keys read and write as attributes.

``cfg.model.backbone.depth`` is ``cfg['model']['backbone']['depth']``. Every dict stored in a
ConfigDict (directly, or inside a list or tuple) becomes a ConfigDict when it is stored, so
attribute access works all the way down. Because a ConfigDict *is* a dict, it can be passed
wherever a mapping is expected, e.g. ``MODELS.build(cfg.model)``.

Keys that are also dict method names (``keys``, ``items``, ``update``, ...) need item access:
``step['keys']``.
"""
from __future__ import annotations

import copy
from typing import Any

from seglab.registry import did_you_mean


def _convert(value: Any) -> Any:
    """Turn plain dicts (also inside lists and tuples) into ConfigDicts."""
    if isinstance(value, ConfigDict):
        return value
    if isinstance(value, dict):
        return ConfigDict(value)
    if isinstance(value, list):
        return [_convert(v) for v in value]
    if type(value) is tuple:  # not namedtuples: their constructor takes fields, not an iterable
        return tuple(_convert(v) for v in value)
    return value


def _plain(value: Any) -> Any:
    """Turn ConfigDicts (also inside lists and tuples) back into plain dicts."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if type(value) is tuple:
        return tuple(_plain(v) for v in value)
    return value


class ConfigDict(dict):
    """A dict with attribute access whose nested dicts are ConfigDicts too.

    Args:
        *args, **kwargs: what ``dict(...)`` takes.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__()
        self.update(*args, **kwargs)

    def __setitem__(self, key: Any, value: Any) -> None:
        super().__setitem__(key, _convert(value))

    def update(self, *args: Any, **kwargs: Any) -> None:  # type: ignore[override]
        for key, value in dict(*args, **kwargs).items():
            self[key] = value

    def setdefault(self, key: Any, default: Any = None) -> Any:
        if key not in self:
            self[key] = default
        return self[key]

    def __getattr__(self, name: str) -> Any:
        # Only called when normal lookup fails, so methods and properties win over keys.
        try:
            return self[name]
        except KeyError:
            pass
        if name.startswith("__") and name.endswith("__"):
            raise AttributeError(name)  # protocol probes by copy/pickle: stay quiet
        keys = [k for k in self if isinstance(k, str)]
        raise AttributeError(f"config has no key {name!r}.{did_you_mean(name, keys)} "
                             f"Keys here: {', '.join(keys) or '(none)'}")

    def __setattr__(self, name: str, value: Any) -> None:
        self[name] = value

    def __delattr__(self, name: str) -> None:
        try:
            del self[name]
        except KeyError:
            raise AttributeError(f"config has no key {name!r}") from None

    def __dir__(self) -> list[str]:
        return list(super().__dir__()) + [k for k in self if isinstance(k, str) and k.isidentifier()]

    def copy(self) -> ConfigDict:  # type: ignore[override]
        """A shallow copy of the same type (``dict.copy`` would return a plain dict)."""
        return copy.copy(self)

    def to_dict(self) -> dict:
        """Plain dicts and lists all the way down (tuples stay tuples)."""
        return _plain(self)
