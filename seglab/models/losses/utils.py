"""What every seglab loss shares: reduction rules, class weights and the logged name.

The reduction rules are MMSegmentation 0.x's (``weight_reduce_loss``): an element-wise
``weight`` multiplies the unreduced loss, then ``'mean'`` divides by the number of elements
(every pixel, zero-weight ones included) or, when ``avg_factor`` is given, by
``avg_factor + eps``. This is deliberately *not* PyTorch's class-weighted mean, so numbers
match 0.x configs.
"""
from __future__ import annotations

import functools
import json
import pickle
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from seglab.models.weights import read_data_pickle
from seglab.errors import ConfigError, DataError

REDUCTIONS = ("none", "mean", "sum")
_EPS = torch.finfo(torch.float32).eps


def check_reduction(reduction: str | None, owner: str, key: str = "reduction") -> None:
    """Raise a ConfigError naming ``owner.key`` unless ``reduction`` is one of REDUCTIONS."""
    if reduction not in REDUCTIONS:
        raise ConfigError(f"{owner} {key} must be one of {', '.join(map(repr, REDUCTIONS))}, got {reduction!r}")


def resolve_reduction(default: str, override: str | None) -> str:
    """The reduction of one call: ``override`` when given (0.x ``reduction_override``), else ``default``."""
    if override is None:
        return default
    if override not in REDUCTIONS:
        raise ValueError(f"reduction_override must be None or one of {REDUCTIONS}, got {override!r}")
    return override


def reduce_loss(loss: torch.Tensor, reduction: str) -> torch.Tensor:
    """Reduce an element-wise loss with ``'none'``, ``'mean'`` or ``'sum'``."""
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    return loss


def weight_reduce_loss(loss: torch.Tensor, weight: torch.Tensor | None = None, reduction: str = "mean",
                       avg_factor: float | torch.Tensor | None = None) -> torch.Tensor:
    """Multiply by an element-wise ``weight``, then reduce (the 0.x rule, see the module docstring).

    Args:
        loss: element-wise loss.
        weight: broadcastable element-wise weight (e.g. the OHEM map), or None.
        reduction: ``'none'``, ``'mean'`` or ``'sum'``.
        avg_factor: denominator of ``'mean'`` instead of ``loss.numel()``; a tensor keeps the
            computation on the device (no host sync). ``eps`` is added so an all-ignored batch
            gives 0, not NaN.
    """
    if weight is not None:
        loss = loss * weight
    if avg_factor is None:
        return reduce_loss(loss, reduction)
    if reduction == "mean":
        return loss.sum() / (avg_factor + _EPS)
    if reduction == "none":
        return loss
    raise ValueError('avg_factor can only be used with reduction="mean" (or "none")')


def weighted_loss(loss_func: Callable[..., torch.Tensor]) -> Callable[..., torch.Tensor]:
    """Decorator (0.x's): an element-wise ``loss_func(pred, target, **kwargs)`` becomes
    ``loss_func(pred, target, weight=None, reduction='mean', avg_factor=None, **kwargs)``, reduced
    by ``weight_reduce_loss``.

    Example::

        @weighted_loss
        def l1_loss(pred, target):
            return (pred - target).abs()

        l1_loss(pred, target, weight, avg_factor=2)
    """
    @functools.wraps(loss_func)
    def wrapper(pred: torch.Tensor, target: torch.Tensor, weight: torch.Tensor | None = None,
                reduction: str = "mean", avg_factor: float | torch.Tensor | None = None,
                **kwargs: Any) -> torch.Tensor:
        return weight_reduce_loss(loss_func(pred, target, **kwargs), weight, reduction, avg_factor)

    return wrapper


def one_hot(label: torch.Tensor, num_classes: int, dtype: torch.dtype) -> torch.Tensor:
    """One-hot target (N,C,...) of class indices ``label`` (N,...), classes first, in ``dtype``.

    A comparison with the class ids, not ``F.one_hot``: that one reads the labels' min and max on
    the host to check them (a sync per call) and puts classes last. A label outside
    ``[0, num_classes)`` gives an all-zero row; callers pass valid labels (ignored pixels mapped
    to a class and masked), and the data pipeline checks label ranges when it loads them.
    """
    classes = torch.arange(num_classes, device=label.device).view(1, num_classes, *([1] * (label.dim() - 1)))
    return (label.unsqueeze(1) == classes).to(dtype)


