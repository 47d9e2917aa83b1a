"""The optimizer builder: per-parameter lr and weight decay (``paramwise_cfg``), then the optimizer.

MMSegmentation 0.x configs write::

    optimizer = dict(type='SGD', lr=0.01, momentum=0.9, weight_decay=5e-4,
                     paramwise_cfg=dict(custom_keys={'head': dict(lr_mult=10.)}))

``param_settings(model, cfg)`` is the pure part: for every parameter, its lr, weight decay and the
rule that set them, with mmcv 1.x ``DefaultOptimizerConstructor``'s rules:

- modules are walked recursively; a parameter's full name is ``prefix.name``;
- ``custom_keys`` are tried sorted alphabetically, then longest first; the first key that is a
  *substring* of the full name wins: ``lr = lr * lr_mult``, ``weight_decay = weight_decay * decay_mult``;
- otherwise ``bias_lr_mult`` scales the lr of ``bias`` of non-norm layers, and the weight decay is
  scaled by ``norm_decay_mult`` (norm layers), else ``dwconv_decay_mult`` (depthwise convs), else
  ``bias_decay_mult`` (biases);
- parameters with ``requires_grad=False`` keep the base settings;
- without ``weight_decay`` in the config no weight decay is set (the optimizer's default applies).

``build_optimizer`` merges parameters with identical (lr, weight decay) into one param group: the
per-parameter values are the reference's, the optimizer step runs over fewer groups.
"""
from __future__ import annotations

import inspect
import logging
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from seglab.config.schema import number
from seglab.errors import ConfigError
from seglab.models.layers import is_norm
from seglab.registry import OPTIMIZERS, check_arguments, did_you_mean

__all__ = ["ParamSetting", "param_settings", "build_optimizer", "check_optimizer_config",
           "unmatched_custom_keys", "format_rule_summary", "rule_rows", "FusedSGD"]

logger = logging.getLogger("seglab")

# Every optimizer of torch.optim is buildable by its class name (SGD, Adam, AdamW, ...).
for _name in dir(torch.optim):
    _cls = getattr(torch.optim, _name)
    if isinstance(_cls, type) and issubclass(_cls, torch.optim.Optimizer) and _cls is not torch.optim.Optimizer:
        OPTIMIZERS.register(_cls)

PARAMWISE_KEYS = ("custom_keys", "bias_lr_mult", "bias_decay_mult", "norm_decay_mult",
                  "dwconv_decay_mult", "bypass_duplicate")
CUSTOM_KEY_KEYS = ("lr_mult", "decay_mult")
_DECAY_OPTIONS = ("bias_decay_mult", "norm_decay_mult", "dwconv_decay_mult")
# Keys of the optimizer config that configure the builder, not the torch optimizer.
_BUILDER_KEYS = ("paramwise_cfg", "constructor")


@dataclass(frozen=True, eq=False)
class ParamSetting:
    """The lr and weight decay one parameter trains with, and the rule that set them.

    ``rule`` reads like the config: ``"custom_keys['head']"``, ``"bias_lr_mult"``,
    ``"norm_decay_mult"``, ``"bias_lr_mult+bias_decay_mult"``, ``"requires_grad=False"`` or
    ``"default"`` (no paramwise option applies).
    """

    name: str
    param: nn.Parameter
    lr: float
    weight_decay: float
    rule: str


@dataclass(frozen=True)
class _Options:
    """``optimizer`` config, checked: base values and the paramwise options actually set."""

    base_lr: float
    base_wd: float | None  # None: the config sets no weight_decay
    default_wd: float  # what the optimizer applies when no weight_decay is given
    custom_keys: dict[str, dict[str, float]]  # in matching order
    mults: dict[str, float]  # only the *_mult options present in paramwise_cfg
    bypass_duplicate: bool
    has_paramwise: bool


def _memory_order(t: torch.Tensor) -> list[int]:
    """The strides of ``t``'s dimensions that have more than one element: two dense tensors of one
    shape with equal memory orders hold their elements in the same order."""
    return [stride for stride, size in zip(t.stride(), t.shape) if size > 1]


def _flat_view(t: torch.Tensor) -> torch.Tensor | None:
    """``t``'s memory as a 1-D view (``None`` when it is not one dense block, e.g. a slice)."""
    if t.is_contiguous():
        return t.view(-1)
    by_stride = t.permute(sorted(range(t.dim()), key=t.stride, reverse=True))
    return by_stride.view(-1) if by_stride.is_contiguous() else None


