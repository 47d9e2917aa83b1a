"""Reading a Python config file: ``_base_`` inheritance and ``{{_base_.name}}`` references.

``load_config_file(path)`` returns the file's fully merged values as plain dicts:

1. parse the file with ``ast`` (a syntax error names the file and line);
2. read ``_base_`` (a literal string or list of strings, relative to the file), load each base
   the same way and merge them left to right;
3. replace every ``{{_base_.a.b}}`` expression in the tree by a lookup of that value in the
   merged bases (no textual preprocessing, so line numbers stay true);
4. execute the file; its variables not starting with ``_`` (modules, functions and classes
   excluded) are its values;
5. merge those over the bases (``seglab.config.merge``).
"""
from __future__ import annotations

import ast
import copy
import os
import re
import traceback
import types
from pathlib import Path
from typing import Any

from seglab.config.merge import merge
from seglab.errors import ConfigError
from seglab.registry import did_you_mean

BASE_KEY = "_base_"
_REFS_NAME = "__seglab_base_refs__"
# The quoted form '{{ _base_.a.b }}' (0.x accepts it too) for files that must stay valid Python values.
_QUOTED_REF = re.compile(r"^\{\{\s*_base_((?:\.\w+)+)\s*\}\}$")
_NOT_VALUES = (types.ModuleType, types.FunctionType, types.BuiltinFunctionType, type)


def load_config_file(filename: str | os.PathLike) -> dict[str, Any]:
    """The merged values of the config file ``filename`` (see the module docstring)."""
    return _load(Path(filename), chain=(), named_by=None)


def load_base_values(filename: str | os.PathLike) -> dict[str, Any]:
    """The merged values of the ``_base_`` files of ``filename`` alone (empty without ``_base_``):
    what the file itself starts from, so that a caller can tell which values it changed."""
    path = Path(os.path.normpath(os.path.abspath(filename)))
    if not path.is_file():
        raise ConfigError(f"config file not found: {path}")
    try:
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    except SyntaxError as e:
        raise ConfigError(f"{path}, line {e.lineno}: syntax error: {e.msg}") from e
    base: dict[str, Any] = {}
    for name in _base_names(tree, path):
        base = merge(base, _load(path.parent / name, (path,), named_by=path))
    return base


def _load(path: Path, chain: tuple[Path, ...], named_by: Path | None) -> dict[str, Any]:
    path = Path(os.path.normpath(os.path.abspath(path)))
    if path in chain:
        cycle = " -> ".join(str(p) for p in (*chain[chain.index(path):], path))
        raise ConfigError(f"_base_ cycle: {cycle}")
    if not path.is_file():
        named = f" (named in _base_ of {named_by})" if named_by else ""
        raise ConfigError(f"config file not found: {path}{named}")
    if path.suffix != ".py":
        raise ConfigError(f"{path}: config files are Python files ending in .py")
    try:
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    except SyntaxError as e:
        line = f"\n    {e.text.strip()}" if e.text else ""
        raise ConfigError(f"{path}, line {e.lineno}: syntax error: {e.msg}{line}") from e

    names = _base_names(tree, path)
    base: dict[str, Any] = {}
    for name in names:
        base_values = _load(path.parent / name, (*chain, path), named_by=path)
        try:
            base = merge(base, base_values)
        except ConfigError as e:
            raise ConfigError(f"{path}: merging base {name!r} over the bases before it: {e}") from e
    refs: list[Any] = []
    tree = ast.fix_missing_locations(_BaseReferences(base, refs, path, has_base=bool(names)).visit(tree))
    values = _execute(tree, path, refs)
    try:
        return merge(base, values)
    except ConfigError as e:
        raise ConfigError(f"{path}: {e}") from e


def _assigned_name(node: ast.stmt) -> str | None:
    if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
        return node.targets[0].id
    if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and node.value is not None:
        return node.target.id
    return None


