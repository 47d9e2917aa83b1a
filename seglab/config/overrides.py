"""Dotted overrides: ``--cfg-options model.decode_head.num_classes=2 optimizer.lr=0.02``.

``DictAction`` turns ``KEY=VALUE`` tokens into ``{'model.decode_head.num_classes': 2, ...}``;
``nest_overrides`` turns that into the nested dict that ``Config.merge_from_dict`` merges like a
child config (``seglab.config.merge``, with list indices allowed: ``train_pipeline.2.img_scale``).

Values are Python literals where ``ast.literal_eval`` reads them (``0.02``, ``None``, ``True``,
``(1,2)``, ``'str'``); otherwise ``[a,b]``, ``(a,b)`` and ``a,b`` are sequences whose items are
parsed the same way, and anything else is the string as typed.
"""
from __future__ import annotations

import argparse
import ast
from collections.abc import Mapping, Sequence
from typing import Any

from seglab.errors import ConfigError


def parse_value(text: str) -> Any:
    """The value of one ``KEY=VALUE`` token's right-hand side."""
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        pass
    text = text.strip()
    if len(text) >= 2 and text[0] + text[-1] in ("[]", "()"):
        items = [parse_value(item) for item in _split_items(text[1:-1])]
        return items if text[0] == "[" else tuple(items)
    items = _split_items(text)
    if len(items) > 1:
        return [parse_value(item) for item in items]
    return text


def _split_items(text: str) -> list[str]:
    """Split on commas outside brackets and quotes: ``a,[b,c],'d,e'`` -> 3 items."""
    items, depth, quote, start = [], 0, "", 0
    for i, char in enumerate(text):
        if quote:
            quote = "" if char == quote else quote
        elif char in "'\"":
            quote = char
        elif char in "([{":
            depth += 1
        elif char in ")]}":
            depth -= 1
        elif char == "," and depth == 0:
            items.append(text[start:i])
            start = i + 1
    items.append(text[start:])
    items = [item.strip() for item in items]
    return items[:-1] if len(items) > 1 and not items[-1] else items  # allow a trailing comma


def nest_overrides(options: Mapping[str, Any]) -> dict[str, Any]:
    """``{'a.b.0.c': 1}`` -> ``{'a': {'b': {'0': {'c': 1}}}}``; a later key wins over an earlier one."""
    root: dict[str, Any] = {}
    for dotted, value in options.items():
        parts = str(dotted).split(".")
        if not all(parts):
            raise ConfigError(f"override key {dotted!r} has an empty part; write it like model.decode_head.num_classes")
        if not parts[0].isidentifier() or parts[0].startswith("_"):
            raise ConfigError(f"override key {dotted!r}: a top-level config key is a Python name not "
                              f"starting with '_', got {parts[0]!r}")
        node = root
        for part in parts[:-1]:
            if not isinstance(node.get(part), dict):
                node[part] = {}
            node = node[part]
        node[parts[-1]] = value
    return root


class DictAction(argparse.Action):
    """argparse action collecting ``KEY=VALUE`` tokens into a dict (use with ``nargs='+'``).

    ``parser.add_argument('--cfg-options', nargs='+', action=DictAction)`` gives
    ``args.cfg_options == {'optimizer.lr': 0.02, ...}``; repeating the option adds to the dict.
    """

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace,
                 values: str | Sequence[Any] | None, option_string: str | None = None) -> None:
        options = dict(getattr(namespace, self.dest, None) or {})
        for token in [values] if isinstance(values, str) else values or []:
            key, sep, text = str(token).partition("=")
            if not sep or not key:
                raise argparse.ArgumentError(self, f"expected KEY=VALUE (like optimizer.lr=0.02), got {token!r}")
            options[key] = parse_value(text)
        setattr(namespace, self.dest, options)