def _flat_views(*tensors: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """Flat views of ``tensors`` (one parameter's value, gradient, buffer) when they are dense and
    share one memory order, so an elementwise update pairs the same elements; else the tensors."""
    flat = tuple(_flat_view(t) for t in tensors)
    order = _memory_order(tensors[0])
    if all(f is not None for f in flat) and all(_memory_order(t) == order for t in tensors):
        return flat
    return tensors


class FusedSGD(torch.optim.SGD):
    """``torch.optim.SGD(fused=True)`` without its copies of channels-last tensors.

    torch's fused kernel makes a contiguous copy of every parameter, gradient and momentum buffer
    that is not contiguous and writes it back: with a channels-last model, the convolution weights
    and their gradients and buffers, every step. The kernel is elementwise, so handing it a flat
    view of each tensor's memory gives the same update bit for bit, without the copies. State,
    ``state_dict`` and hyper-parameters are ``torch.optim.SGD``'s; seglab builds it for
    ``type='SGD'`` unless the config picks ``fused`` or ``foreach`` itself.
    """

    def __init__(self, params: Any, lr: float = 1e-3, momentum: float = 0.0, dampening: float = 0.0,
                 weight_decay: float = 0.0, nesterov: bool = False, *, maximize: bool = False) -> None:
        super().__init__(params, lr=lr, momentum=momentum, dampening=dampening, weight_decay=weight_decay,
                         nesterov=nesterov, maximize=maximize, fused=True)

    @torch.no_grad()
    def step(self, closure: Any = None) -> Any:
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            params = [p for p in group["params"] if p.grad is not None]
            if any(p.grad.is_sparse for p in params):
                raise RuntimeError("FusedSGD does not support sparse gradients")
            if group["momentum"] == 0:
                self._fused_step(group, params, [], first=False)
                continue
            # torch's first step sets the buffer to the gradient; a parameter whose first gradient
            # comes later (frozen until then) gets the same treatment in a call of its own
            new = [p for p in params if "momentum_buffer" not in self.state[p]]
            old = [p for p in params if "momentum_buffer" in self.state[p]]
            for p in new:
                self.state[p]["momentum_buffer"] = torch.empty_like(p.grad)
            for subset, first in ((new, True), (old, False)):
                self._fused_step(group, subset, [self.state[p]["momentum_buffer"] for p in subset], first)
        return loss

    def _fused_step(self, group: dict, params: list, buffers: list, first: bool) -> None:
        if not params:
            return
        grads = [p.grad for p in params]
        updates = zip(params, grads, buffers) if buffers else zip(params, grads)
        # one tuple per parameter in, one list per kernel argument out
        views = [list(column) for column in zip(*(_flat_views(*update) for update in updates))]
        torch._fused_sgd_(views[0], views[1], views[2] if buffers else [], weight_decay=group["weight_decay"],
                          momentum=group["momentum"], lr=group["lr"], dampening=group["dampening"],
                          nesterov=group["nesterov"], maximize=group["maximize"], is_first_step=first,
                          grad_scale=getattr(self, "grad_scale", None), found_inf=getattr(self, "found_inf", None))


# --------------------------------------------------------------------------- reading the config
def _optimizer_class(optimizer_cfg: Mapping) -> type:
    type_ = optimizer_cfg.get("type")
    if type_ is None:
        raise ConfigError("optimizer: the config has no 'type' key; set e.g. "
                          f"optimizer=dict(type='SGD', lr=0.01, ...). Registered: {', '.join(OPTIMIZERS.keys())}")
    if callable(type_):
        return type_
    try:
        return OPTIMIZERS.get(type_)
    except ConfigError as e:
        raise ConfigError(f"optimizer.type: {e}") from None


def _signature_default(cls: type, name: str) -> Any:
    param = inspect.signature(cls.__init__).parameters.get(name)
    return None if param is None or param.default is param.empty else param.default


def _custom_keys(value: Any) -> dict[str, dict[str, float]]:
    where = "optimizer.paramwise_cfg.custom_keys"
    if not isinstance(value, Mapping):
        raise ConfigError(f"{where} must be a dict like {{'head': dict(lr_mult=10.)}}, got {value!r}")
    checked = {}
    for key, mults in value.items():
        if not isinstance(key, str) or not key:
            raise ConfigError(f"{where}: keys are parts of parameter names (non-empty strings), got {key!r}")
        if not isinstance(mults, Mapping):
            raise ConfigError(f"{where}[{key!r}] must be a dict like dict(lr_mult=10., decay_mult=1.), "
                              f"got {mults!r}")
        for k in mults:
            if k not in CUSTOM_KEY_KEYS:
                raise ConfigError(f"{where}[{key!r}]: unknown key {k!r}.{did_you_mean(str(k), CUSTOM_KEY_KEYS)} "
                                  f"Accepted keys: {', '.join(CUSTOM_KEY_KEYS)}")
        checked[key] = {k: number(v, f"{where}[{key!r}].{k}") for k, v in mults.items()}
    # mmcv's order: alphabetical, then a stable sort by length, longest first.
    order = sorted(sorted(checked), key=len, reverse=True)
    return {key: checked[key] for key in order}


def check_optimizer_config(optimizer_cfg: Any) -> _Options:
    """The ``optimizer`` config checked (type, lr, weight decay, ``paramwise_cfg``) and read."""
    if not isinstance(optimizer_cfg, Mapping):
        raise ConfigError(f"optimizer must be a dict like dict(type='SGD', lr=0.01, momentum=0.9), "
                          f"got {optimizer_cfg!r}")
    constructor = optimizer_cfg.get("constructor", "DefaultOptimizerConstructor")
    if constructor != "DefaultOptimizerConstructor":
        raise ConfigError(f"optimizer.constructor={constructor!r} is not supported; seglab builds every "
                          "optimizer with DefaultOptimizerConstructor's rules (paramwise_cfg). Remove the key.")
    cls = _optimizer_class(optimizer_cfg)
    lr = optimizer_cfg.get("lr", _signature_default(cls, "lr"))
    if lr is None:
        raise ConfigError(f"optimizer.lr is required for {cls.__name__}")
    base_lr = number(lr, "optimizer.lr")
    wd = optimizer_cfg.get("weight_decay")
    base_wd = None if wd is None else number(wd, "optimizer.weight_decay")
    default_wd = base_wd if base_wd is not None else float(_signature_default(cls, "weight_decay") or 0.0)

    paramwise = optimizer_cfg.get("paramwise_cfg") or {}
    custom_keys, mults, bypass = _read_paramwise(paramwise)
    if base_wd is None:
        decay_set = [f"paramwise_cfg.{k}" for k in _DECAY_OPTIONS if k in mults]
        decay_set += [f"paramwise_cfg.custom_keys[{k!r}].decay_mult" for k, m in custom_keys.items()
                      if "decay_mult" in m]
        if decay_set:
            raise ConfigError(f"optimizer.{decay_set[0]} multiplies optimizer.weight_decay, which is not set; "
                              f"set optimizer.weight_decay (the default of {cls.__name__} is {default_wd}) "
                              "or remove the decay_mult")
    return _Options(base_lr, base_wd, default_wd, custom_keys, mults, bypass, bool(paramwise))


def _read_paramwise(paramwise: Any) -> tuple[dict[str, dict[str, float]], dict[str, float], bool]:
    """(custom keys in matching order, the *_mult options set, bypass_duplicate), checked."""
    if not isinstance(paramwise, Mapping):
        raise ConfigError(f"optimizer.paramwise_cfg must be a dict, got {paramwise!r}")
    for key in paramwise:
        if key not in PARAMWISE_KEYS:
            raise ConfigError(f"optimizer.paramwise_cfg: unknown key {key!r}.{did_you_mean(str(key), PARAMWISE_KEYS)} "
                              f"Accepted keys: {', '.join(PARAMWISE_KEYS)}")
    custom_keys = _custom_keys(paramwise.get("custom_keys", {}))
    mults = {k: number(paramwise[k], f"optimizer.paramwise_cfg.{k}")
             for k in ("bias_lr_mult", *_DECAY_OPTIONS) if k in paramwise}
    bypass = paramwise.get("bypass_duplicate", False)
    if not isinstance(bypass, bool):
        raise ConfigError(f"optimizer.paramwise_cfg.bypass_duplicate must be True or False, got {bypass!r}")
    return custom_keys, mults, bypass


# --------------------------------------------------------------------------- the rules
def _walk(module: nn.Module, prefix: str = "") -> Iterator[tuple[str, nn.Module]]:
    """(prefix, module) for the module and its descendants, in mmcv's order (parent first).

    Unlike ``named_modules`` this does not drop a module shared by two parents: mmcv visits it
    twice, and ``bypass_duplicate`` decides what happens to its parameters.
    """
    yield prefix, module
    for child_name, child in module.named_children():
        yield from _walk(child, f"{prefix}.{child_name}" if prefix else child_name)


def _named_params(model: nn.Module) -> Iterator[tuple[str, str, nn.Module, nn.Parameter]]:
    """(full name, name matched against custom keys, owning module, parameter), duplicates included."""
    for prefix, module in _walk(model):
        for name, param in module.named_parameters(recurse=False):
            # mmcv matches keys against f'{prefix}.{name}', which starts with '.' at the top level.
            yield (f"{prefix}.{name}" if prefix else name), f"{prefix}.{name}", module, param


def _setting(name: str, match_name: str, module: nn.Module, param: nn.Parameter,
             opts: _Options) -> ParamSetting:
    if not param.requires_grad:
        return ParamSetting(name, param, opts.base_lr, opts.default_wd, "requires_grad=False")
    for key, mults in opts.custom_keys.items():
        if key in match_name:
            lr = opts.base_lr * mults.get("lr_mult", 1.0)
            wd = opts.default_wd if opts.base_wd is None else opts.base_wd * mults.get("decay_mult", 1.0)
            return ParamSetting(name, param, lr, wd, f"custom_keys[{key!r}]")

    local_name = name.rsplit(".", 1)[-1]
    norm = is_norm(module)
    dwconv = isinstance(module, nn.Conv2d) and module.in_channels == module.groups
    rules, lr, wd = [], opts.base_lr, opts.default_wd
    if local_name == "bias" and not norm and "bias_lr_mult" in opts.mults:
        lr = opts.base_lr * opts.mults["bias_lr_mult"]
        rules.append("bias_lr_mult")
    if opts.base_wd is not None:
        decay = "norm_decay_mult" if norm else "dwconv_decay_mult" if dwconv else \
            "bias_decay_mult" if local_name == "bias" else None
        if decay in opts.mults:
            wd = opts.base_wd * opts.mults[decay]
            rules.append(decay)
    return ParamSetting(name, param, lr, wd, "+".join(rules) or "default")


def param_settings(model: nn.Module, optimizer_cfg: Mapping) -> list[ParamSetting]:
    """Every parameter's lr, weight decay and deciding rule, in module order (pure: builds nothing).

    A parameter reached twice (a module or tensor shared by two parents) is listed once, under
    its first name. With a ``paramwise_cfg`` that needs ``bypass_duplicate=True`` (as in mmcv,
    where it otherwise fails inside torch); without one, duplicates are dropped as
    ``model.parameters()`` does.
    """
    opts = check_optimizer_config(optimizer_cfg)
    settings: list[ParamSetting] = []
    first_name: dict[int, str] = {}
    for name, match_name, module, param in _named_params(model):
        if id(param) in first_name:
            if opts.has_paramwise and not opts.bypass_duplicate:
                raise ConfigError(f"parameter {name!r} is the same tensor as {first_name[id(param)]!r} "
                                  "(a shared module or tied weights); set "
                                  "optimizer.paramwise_cfg.bypass_duplicate=True to train it once")
            continue
        first_name[id(param)] = name
        settings.append(_setting(name, match_name, module, param, opts))
    return settings


def unmatched_custom_keys(model: nn.Module, optimizer_cfg: Mapping) -> list[str]:
    """The ``custom_keys`` that are a substring of no parameter name (almost always a typo)."""
    opts = check_optimizer_config(optimizer_cfg)
    names = [match_name for _, match_name, _, _ in _named_params(model)]
    return [key for key in opts.custom_keys if not any(key in n for n in names)]


# --------------------------------------------------------------------------- the optimizer
def _merged_groups(settings: list[ParamSetting], set_wd: bool) -> list[dict[str, Any]]:
    """One param group per distinct (lr, weight decay), in order of first appearance."""
    groups: dict[tuple[float, float], dict[str, Any]] = {}
    for s in settings:
        group = groups.get((s.lr, s.weight_decay))
        if group is None:
            group = groups[(s.lr, s.weight_decay)] = {"params": [], "lr": s.lr, "rules": []}
            if set_wd:
                group["weight_decay"] = s.weight_decay
        group["params"].append(s.param)
        if s.rule not in group["rules"]:
            group["rules"].append(s.rule)
    for group in groups.values():
        group["name"] = ",".join(group.pop("rules"))  # the trainer logs each group's lr by name
    return list(groups.values())


def _fused_by_default(kwargs: Mapping[str, Any], settings: list[ParamSetting]) -> bool:
    """SGD's fused kernel computes the same update as its per-parameter loop (equal up to float
    rounding: one multiply-add instead of two) about 4x faster on CPU, one pass over memory instead
    of several; used (as ``FusedSGD``) unless the config chooses an implementation (``fused``/``foreach``)."""
    if kwargs.get("type") not in ("SGD", torch.optim.SGD) or {"fused", "foreach", "differentiable"} & set(kwargs):
        return False
    if not hasattr(torch, "_fused_sgd_"):  # torch before 2.3
        return False
    return all(s.param.is_floating_point() and s.param.device.type in ("cpu", "cuda") for s in settings)


def build_optimizer(model: nn.Module, optimizer_cfg: Mapping) -> torch.optim.Optimizer:
    """Build ``optimizer_cfg`` over ``model``'s parameters with the ``paramwise_cfg`` rules.

    Parameters with equal (lr, weight decay) share a param group; each group stores its
    ``initial_lr``, which the lr schedule scales. Logs a warning for each custom key that
    matches no parameter.
    """
    settings = param_settings(model, optimizer_cfg)
    for key in unmatched_custom_keys(model, optimizer_cfg):
        logger.warning(f"optimizer.paramwise_cfg.custom_keys: {key!r} matches no parameter name "
                       "(`seglab lr-table CONFIG` lists them)")
    set_wd = optimizer_cfg.get("weight_decay") is not None
    kwargs = {k: v for k, v in optimizer_cfg.items() if k not in _BUILDER_KEYS}
    params = _merged_groups(settings, set_wd)
    if not params:
        raise ConfigError("optimizer: the model has no parameters to optimize")
    build_args = kwargs
    if _fused_by_default(kwargs, settings):
        sgd_args = {k: v for k, v in kwargs.items() if k != "type"}
        check_arguments(torch.optim.SGD, {**sgd_args, "params": params}, "optimizer")  # errors name 'SGD'
        build_args = {**kwargs, "type": FusedSGD}
    try:
        optimizer = OPTIMIZERS.build(build_args, key="optimizer", params=params)
    except (ValueError, TypeError) as e:
        if isinstance(e, ConfigError):
            raise
        raise ConfigError(f"optimizer: {kwargs.get('type')} rejected the config {kwargs}: {e}") from e
    for group in optimizer.param_groups:
        group["initial_lr"] = group["lr"]
    return optimizer


def rule_rows(settings: list[ParamSetting]) -> list[dict[str, Any]]:
    """One dict per rule (and lr / weight decay), in order of first use: ``rule``, ``params`` (how
    many parameters it sets), ``lr``, ``weight_decay``."""
    rows: dict[tuple[str, float, float], int] = {}
    for s in settings:
        rows[(s.rule, s.lr, s.weight_decay)] = rows.get((s.rule, s.lr, s.weight_decay), 0) + 1
    return [{"rule": rule, "params": count, "lr": lr, "weight_decay": wd} for (rule, lr, wd), count in rows.items()]


def format_rule_summary(settings: list[ParamSetting]) -> str:
    """One line per rule (and lr / weight decay): rule, number of parameters, lr, weight decay."""
    rows = rule_rows(settings)
    width = max([len("rule")] + [len(r["rule"]) for r in rows])
    lines = [f"{'rule':<{width}}  {'params':>6}  {'lr':>10}  {'weight_decay':>12}"]
    for r in rows:
        lines.append(f"{r['rule']:<{width}}  {r['params']:>6}  {r['lr']:>10.6g}  {r['weight_decay']:>12.6g}")
    return "\n".join(lines)