def _base_names(tree: ast.Module, path: Path) -> list[str]:
    """The ``_base_`` file names, read from the tree: they must be known before the file runs."""
    names: list[str] = []
    for node in tree.body:
        if _assigned_name(node) != BASE_KEY:
            continue
        try:
            value = ast.literal_eval(node.value)
        except ValueError as e:
            raise ConfigError(f"{path}, line {node.lineno}: _base_ must be written as a string or a "
                              f"list of strings (file names relative to this file)") from e
        names = [value] if isinstance(value, str) else value
        if not isinstance(names, (list, tuple)) or not all(isinstance(n, str) for n in names):
            raise ConfigError(f"{path}, line {node.lineno}: _base_ must be a string or a list of "
                              f"strings, got {value!r}")
    return list(names)


class _BaseReferences(ast.NodeTransformer):
    """Replaces ``{{_base_.a.b}}`` by ``__seglab_base_refs__[i]``, where ``refs[i]`` is that value."""

    def __init__(self, base: dict, refs: list, path: Path, has_base: bool) -> None:
        self.base, self.refs, self.path, self.has_base = base, refs, path, has_base

    def visit_Set(self, node: ast.Set) -> ast.AST:
        if not (len(node.elts) == 1 and isinstance(node.elts[0], ast.Set) and len(node.elts[0].elts) == 1):
            return self.generic_visit(node)
        parts = _reference_parts(node.elts[0].elts[0])
        if parts is None:
            raise ConfigError(f"{self.path}, line {node.lineno}: {{{{ ... }}}} must hold a reference to a "
                              f"base value such as {{{{_base_.model.decode_head.num_classes}}}}, got "
                              f"{{{{{ast.unparse(node.elts[0].elts[0])}}}}}")
        return self._lookup(parts, node)

    def visit_Constant(self, node: ast.Constant) -> ast.AST:
        match = _QUOTED_REF.match(node.value) if isinstance(node.value, str) else None
        return self._lookup(match.group(1)[1:].split("."), node) if match else node

    def _lookup(self, parts: list, node: ast.expr) -> ast.expr:
        written = "{{_base_." + ".".join(map(str, parts)) + "}}"
        where = f"{self.path}, line {node.lineno}: {written}"
        if not self.has_base:
            raise ConfigError(f"{where}: this file has no _base_ to take the value from")
        value: Any = self.base
        for i, part in enumerate(parts):
            at = ".".join(["_base_", *map(str, parts[:i])])
            if isinstance(value, dict) and part in value:
                value = value[part]
            elif isinstance(value, (list, tuple)) and isinstance(part, int) and -len(value) <= part < len(value):
                value = value[part]
            else:
                hint = did_you_mean(str(part), value) if isinstance(value, dict) else ""
                raise ConfigError(f"{where}: the base configs have no {part!r} in {at}.{hint}")
        self.refs.append(copy.deepcopy(value))
        lookup = ast.Subscript(value=ast.Name(id=_REFS_NAME, ctx=ast.Load()),
                               slice=ast.Constant(value=len(self.refs) - 1), ctx=ast.Load())
        return ast.copy_location(lookup, node)


def _reference_parts(node: ast.expr) -> list | None:
    """``_base_.a.b[0]`` -> ``['a', 'b', 0]``; None when ``node`` is not rooted at ``_base_``."""
    parts: list = []
    while True:
        if isinstance(node, ast.Attribute):
            parts.insert(0, node.attr)
            node = node.value
        elif isinstance(node, ast.Subscript) and isinstance(node.slice, ast.Constant):
            parts.insert(0, node.slice.value)
            node = node.value
        else:
            break
    return parts if isinstance(node, ast.Name) and node.id == BASE_KEY and parts else None


def _execute(tree: ast.Module, path: Path, refs: list) -> dict[str, Any]:
    namespace: dict[str, Any] = {"__file__": str(path), "__name__": "seglab_config", _REFS_NAME: refs}
    try:
        exec(compile(tree, str(path), "exec"), namespace)
    except ConfigError:
        raise
    except Exception as e:
        # The innermost line of this file in the traceback is where the config went wrong.
        lines = [f.lineno for f in traceback.extract_tb(e.__traceback__) if f.filename == str(path)]
        line = f", line {lines[-1]}" if lines else ""
        raise ConfigError(f"{path}{line}: {type(e).__name__}: {e}") from e
    return {k: v for k, v in namespace.items()
            if not k.startswith("_") and not isinstance(v, _NOT_VALUES)}

