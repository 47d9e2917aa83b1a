"""Learning-rate schedules: mmcv 1.x ``LrUpdaterHook`` semantics, by iteration.

``lr_config=dict(policy='poly', power=0.9, min_lr=1e-4, by_epoch=False, warmup='linear',
warmup_iters=1500, warmup_ratio=1e-6)`` becomes an ``LrScheduler``. Each policy is a function
``(initial_lr, iteration, max_iters) -> lr`` applied to every param group's *own* ``initial_lr``,
so per-module multipliers (``paramwise_cfg``) survive the decay and the warmup; ``min_lr`` is the
same absolute floor for every group. Warmup then scales this regular lr during the first
``warmup_iters`` iterations:

    constant  lr * ratio
    linear    lr * (1 - (1 - i / warmup_iters) * (1 - ratio))
    exp       lr * ratio ** (1 - i / warmup_iters)

``LrScheduler(optimizer, build_lr_schedule(lr_config, max_iters))`` drives an optimizer: the trainer
calls ``scheduler.step(it)`` before each optimizer step (``it`` 0-based).
"""
from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import torch

from seglab.config.schema import number
from seglab.errors import CheckpointError, ConfigError
from seglab.registry import LR_SCHEDULES, accepted_arguments, did_you_mean

__all__ = ["Poly", "Step", "CosineAnnealing", "Fixed", "Warmup", "LrSchedule", "LrScheduler",
           "build_lr_schedule", "build_schedule"]

WARMUP_KINDS = ("constant", "linear", "exp")
# lr_config keys handled here for every policy (the policy's own keys are its constructor's).
COMMON_KEYS = ("policy", "by_epoch", "warmup", "warmup_iters", "warmup_ratio", "warmup_by_epoch")


# --------------------------------------------------------------------------- policies
@LR_SCHEDULES.register(name="poly")
class Poly:
    """``(initial_lr - min_lr) * (1 - i / max_iters) ** power + min_lr``.

    Args:
        power: exponent of the decay (1.0 is linear).
        min_lr: the lr reached at ``max_iters``, the same for every group.
    """

    def __init__(self, power: float = 1.0, min_lr: float = 0.0) -> None:
        self.power = number(power, "lr_config.power")
        self.min_lr = number(min_lr, "lr_config.min_lr")

    def __call__(self, initial_lr: float, iteration: int, max_iters: int) -> float:
        return (initial_lr - self.min_lr) * (1 - iteration / max_iters) ** self.power + self.min_lr


@LR_SCHEDULES.register(name="step")
class Step:
    """``initial_lr * gamma ** k``, ``k`` = steps passed, clipped below at ``min_lr`` if set.

    Args:
        step: decay every ``step`` iterations (int), or at each listed iteration (list).
        gamma: factor applied at each step.
        min_lr: lower bound of the lr, or None for none.
    """

    def __init__(self, step: int | Sequence[int], gamma: float = 0.1, min_lr: float | None = None) -> None:
        steps = [step] if isinstance(step, int) and not isinstance(step, bool) else step
        if (not isinstance(steps, Sequence) or not steps
                or not all(isinstance(s, int) and not isinstance(s, bool) and s > 0 for s in steps)):
            raise ConfigError(f"lr_config.step must be a positive int or a list of positive ints, got {step!r}")
        if list(steps) != sorted(steps):
            raise ConfigError(f"lr_config.step must list the decay iterations in increasing order, got {step!r}")
        self.step = step if isinstance(step, int) else list(steps)
        self.gamma = number(gamma, "lr_config.gamma")
        self.min_lr = None if min_lr is None else number(min_lr, "lr_config.min_lr")

    def __call__(self, initial_lr: float, iteration: int, max_iters: int) -> float:
        if isinstance(self.step, int):
            exponent = iteration // self.step
        else:
            exponent = sum(1 for s in self.step if iteration >= s)
        lr = initial_lr * self.gamma ** exponent
        return lr if self.min_lr is None else max(lr, self.min_lr)


