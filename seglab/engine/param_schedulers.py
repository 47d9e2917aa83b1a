"""MMSegmentation 1.x's ``param_scheduler`` lists, with mmengine's arithmetic, by iteration.

    param_scheduler = [
        dict(type='LinearLR', start_factor=0.1, by_epoch=False, begin=0, end=50),
        dict(type='PolyLR', eta_min=1e-4, power=0.9, by_epoch=False, begin=50, end=400)]

mmengine applies the schedulers as a chain: at every step ``g`` (0 when training starts, then
once after each iteration), each scheduler whose ``begin <= g < end`` updates every group's
current lr from its value so far (its "chainable form"), in list order. The lr that iteration
``k`` trains with is the one after step ``k``. So schedulers that overlap compound, a scheduler
changes nothing outside its range, and the lr stays where the last one left it. As in mmengine:
``LinearLR``, ``PolyLR`` and ``ConstantLR`` count ``end - begin - 1`` steps (``PolyLR`` reaches
``eta_min`` at ``end - 1``, one step before ``end``); ``eta_min`` is an absolute lr, the same for
every group, while ``eta_min_ratio`` is a fraction of each group's initial lr.

``ChainedSchedule`` has the interface of ``schedules.LrSchedule`` (``lr_at(iteration,
initial_lr)``), so the trainer and ``lr-table`` drive either kind the same way.
"""
from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from typing import Any

from seglab.config.schema import number
from seglab.errors import ConfigError
from seglab.registry import PARAM_SCHEDULERS

INF = 10**9  # mmengine's "no end"

logger = logging.getLogger("seglab")


class ParamScheduler:
    """What every 1.x scheduler takes: its range of steps.

    Args:
        begin: first step it acts on.
        end: first step it no longer acts on.
        by_epoch: must be False: seglab counts iterations.
    """

    def __init__(self, begin: int = 0, end: int = INF, by_epoch: bool = True) -> None:
        if by_epoch:
            raise ConfigError(f"param_scheduler: {type(self).__name__} with by_epoch=True is not supported: seglab "
                              "trains by iterations; set by_epoch=False (begin and end then count iterations)")
        if not (isinstance(begin, int) and isinstance(end, int)) or not 0 <= begin < end:
            raise ConfigError(f"param_scheduler: {type(self).__name__} needs integers 0 <= begin < end, "
                              f"got begin={begin!r}, end={end!r}")
        self.begin, self.end = begin, end
        self.total_iters = end - begin - 1

    def value(self, step: int, lr: float, initial_lr: float) -> float:
        """The group's lr after this scheduler's ``step``-th update (0 at ``begin``), from ``lr``."""
        raise NotImplementedError


