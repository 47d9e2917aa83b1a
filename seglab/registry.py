"""One registry mechanism for every buildable component.

A registry maps a ``type`` name to a class (or function). ``build(cfg)`` calls it with the
remaining config keys, so a component's constructor signature *is* its config schema: a
misspelled key or type fails at once, naming the config path, the offending key, the closest
valid names and every accepted key.

Nested builds know where they are: a component that builds a child passes ``key=`` (e.g.
``MODELS.build(cfg, key='sampler')`` inside a head) and errors then read
``model.decode_head.sampler``.
"""
from __future__ import annotations

import contextlib
import difflib
import inspect
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

from seglab.errors import ConfigError

_build_path = threading.local()


def _current_path() -> list[str]:
    if not hasattr(_build_path, "parts"):
        _build_path.parts = []
    return _build_path.parts


def current_build_path() -> str:
    """The dotted config path being built now (``'model.decode_head'``), or ``''``."""
    return ".".join(_current_path())


def config_error(message: str) -> ConfigError:
    """A ConfigError prefixed with the config path being built (``data.train.pipeline.3``)."""
    path = current_build_path()
    return ConfigError(f"{path}: {message}" if path else message)


@contextlib.contextmanager
def _entering(part: str) -> Iterator[str]:
    parts = _current_path()
    parts.append(part)
    try:
        yield ".".join(parts)
    finally:
        parts.pop()


def did_you_mean(word: str, candidates: list[str] | tuple[str, ...] | Any) -> str:
    """Return ' Did you mean 'x'?' for the closest candidates, or '' when none is close."""
    candidates = [str(c) for c in candidates]
    by_lower = {c.lower(): c for c in candidates}
    matches = difflib.get_close_matches(word.lower(), list(by_lower), n=3, cutoff=0.6)
    if not matches:
        return ""
    names = " or ".join(repr(by_lower[m]) for m in matches)
    return f" Did you mean {names}?"


def accepted_arguments(obj: Callable) -> tuple[list[str], list[str], bool]:
    """(all keyword names, required names, takes arbitrary keywords) of a class constructor or function.

    A constructor that passes ``**kwargs`` on to its parent's accepts the parent's keywords too:
    they are followed up the class's method resolution order, so a subclass that only changes a
    few defaults (``def __init__(self, img_suffix='.png', **kwargs)``) is checked against the whole
    schema. Only a ``**kwargs`` that reaches no further constructor accepts anything.
    """
    own, inherited = _signature_arguments(obj.__init__ if inspect.isclass(obj) else obj, inspect.isclass(obj))
    names, required = list(own[0]), list(own[1])
    if not inherited:
        return names, required, False
    parent = _next_constructor(obj) if inspect.isclass(obj) else None
    if parent is None:
        return names, required, True
    parent_names, parent_required, parent_var_kw = accepted_arguments(parent)
    names += [n for n in parent_names if n not in names]
    required += [n for n in parent_required if n not in own[0]]
    return names, required, parent_var_kw


def _signature_arguments(target: Callable, is_method: bool) -> tuple[tuple[list[str], list[str]], bool]:
    params = list(inspect.signature(target).parameters.values())
    if is_method and params and params[0].name == "self":
        params = params[1:]
    names, required, var_kw = [], [], False
    for p in params:
        if p.kind is p.VAR_KEYWORD:
            var_kw = True
        elif p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY):
            names.append(p.name)
            if p.default is p.empty:
                required.append(p.name)
    return (names, required), var_kw


def _next_constructor(cls: type) -> type | None:
    """The first class after ``cls``'s own ``__init__`` in its MRO that defines another one
    (``object`` excluded: its ``__init__`` takes nothing)."""
    mro = cls.__mro__
    owner = next(i for i, c in enumerate(mro) if "__init__" in vars(c))
    for c in mro[owner + 1:]:
        if "__init__" in vars(c) and c is not object:
            return c
    return None


def check_arguments(obj: Callable, args: Mapping, path: str) -> None:
    """The check every build makes before calling ``obj(**args)``: each key of ``args`` must be one
    of ``obj``'s keyword arguments (else a ``ConfigError`` naming ``path``, the key, the closest
    accepted keys and all of them) and every required argument must be given."""
    names, required, var_kw = accepted_arguments(obj)
    type_name = getattr(obj, "__name__", str(obj))
    if not var_kw:
        for arg in args:
            if arg not in names:
                raise ConfigError(
                    f"{path}: {type_name} does not take the key {arg!r}.{did_you_mean(str(arg), names)} "
                    f"Accepted keys: {', '.join(names)}")
    missing = [r for r in required if r not in args]
    if missing:
        raise ConfigError(f"{path}: {type_name} needs the key(s) {', '.join(map(repr, missing))}. "
                          f"Accepted keys: {', '.join(names)}")