@LR_SCHEDULES.register(name="CosineAnnealing")
@LR_SCHEDULES.register(name="cosine")
class CosineAnnealing:
    """Half a cosine from ``initial_lr`` at iteration 0 to the target lr at ``max_iters``.

    Args:
        min_lr: the target lr, the same for every group.
        min_lr_ratio: the target as a fraction of each group's ``initial_lr``. Set exactly one.
    """

    def __init__(self, min_lr: float | None = None, min_lr_ratio: float | None = None) -> None:
        if (min_lr is None) == (min_lr_ratio is None):
            raise ConfigError("lr_config: the CosineAnnealing policy needs exactly one of min_lr (an absolute "
                              f"lr) and min_lr_ratio (a fraction of the initial lr); got min_lr={min_lr!r}, "
                              f"min_lr_ratio={min_lr_ratio!r}")
        self.min_lr = None if min_lr is None else number(min_lr, "lr_config.min_lr")
        self.min_lr_ratio = None if min_lr_ratio is None else number(min_lr_ratio, "lr_config.min_lr_ratio")

    def __call__(self, initial_lr: float, iteration: int, max_iters: int) -> float:
        target = self.min_lr if self.min_lr_ratio is None else initial_lr * self.min_lr_ratio
        return target + 0.5 * (initial_lr - target) * (math.cos(math.pi * iteration / max_iters) + 1)


@LR_SCHEDULES.register(name="fixed")
class Fixed:
    """The initial lr throughout (warmup still applies)."""

    def __init__(self) -> None:
        pass

    def __call__(self, initial_lr: float, iteration: int, max_iters: int) -> float:
        return initial_lr


@dataclass(frozen=True)
class Warmup:
    """Scales the regular lr of the first ``iters`` iterations (``kind`` in constant/linear/exp)."""

    kind: str
    iters: int
    ratio: float

    def __call__(self, regular_lr: float, iteration: int) -> float:
        if iteration >= self.iters:
            return regular_lr
        if self.kind == "constant":
            return regular_lr * self.ratio
        if self.kind == "linear":
            return regular_lr * (1 - (1 - iteration / self.iters) * (1 - self.ratio))
        return regular_lr * self.ratio ** (1 - iteration / self.iters)


# --------------------------------------------------------------------------- the schedule
class LrSchedule:
    """The pure schedule: the lr of a group starting at ``initial_lr``, at any iteration.

    Args:
        policy: a registered policy object, ``(initial_lr, iteration, max_iters) -> lr``.
        max_iters: the length of training.
        warmup: the warmup applied on top of the policy, or None.
    """

    def __init__(self, policy: Any, max_iters: int, warmup: Warmup | None = None) -> None:
        self.policy = policy
        self.max_iters = max_iters
        self.warmup = warmup

    def lr_at(self, iteration: int, initial_lr: float) -> float:
        """The lr of a group starting at ``initial_lr`` at 0-based ``iteration``."""
        if not 0 <= iteration <= self.max_iters:
            raise ValueError(f"iteration {iteration} is outside the schedule [0, {self.max_iters}]")
        lr = self.policy(initial_lr, iteration, self.max_iters)
        return lr if self.warmup is None else self.warmup(lr, iteration)

    def __repr__(self) -> str:
        return f"LrSchedule(policy={type(self.policy).__name__}, max_iters={self.max_iters}, warmup={self.warmup})"


class LrScheduler:
    """Sets every param group's lr from its own ``initial_lr`` for a given iteration.

    Args:
        optimizer: its groups get ``initial_lr`` (their current lr) unless they have one.
        schedule: the ``LrSchedule`` to follow.
    """

    def __init__(self, optimizer: torch.optim.Optimizer, schedule: LrSchedule) -> None:
        self.optimizer = optimizer
        self.schedule = schedule
        self.last_iteration: int | None = None
        for group in optimizer.param_groups:
            group.setdefault("initial_lr", group["lr"])

    @property
    def policy(self) -> Any:
        return self.schedule.policy

    @property
    def max_iters(self) -> int:
        return self.schedule.max_iters

    def lr_at(self, iteration: int, initial_lr: float) -> float:
        """The lr of a group starting at ``initial_lr`` at 0-based ``iteration`` (pure)."""
        return self.schedule.lr_at(iteration, initial_lr)

    def step(self, iteration: int) -> None:
        """Set every group's lr for ``iteration`` (call before that iteration's optimizer step)."""
        for group in self.optimizer.param_groups:
            group["lr"] = self.schedule.lr_at(iteration, group["initial_lr"])
        self.last_iteration = iteration

    def state_dict(self) -> dict[str, Any]:
        return {"last_iteration": self.last_iteration,
                "initial_lrs": [group["initial_lr"] for group in self.optimizer.param_groups]}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restore the groups' initial lrs and, if a step was taken, their lr at that iteration."""
        initial_lrs = list(state["initial_lrs"])
        groups = self.optimizer.param_groups
        if len(initial_lrs) != len(groups):
            raise CheckpointError(f"the saved lr schedule has {len(initial_lrs)} param groups, the optimizer "
                                  f"has {len(groups)}; was optimizer.paramwise_cfg changed since the checkpoint?")
        for group, initial_lr in zip(groups, initial_lrs):
            group["initial_lr"] = initial_lr
        self.last_iteration = state["last_iteration"]
        if self.last_iteration is not None:
            self.step(self.last_iteration)

    def __repr__(self) -> str:
        return f"LrScheduler({self.schedule!r})"


