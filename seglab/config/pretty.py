"""Writing a resolved config back as a Python config file (``cfg.pretty_text``, ``cfg.dump``).

Each top-level key becomes ``key = value``. Dicts with identifier keys are written as
``dict(a=1)``, other dicts as ``{'a b': 1}``; tuples stay tuples. A value that fits in
``WIDTH`` columns stays on one line, otherwise its items go one per line.
"""
from __future__ import annotations

import keyword
import math
from collections.abc import Mapping
from typing import Any

from seglab.errors import ConfigError

WIDTH = 100


def format_config(cfg: Mapping[str, Any]) -> str:
    """The text of a Python config file that loads back to ``cfg``."""
    lines = []
    for key, value in cfg.items():
        if not _is_name(key) or key.startswith("_"):
            raise ConfigError(f"config key {key!r} cannot be written as a config file variable: top-level "
                              f"keys must be Python names not starting with '_'")
        lines.append(f"{key} = {_format(value, 0, len(key) + 3)}")
    return "\n".join(lines) + "\n"


def _is_name(key: Any) -> bool:
    return isinstance(key, str) and key.isidentifier() and not keyword.iskeyword(key)


def _format(value: Any, level: int, used: int) -> str:
    """``value`` as source; ``level`` is the current indentation, ``used`` the columns already taken."""
    text = _one_line(value)
    if used + len(text) <= WIDTH or not isinstance(value, (dict, list, tuple)) or not value:
        return text
    if isinstance(value, dict):
        as_call = all(_is_name(k) for k in value)
        opening, closing = ("dict(", ")") if as_call else ("{", "}")
        items = [(f"{k}=" if as_call else f"{k!r}: ", v) for k, v in value.items()]
    else:
        opening, closing = ("[", "]") if isinstance(value, list) else ("(", ")")
        items = [("", v) for v in value]
    inner = level + 4
    lines = [opening]
    lines += [" " * inner + prefix + _format(v, inner, inner + len(prefix)) + "," for prefix, v in items]
    lines.append(" " * level + closing)
    return "\n".join(lines)


def _one_line(value: Any) -> str:
    if isinstance(value, dict):
        if all(_is_name(k) for k in value):
            return "dict(" + ", ".join(f"{k}={_one_line(v)}" for k, v in value.items()) + ")"
        return "{" + ", ".join(f"{k!r}: {_one_line(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(_one_line(v) for v in value) + "]"
    if type(value) is tuple:
        items = [_one_line(v) for v in value]
        return "(" + items[0] + ",)" if len(items) == 1 else "(" + ", ".join(items) + ")"
    if isinstance(value, float) and not math.isfinite(value):
        return f"float({str(value)!r})"  # repr gives inf / nan, which are not Python names
    return repr(value)
