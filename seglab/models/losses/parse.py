"""``parse_losses``: the one place a model's loss dict becomes the optimised total and the logged values.

The 0.x rule: every value whose key contains ``'loss'`` is summed into the total; every value
is logged. Values stay tensors (no ``.item()``), so parsing never waits for the device; the
trainer decides when to read them.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch


def _mean_of(name: str, value: torch.Tensor | Sequence[torch.Tensor]) -> torch.Tensor:
    if isinstance(value, torch.Tensor):
        return value.mean()
    if isinstance(value, Sequence) and not isinstance(value, str) and len(value) > 0 \
            and all(isinstance(v, torch.Tensor) for v in value):
        return sum(v.mean() for v in value)
    raise TypeError(f"loss {name!r} must be a tensor or a non-empty list of tensors, got {type(value).__name__}")


def parse_losses(losses: Mapping[str, torch.Tensor | Sequence[torch.Tensor]]
                 ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """Total loss to back-propagate and the values to log.

    Args:
        losses: name -> tensor, or list of tensors (summed after taking each one's mean).

    Returns:
        ``(total, log_vars)``: ``total`` is the sum of the means of every value whose key contains
        ``'loss'`` (a zero tensor when none does); ``log_vars`` holds every mean, detached, in the
        order given, plus ``'loss'`` = the detached total.
    """
    means = {name: _mean_of(name, value) for name, value in losses.items()}
    optimised = [value for name, value in means.items() if "loss" in name]
    if optimised:
        total = sum(optimised[1:], optimised[0])
    else:
        device = next((v.device for v in means.values()), None)
        total = torch.zeros((), device=device)
    log_vars = {name: value.detach() for name, value in means.items()}
    log_vars["loss"] = total.detach()
    return total, log_vars