def _policy_name(policy: Any) -> str:
    if not isinstance(policy, str):
        raise ConfigError(f"lr_config.policy must be a name ({', '.join(LR_SCHEDULES.keys())}), got {policy!r}")
    if policy in LR_SCHEDULES:
        return policy
    # mmcv accepts 'Poly' for 'poly' (it title-cases lower-case names): match without case.
    for name in LR_SCHEDULES.keys():
        if name.lower() == policy.lower():
            return name
    try:
        LR_SCHEDULES.get(policy)
    except ConfigError as e:
        raise ConfigError(f"lr_config.policy: {e}") from None
    return policy


def _warmup(cfg: Mapping[str, Any]) -> Warmup | None:
    kind = cfg.get("warmup")
    if cfg.get("warmup_by_epoch", False):
        raise ConfigError("lr_config.warmup_by_epoch=True is not supported: seglab trains by iterations; "
                          "set warmup_by_epoch=False and warmup_iters in iterations")
    if kind is None:
        return None
    if kind not in WARMUP_KINDS:
        raise ConfigError(f"lr_config.warmup: unknown warmup {kind!r}.{did_you_mean(str(kind), WARMUP_KINDS)} "
                          f"Use one of {', '.join(map(repr, WARMUP_KINDS))} or None")
    iters = cfg.get("warmup_iters", 0)
    if isinstance(iters, bool) or not isinstance(iters, int) or iters <= 0:
        raise ConfigError(f"lr_config.warmup_iters must be a positive int when warmup is set, got {iters!r}")
    ratio = number(cfg.get("warmup_ratio", 0.1), "lr_config.warmup_ratio")
    if not 0 < ratio <= 1:
        raise ConfigError(f"lr_config.warmup_ratio must be in (0, 1], got {ratio!r}")
    return Warmup(kind, iters, ratio)


def build_lr_schedule(lr_config: Mapping[str, Any], max_iters: int) -> LrSchedule:
    """The pure ``lr_config`` schedule over ``max_iters`` iterations (``lr_at`` only)."""
    if not isinstance(lr_config, Mapping):
        raise ConfigError(f"lr_config must be a dict like dict(policy='poly', power=0.9, min_lr=1e-4, "
                          f"by_epoch=False), got {lr_config!r}")
    if "policy" not in lr_config:
        raise ConfigError(f"lr_config has no 'policy'; set one of {', '.join(LR_SCHEDULES.keys())}")
    if lr_config.get("by_epoch", False):
        raise ConfigError("lr_config.by_epoch=True is not supported: seglab's runner is iteration based; "
                          "set lr_config.by_epoch=False (steps and warmup_iters count iterations)")
    if isinstance(max_iters, bool) or not isinstance(max_iters, int) or max_iters < 1:
        raise ConfigError(f"runner.max_iters must be a positive integer, got {max_iters!r}")
    name = _policy_name(lr_config["policy"])
    policy_keys = accepted_arguments(LR_SCHEDULES.get(name))[0]
    policy_args = {k: v for k, v in lr_config.items() if k not in COMMON_KEYS}
    for key in policy_args:
        if key not in policy_keys:
            accepted = [*COMMON_KEYS, *policy_keys]
            raise ConfigError(f"lr_config: the {name!r} policy does not take the key {key!r}."
                              f"{did_you_mean(str(key), accepted)} Accepted keys: {', '.join(accepted)}")
    policy = LR_SCHEDULES.build({"type": name, **policy_args}, key="lr_config")
    return LrSchedule(policy, max_iters, _warmup(lr_config))


def build_schedule(lr_config: Mapping[str, Any] | None, param_scheduler: Any, max_iters: int) -> Any:
    """The run's schedule: 1.x's ``param_scheduler`` chain when given, else 0.x's ``lr_config``
    (``policy='fixed'`` without one). Both have ``lr_at(iteration, initial_lr)``."""
    from seglab.engine.param_schedulers import build_param_schedule

    if param_scheduler is not None:
        return build_param_schedule(param_scheduler, max_iters)
    return build_lr_schedule(lr_config or {"policy": "fixed"}, max_iters)
