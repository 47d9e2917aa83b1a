"""``EMAHook``: an exponential moving average of the model's weights, evaluated and checkpointed.

``custom_hooks=[dict(type='EMAHook', momentum=0.0002, interval=1, warm_up=100)]`` (mmcv's name and
arguments). After every ``interval`` iterations each floating-point parameter's average moves
towards it: ``ema = (1 - m) * ema + m * param`` with ``m = min(momentum, (1 + i) / (warm_up + i))``
at iteration ``i``; buffers (BatchNorm statistics) are copied, not averaged.

- Evaluation runs on the averaged weights (swapped in before, swapped back after).
- A checkpoint's ``state_dict`` holds the averaged weights, so ``seglab test``, ``infer`` and
  ``load_from`` use them; the training weights go to ``ema_state_dict``, and resuming swaps them
  back, so a resumed run continues exactly where the unbroken one would be.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import torch

from seglab.engine.hooks import HookBase
from seglab.errors import CheckpointError, ConfigError
from seglab.registry import HOOKS

if TYPE_CHECKING:
    from seglab.engine.trainer import Trainer

EMA_KEY = "ema_state_dict"


@HOOKS.register
class EMAHook(HookBase):
    """Exponential moving average of the weights.

    Args:
        momentum: weight of the current weights in each update (mmcv's convention; 0.0002 averages
            over roughly the last 5,000 updates).
        interval: update every ``interval`` iterations.
        warm_up: early updates use ``(1 + i) / (warm_up + i)`` when that is smaller than ``momentum``,
            so the average does not start out dominated by the first weights.
    """

    checkpoint_keys = (EMA_KEY,)

    def __init__(self, momentum: float = 0.0002, interval: int = 1, warm_up: int = 100) -> None:
        if not 0 < momentum < 1:
            raise ConfigError(f"EMAHook momentum must be in (0, 1), got {momentum!r}")
        if not isinstance(interval, int) or interval < 1:
            raise ConfigError(f"EMAHook interval must be a positive integer, got {interval!r}")
        if not isinstance(warm_up, int) or warm_up < 1:
            raise ConfigError(f"EMAHook warm_up must be a positive integer, got {warm_up!r}")
        self.momentum, self.interval, self.warm_up = momentum, interval, warm_up
        self.ema: dict[str, torch.Tensor] = {}

    def before_train(self, trainer: Trainer) -> None:
        self.averaged_names = {n for n, p in trainer.model.named_parameters() if p.is_floating_point()}
        if not self.ema:  # a resumed run has its average from the checkpoint
            self.ema = {k: v.detach().clone() for k, v in trainer.model.state_dict().items()}

    def after_step(self, trainer: Trainer) -> None:
        if trainer.iter % self.interval:
            return
        step = trainer.iter - 1
        momentum = min(self.momentum, (1 + step) / (self.warm_up + step))
        averaged, current = [], []
        for name, value in trainer.model.state_dict().items():
            if name in self.averaged_names:
                averaged.append(self.ema[name])
                current.append(value.detach())
            else:
                self.ema[name].copy_(value)
        torch._foreach_lerp_(averaged, current, momentum)

    def before_eval(self, trainer: Trainer) -> None:
        self._swap(trainer.model)

    def after_eval(self, trainer: Trainer, metrics: dict[str, float]) -> None:
        self._swap(trainer.model)

    def _swap(self, model: torch.nn.Module) -> None:
        training = {k: v.detach().clone() for k, v in model.state_dict().items()}
        model.load_state_dict(self.ema)
        self.ema = training

    def before_save_checkpoint(self, trainer: Trainer, checkpoint: dict[str, Any]) -> None:
        checkpoint[EMA_KEY] = checkpoint["state_dict"]
        checkpoint["state_dict"] = {k: v.clone() for k, v in self.ema.items()}

    def after_load_checkpoint(self, trainer: Trainer, checkpoint: Mapping[str, Any]) -> None:
        if EMA_KEY not in checkpoint:
            raise CheckpointError(f"the checkpoint has no {EMA_KEY!r}: it was written without EMAHook, so there "
                                  "is no average to resume; start a new run with load_from instead")
        self.ema = {k: v.detach().clone().to(trainer.device) for k, v in checkpoint["state_dict"].items()}
        trainer.model.load_state_dict(checkpoint[EMA_KEY])
