"""Config sections as frozen dataclasses: the fields are the schema.

``build_section(Evaluation, cfg['evaluation'], 'evaluation')`` checks the section's keys with
the registry's own argument check (an unknown key is a ``ConfigError`` naming
``evaluation.intervall``, the closest accepted keys and all of them; a required one missing is
named too), then each value against its field's type hint, once, and returns the frozen
instance. Nested sections are dataclass-typed fields and are built the same way.

A field can carry two notes in its metadata:
- ``no_effect``: why seglab accepts the key (0.x configs carry it) but does not act on it; setting
  it to anything but its default logs that reason as a warning, so nothing is silently ignored;
- ``help``: what to write instead, appended to a type error.
"""
from __future__ import annotations

import dataclasses
import functools
import logging
import types
import typing
from collections.abc import Mapping, Sequence
from typing import Any, Literal, Union

from seglab.errors import ConfigError
from seglab.registry import check_arguments

logger = logging.getLogger("seglab")


def number(value: Any, where: str) -> float:
    """``value`` as a float; a bool or a non-number is a ``ConfigError`` naming ``where``."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConfigError(f"{where} must be a number, got {value!r}")
    return float(value)


def build_section(cls: type, value: Any, path: str) -> Any:
    """The dataclass ``cls`` built from the mapping ``value`` (see the module docstring)."""
    if isinstance(value, cls):
        return value
    if not isinstance(value, Mapping):
        raise ConfigError(f"{path} must be a dict with the keys {', '.join(_field_names(cls))}, "
                          f"got {type(value).__name__}: {value!r}")
    check_arguments(cls, value, path)
    hints = _hints(cls)
    args = {}
    for f in dataclasses.fields(cls):
        if f.name not in value:
            continue
        where = f"{path}.{f.name}" if path else f.name
        args[f.name] = check_value(value[f.name], hints[f.name], where, f.metadata.get("help", ""))
        if "no_effect" in f.metadata and args[f.name] != f.default:
            logger.warning(f"{where}={value[f.name]!r} has no effect in seglab: {f.metadata['no_effect']}")
    return cls(**args)


@functools.cache
def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _field_names(cls: type) -> list[str]:
    return [f.name for f in dataclasses.fields(cls)]


def check_value(value: Any, hint: Any, where: str, help: str = "") -> Any:
    """``value`` checked against the type ``hint`` (ints pass as floats and become floats)."""
    try:
        return _check(value, hint, where)
    except _Mismatch:
        suffix = f" {help}" if help else ""
        raise ConfigError(f"{where} must be {describe(hint)}, got {value!r}.{suffix}") from None


class _Mismatch(Exception):
    pass


def _check(value: Any, hint: Any, where: str) -> Any:
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if hint is Any:
        return value
    if hint is type(None):
        if value is None:
            return None
        raise _Mismatch
    if origin in (Union, types.UnionType):
        for option in args:
            try:
                return _check(value, option, where)
            except _Mismatch:
                continue
        raise _Mismatch
    if origin is Literal:
        if value in args and type(value) in {type(a) for a in args}:
            return value
        raise _Mismatch
    if dataclasses.is_dataclass(hint):
        if not isinstance(value, Mapping):
            raise _Mismatch
        return build_section(hint, value, where)
    if hint is bool:
        if isinstance(value, bool):
            return value
        raise _Mismatch
    if hint is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        raise _Mismatch
    if hint is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        raise _Mismatch
    if hint is str:
        if isinstance(value, str):
            return value
        raise _Mismatch
    if origin in (list, tuple, Sequence) or hint in (list, tuple):
        if not isinstance(value, (list, tuple)):
            raise _Mismatch
        if origin is tuple and args and args[-1] is not Ellipsis:
            if len(value) != len(args):
                raise _Mismatch
            return tuple(_check(v, a, f"{where}.{i}") for i, (v, a) in enumerate(zip(value, args)))
        item = args[0] if args else Any
        checked = [_check(v, item, f"{where}.{i}") for i, v in enumerate(value)]
        return tuple(checked) if origin is tuple or hint is tuple else checked
    if origin in (dict, Mapping) or hint in (dict, Mapping):
        if not isinstance(value, Mapping):
            raise _Mismatch
        if args:
            for k, v in value.items():
                _check(k, args[0], where)
                _check(v, args[1], f"{where}.{k}")
        return value
    raise TypeError(f"schema of {where}: unsupported type hint {hint!r}")


def describe(hint: Any) -> str:
    """A type hint in words: ``int | None`` -> ``an integer or None``."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (Union, types.UnionType):
        return " or ".join(describe(a) for a in args)
    if origin is Literal:
        return "one of " + ", ".join(map(repr, args))
    if dataclasses.is_dataclass(hint):
        return f"a dict with the keys {', '.join(_field_names(hint))}"
    if origin in (list, tuple, Sequence) or hint in (list, tuple):
        if origin is tuple and args and args[-1] is not Ellipsis:
            return f"a list of {len(args)} values ({', '.join(describe(a) for a in args)})"
        return f"a list (each {describe(args[0])})" if args and args[0] is not Any else "a list"
    if origin in (dict, Mapping) or hint in (dict, Mapping):
        return "a dict"
    return {type(None): "None", bool: "True or False", int: "an integer", float: "a number",
            str: "a string", Any: "any value"}.get(hint, getattr(hint, "__name__", str(hint)))