_CLASS_WEIGHT_SUFFIXES = (".npy", ".json", ".txt", ".pkl", ".pickle")


def _read_class_weight_file(path: Path) -> object:
    suffix = path.suffix.lower()
    if suffix == ".npy":
        return np.load(path, allow_pickle=False)
    if suffix == ".json":
        return json.loads(path.read_text())
    if suffix in (".pkl", ".pickle"):
        return read_data_pickle(path)  # data only: a pickle that imports code is refused
    # .txt: numbers separated by whitespace and/or commas, one class after another.
    return [float(tok) for tok in path.read_text().replace(",", " ").split()]


def load_class_weight(class_weight: Sequence[float] | str | Path | None) -> list[float] | None:
    """A loss's ``class_weight`` config value as a list of floats (or None).

    Args:
        class_weight: None, a sequence of numbers, or a path to a ``.npy``/``.json``/``.txt``/``.pkl``
            file holding one (relative paths are relative to the working directory, as in 0.x).
    """
    if class_weight is None:
        return None
    source = "class_weight"
    if isinstance(class_weight, (str, Path)):
        path = Path(class_weight)
        source = f"class_weight file {str(path)!r}"
        if path.suffix.lower() not in _CLASS_WEIGHT_SUFFIXES:
            raise ConfigError(f"{source} has an unsupported extension {path.suffix!r}; "
                              "use .npy, .json, .txt or .pkl")
        if not path.is_file():
            raise DataError(f"{source} does not exist; give an existing .npy/.json/.txt/.pkl file "
                            "or a list of numbers")
        try:
            class_weight = _read_class_weight_file(path)
        except (OSError, ValueError, pickle.UnpicklingError, EOFError) as e:
            raise DataError(f"cannot read {source}: {e}") from e
    try:
        values = np.asarray(class_weight, dtype=np.float64)
    except (TypeError, ValueError) as e:
        raise ConfigError(f"{source} must hold a flat list of numbers, got {class_weight!r}") from e
    if values.ndim != 1 or values.size == 0:
        raise ConfigError(f"{source} must hold a flat, non-empty list of numbers, got shape {values.shape}")
    return [float(v) for v in values]


def get_class_weight(class_weight: Sequence[float] | str | Path | None) -> list[float] | None:
    """0.x's name for ``load_class_weight``: a list, a file path (.npy/.json/.txt/.pkl) or None."""
    return load_class_weight(class_weight)


class SegLoss(nn.Module):
    """Base of seglab's losses: the ``loss_name`` property and class weights outside the state dict.

    ``class_weight`` stays a plain list attribute (what configs and the head's length check
    read); its tensor copy is a non-persistent buffer, so it follows ``.to(device)`` without a
    copy per step and adds no state-dict key (checkpoints keep MMSegmentation's keys).

    Args:
        loss_name: the key the head logs this loss under.
        class_weight: see ``load_class_weight``.
        loss_weight: factor the reduced loss is multiplied by.
    """

    def __init__(self, loss_name: str, class_weight: Sequence[float] | str | None, loss_weight: float) -> None:
        super().__init__()
        owner = type(self).__name__
        if not isinstance(loss_name, str) or not loss_name:
            raise ConfigError(f"{owner} loss_name must be a non-empty string, got {loss_name!r}")
        if isinstance(loss_weight, bool) or not isinstance(loss_weight, (int, float)):
            raise ConfigError(f"{owner} loss_weight must be a number, got {loss_weight!r}")
        self._loss_name = loss_name
        self.loss_weight = float(loss_weight)
        self.class_weight = load_class_weight(class_weight)
        tensor = None if self.class_weight is None else torch.tensor(self.class_weight, dtype=torch.float32)
        self.register_buffer("class_weight_tensor", tensor, persistent=False)

    @property
    def loss_name(self) -> str:
        """Key of this loss in the head's loss dict; it enters the total only if it contains ``'loss'``."""
        return self._loss_name

    def _class_weight_like(self, ref: torch.Tensor) -> torch.Tensor | None:
        """The class weights on ``ref``'s device and dtype (no host-to-device copy once moved)."""
        w = self.class_weight_tensor
        return None if w is None else w.to(device=ref.device, dtype=ref.dtype)

    def extra_repr(self) -> str:
        return f"loss_name={self._loss_name!r}, loss_weight={self.loss_weight}"