class Registry:
    """A named table of buildable components.

    Args:
        name: what the registry holds, used in error messages (e.g. ``'model'``).
    """

    def __init__(self, name: str) -> None:
        self.name = name
        self._entries: dict[str, Callable] = {}

    def register(self, obj: Callable | None = None, *, name: str | None = None,
                 force: bool = False) -> Callable:
        """Register ``obj`` under ``name`` (default: its ``__name__``).

        Usable as ``@REG.register``, ``@REG.register()`` or ``@REG.register(name='X')``.
        Registering a second object under a taken name is an error unless ``force``.
        """
        def add(target: Callable) -> Callable:
            key = name or target.__name__
            if key in self._entries and self._entries[key] is not target and not force:
                raise KeyError(f"{key!r} is already registered in the {self.name} registry "
                               f"(by {self._entries[key].__module__})")
            self._entries[key] = target
            return target

        return add(obj) if obj is not None else add

    def register_module(self, name: str | Sequence[str] | type | None = None, force: bool = False,
                        module: Callable | None = None) -> Callable:
        """mmcv 1.x's spelling of ``register``, so 0.x code registers unchanged.

        ``@REG.register_module()``, ``@REG.register_module(name='X')`` (or a list of names),
        ``REG.register_module(module=cls)`` and the bare ``@REG.register_module``.
        """
        if isinstance(name, type):  # bare decorator: the class came in as `name`
            return self.register(name, force=force)
        names = [name] if name is None or isinstance(name, str) else list(name)

        def add(target: Callable) -> Callable:
            for one in names:
                self.register(target, name=one, force=force)
            return target

        return add(module) if module is not None else add

    @property
    def module_dict(self) -> dict[str, Callable]:
        """Name -> registered object (a copy; mmcv's attribute name)."""
        return dict(self._entries)

    def get(self, name: str) -> Callable:
        """The component registered as ``name``; a clear error with suggestions otherwise."""
        if name in self._entries:
            return self._entries[name]
        raise ConfigError(f"unknown {self.name} type {name!r}.{did_you_mean(name, self._entries)} "
                          f"Registered {self.name} types: {', '.join(sorted(self._entries))}")

    def build(self, cfg: Mapping | None, *, key: str | None = None, default_args: Mapping | None = None,
              **defaults: Any) -> Any:
        """Build the component that ``cfg['type']`` names, passing the other keys as arguments.

        Args:
            cfg: a mapping with ``type`` (a registered name or a class) and constructor keys.
                ``None`` builds nothing and returns ``None``.
            key: the name of this config inside its parent, for error messages
                (``'decode_head'``); nested builds join these into a dotted path.
            default_args: more such defaults, as mmcv's ``build(cfg, default_args=...)`` takes them.
            **defaults: arguments used where ``cfg`` does not set them (e.g. a head's
                ``context`` for its sampler).
        """
        defaults = {**(default_args or {}), **defaults}
        if cfg is None:
            return None
        part = key or (str(cfg.get("type")) if isinstance(cfg, Mapping) else self.name)
        with _entering(part) as path:
            if not isinstance(cfg, Mapping):
                raise ConfigError(f"{path}: expected a dict with a 'type' key to build a "
                                  f"{self.name}, got {type(cfg).__name__}: {cfg!r}")
            args = dict(cfg)
            if "type" not in args:
                raise ConfigError(f"{path}: the config has no 'type' key; set type= to one of "
                                  f"the registered {self.name} types: {', '.join(sorted(self._entries))}")
            type_ = args.pop("type")
            try:
                obj = type_ if callable(type_) else self.get(type_)
            except ConfigError as e:
                raise ConfigError(f"{path}.type: {e}") from None
            for k, v in defaults.items():
                args.setdefault(k, v)
            check_arguments(obj, args, path)
            return obj(**args)

    def __contains__(self, name: str) -> bool:
        return name in self._entries

    def __len__(self) -> int:
        return len(self._entries)

    def keys(self) -> list[str]:
        return sorted(self._entries)

    def __repr__(self) -> str:
        return f"Registry({self.name!r}, {len(self)} entries: {', '.join(sorted(self._entries))})"


def build_from_cfg(cfg: Mapping | None, registry: Registry, default_args: Mapping | None = None) -> Any:
    """mmcv 1.x's ``build_from_cfg``: ``registry.build(cfg, default_args=default_args)``."""
    return registry.build(cfg, default_args=default_args)


# Models: backbones, necks, heads, segmentors and losses share one namespace, as in 0.x.
MODELS = Registry("model")
BACKBONES = NECKS = HEADS = SEGMENTORS = LOSSES = MODELS
PIXEL_SAMPLERS = Registry("pixel sampler")
DATASETS = Registry("dataset")
TRANSFORMS = Registry("transform")
OPTIMIZERS = Registry("optimizer")
LR_SCHEDULES = Registry("lr schedule")
PARAM_SCHEDULERS = Registry("param scheduler")
HOOKS = Registry("hook")
# Layer kinds resolved from norm_cfg / act_cfg / conv_cfg / upsample_cfg.
NORM_LAYERS = Registry("norm layer")
ACTIVATION_LAYERS = Registry("activation layer")
CONV_LAYERS = Registry("conv layer")
UPSAMPLE_LAYERS = Registry("upsample layer")