@PARAM_SCHEDULERS.register
class LinearLR(ParamScheduler):
    """Multiplies the lr by a factor going linearly from ``start_factor`` to ``end_factor``.

    Args:
        start_factor: factor at ``begin``.
        end_factor: factor reached at ``end - 1``.
    """

    def __init__(self, start_factor: float = 1.0 / 3, end_factor: float = 1.0, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.start = number(start_factor, "param_scheduler: LinearLR.start_factor")
        self.end_factor = number(end_factor, "param_scheduler: LinearLR.end_factor")
        if not (0 <= self.start <= 1 and 0 <= self.end_factor <= 1):
            raise ConfigError("param_scheduler: LinearLR start_factor and end_factor must be between 0 and 1")

    def value(self, step: int, lr: float, initial_lr: float) -> float:
        if step == 0:
            return lr * self.start
        change = self.end_factor - self.start
        return lr * (1.0 + change / (self.total_iters * self.start + (step - 1) * change))


@PARAM_SCHEDULERS.register
class PolyLR(ParamScheduler):
    """Polynomial decay to ``eta_min`` (absolute, reached at ``end - 1``).

    Args:
        eta_min: the lr at the end.
        power: exponent of the decay.
    """

    def __init__(self, eta_min: float = 0.0, power: float = 1.0, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.eta_min = number(eta_min, "param_scheduler: PolyLR.eta_min")
        self.power = number(power, "param_scheduler: PolyLR.power")

    def value(self, step: int, lr: float, initial_lr: float) -> float:
        if step == 0:
            return lr
        return (lr - self.eta_min) * (1 - 1 / (self.total_iters - step + 1)) ** self.power + self.eta_min


@PARAM_SCHEDULERS.register
class CosineAnnealingLR(ParamScheduler):
    """Half a cosine from the current lr to the target over ``T_max`` steps.

    Args:
        T_max: steps of the half period (default ``end - begin``).
        eta_min: the target lr, absolute.
        eta_min_ratio: the target as a fraction of each group's initial lr (instead of ``eta_min``).
    """

    def __init__(self, T_max: int | None = None, eta_min: float | None = None, eta_min_ratio: float | None = None,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if eta_min is not None and eta_min_ratio is not None:
            raise ConfigError("param_scheduler: CosineAnnealingLR takes eta_min or eta_min_ratio, not both")
        self.T_max = T_max if T_max is not None else self.end - self.begin
        self.eta_min = 0.0 if eta_min is None else number(eta_min, "param_scheduler: CosineAnnealingLR.eta_min")
        self.eta_min_ratio = eta_min_ratio

    def value(self, step: int, lr: float, initial_lr: float) -> float:
        eta_min = self.eta_min if self.eta_min_ratio is None else initial_lr * self.eta_min_ratio
        if step == 0:
            return lr
        if (step - 1 - self.T_max) % (2 * self.T_max) == 0:
            return lr + (initial_lr - eta_min) * (1 - math.cos(math.pi / self.T_max)) / 2
        return ((1 + math.cos(math.pi * step / self.T_max)) / (1 + math.cos(math.pi * (step - 1) / self.T_max))
                * (lr - eta_min) + eta_min)


@PARAM_SCHEDULERS.register
class MultiStepLR(ParamScheduler):
    """Multiplies the lr by ``gamma`` at each milestone (a step count from ``begin``).

    Args:
        milestones: the steps, increasing.
        gamma: the factor.
    """

    def __init__(self, milestones: Sequence[int], gamma: float = 0.1, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.milestones = list(milestones)
        self.gamma = number(gamma, "param_scheduler: MultiStepLR.gamma")

    def value(self, step: int, lr: float, initial_lr: float) -> float:
        return lr * self.gamma ** self.milestones.count(step)


@PARAM_SCHEDULERS.register
class StepLR(ParamScheduler):
    """Multiplies the lr by ``gamma`` every ``step_size`` steps.

    Args:
        step_size: the period.
        gamma: the factor.
    """

    def __init__(self, step_size: int, gamma: float = 0.1, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.step_size = step_size
        self.gamma = number(gamma, "param_scheduler: StepLR.gamma")

    def value(self, step: int, lr: float, initial_lr: float) -> float:
        return lr * self.gamma if step and step % self.step_size == 0 else lr


@PARAM_SCHEDULERS.register
class ConstantLR(ParamScheduler):
    """Multiplies the lr by ``factor`` from ``begin`` and restores it at ``end - 1``.

    Args:
        factor: the factor, between 0 and 1.
    """

    def __init__(self, factor: float = 1.0 / 3, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.factor = number(factor, "param_scheduler: ConstantLR.factor")
        if not 0 < self.factor <= 1:
            raise ConfigError("param_scheduler: ConstantLR.factor must be in (0, 1]")

    def value(self, step: int, lr: float, initial_lr: float) -> float:
        if step == 0:
            return lr * self.factor
        return lr / self.factor if step == self.total_iters else lr


@PARAM_SCHEDULERS.register
class ExponentialLR(ParamScheduler):
    """Multiplies the lr by ``gamma`` at every step after ``begin``.

    Args:
        gamma: the factor.
    """

    def __init__(self, gamma: float, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.gamma = number(gamma, "param_scheduler: ExponentialLR.gamma")

    def value(self, step: int, lr: float, initial_lr: float) -> float:
        return lr if step == 0 else lr * self.gamma


class ChainedSchedule:
    """A ``param_scheduler`` list over ``max_iters`` iterations (``lr_at`` as ``LrSchedule``'s).

    Each group's lrs are computed once for the whole run, by replaying the chain.
    """

    def __init__(self, schedulers: list[ParamScheduler], max_iters: int) -> None:
        self.schedulers = schedulers
        self.max_iters = max_iters
        self.policy = self  # lr-table names the schedule by its policy's type
        self._lrs: dict[float, list[float]] = {}

    def lr_at(self, iteration: int, initial_lr: float) -> float:
        if not 0 <= iteration <= self.max_iters:
            raise ValueError(f"iteration {iteration} is outside the schedule [0, {self.max_iters}]")
        if initial_lr not in self._lrs:
            self._lrs[initial_lr] = self._replay(initial_lr)
        return self._lrs[initial_lr][iteration]

    def _replay(self, initial_lr: float) -> list[float]:
        lr, lrs = initial_lr, []
        for step in range(self.max_iters + 1):
            for s in self.schedulers:
                if s.begin <= step < s.end:
                    lr = s.value(step - s.begin, lr, initial_lr)
            lrs.append(lr)
        return lrs

    def __repr__(self) -> str:
        return f"ChainedSchedule({', '.join(type(s).__name__ for s in self.schedulers)}, max_iters={self.max_iters})"


def build_param_schedule(param_scheduler: Any, max_iters: int) -> ChainedSchedule:
    """The chain of a ``param_scheduler`` config (a dict or a list of dicts) over ``max_iters``."""
    configs = [param_scheduler] if isinstance(param_scheduler, Mapping) else param_scheduler
    if not isinstance(configs, Sequence) or isinstance(configs, str):
        raise ConfigError(f"param_scheduler must be a list of scheduler dicts, got {param_scheduler!r}")
    return ChainedSchedule([PARAM_SCHEDULERS.build(c, key=f"param_scheduler.{i}") for i, c in enumerate(configs)],
                           max_iters)


def warn_outside_the_run(schedule: Any) -> None:
    """Name each 1.x scheduler that the run stops before finishing (for training and ``lr-table``,
    not for inference). mmengine silently keeps ``end`` when ``max_iters`` is shortened, so a 40k
    recipe cut to 4k iterations trains at almost its initial lr throughout; 0.x's ``lr_config``
    follows ``max_iters``, so a 0.x schedule has nothing to say."""
    if not isinstance(schedule, ChainedSchedule):
        return
    max_iters = schedule.max_iters
    for i, s in enumerate(schedule.schedulers):
        name = f"param_scheduler.{i} ({type(s).__name__}, begin={s.begin}, end={s.end})"
        if s.begin >= max_iters:
            logger.warning(f"{name} begins after the run's last iteration ({max_iters} iterations): it never "
                           "acts. Lower its begin and end, or remove it.")
        elif s.end != INF and s.end > max_iters:
            logger.warning(f"{name} ends after the run's last iteration ({max_iters} iterations), so it stops "
                           "part-way, as mmengine's would, and the lr never gets where it would have taken it. "
                           f"To fit it to this run: --cfg-options param_scheduler.{i}.end={max_iters}")
