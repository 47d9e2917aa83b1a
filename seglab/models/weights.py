"""Reading weights: a checkpoint file read safely, and loaded into a model by name.

Models read pretrained weights and engines read checkpoints through here (the engine's own
training checkpoints, RNG state and atomic saving are in ``seglab.engine.checkpoint``).

seglab never downloads weights: ``open-mmlab://``, ``torchvision://`` and ``http(s)://`` sources
fail with a message saying to download the file and pass its local path. Loading is by name and
forgiving by default (what fits is loaded; missing, unexpected and shape-mismatched keys are
logged by name on the ``'seglab'`` logger), strict on request.

Checkpoints are pickles, and a pickle can run any code when it is loaded. So every file is read
with PyTorch's weights-only unpickler, which rebuilds tensors and plain containers and refuses
every other import; seglab adds only numpy's array, scalar and dtype rebuilders, which rebuild
data and call nothing else. MMSegmentation 0.x checkpoints load as they are, and seglab
writes nothing else (``capture_rng_state`` gives the RNG streams as lists and tensors). A file
that imports anything more is refused with a ``CheckpointError`` naming what it imports;
``unsafe_load=True`` (``--unsafe-load``, ``checkpoint_unsafe_load=True``) reads such a file in
full, for files the user trusts. ``read_data_pickle`` applies the same rule to plain pickles of
data (0.x's ``.pkl`` class weights).
"""
from __future__ import annotations

import contextlib
import contextvars
import logging
import os
import pickle
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from seglab.errors import CheckpointError

logger = logging.getLogger("seglab")

StateDict = dict[str, torch.Tensor]

_REMOTE_SCHEMES = ("open-mmlab://", "openmmlab://", "torchvision://", "modelzoo://", "mmcls://",
                   "pavi://", "s3://", "http://", "https://")
# Where the weights named by the shipped configs can be downloaded (MMCV's open_mmlab.json).
_KNOWN_DOWNLOADS = {
    "open-mmlab://resnet18_v1c": "https://download.openmmlab.com/pretrain/third_party/resnet18_v1c-b5776b93.pth",
    "open-mmlab://resnet50_v1c": "https://download.openmmlab.com/pretrain/third_party/resnet50_v1c-2cccc1ad.pth",
    "open-mmlab://resnet101_v1c": "https://download.openmmlab.com/pretrain/third_party/resnet101_v1c-e67eebb6.pth",
}


@dataclass
class LoadReport:
    """What ``load_checkpoint`` did: names of the keys it could not match.

    Args:
        missing: model keys the checkpoint lacks (kept at their current values).
        unexpected: checkpoint keys the model lacks (ignored).
        mismatched: ``(name, checkpoint shape, model shape)`` of keys present in both with
            different shapes (ignored).
        loaded: model keys whose values were copied from the checkpoint.
    """

    missing: list[str] = field(default_factory=list)
    unexpected: list[str] = field(default_factory=list)
    mismatched: list[tuple[str, tuple[int, ...], tuple[int, ...]]] = field(default_factory=list)
    loaded: list[str] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        """True when every key matched."""
        return not (self.missing or self.unexpected or self.mismatched)

    def describe(self) -> str:
        """The unmatched keys by name, one kind per line."""
        lines = []
        if self.missing:
            lines.append(f"missing keys in the checkpoint ({len(self.missing)}): {', '.join(self.missing)}")
        if self.unexpected:
            lines.append(f"unexpected keys in the checkpoint ({len(self.unexpected)}): "
                         f"{', '.join(self.unexpected)}")
        if self.mismatched:
            shapes = ", ".join(f"{n} (checkpoint {tuple(c)}, model {tuple(m)})" for n, c, m in self.mismatched)
            lines.append(f"keys with mismatched shapes ({len(self.mismatched)}): {shapes}")
        return "\n".join(lines)


def _remote_source_error(path: str) -> CheckpointError:
    known = _KNOWN_DOWNLOADS.get(path)
    where = f" (it is {known})" if known else ""
    return CheckpointError(
        f"checkpoint {path!r} is a URL: seglab does not download weights. Download the file{where} and "
        f"give its local path instead (e.g. --cfg-options model.pretrained=/path/to/file.pth), "
        f"or train from scratch with --cfg-options model.pretrained=None")


def _unwrap(obj: Any, name: str) -> StateDict:
    """The state dict inside a checkpoint: ``obj['state_dict']``, ``obj['model']`` or ``obj``,
    with a leading ``module.`` (DataParallel / DDP wrappers) removed from every key."""
    if isinstance(obj, Mapping):
        for key in ("state_dict", "model"):
            if isinstance(obj.get(key), Mapping):
                obj = obj[key]
                break
    if not isinstance(obj, Mapping):
        raise CheckpointError(f"checkpoint {name} holds a {type(obj).__name__}, not a state dict "
                              "(a dict of tensors, or a dict with 'state_dict' or 'model')")
    not_tensors = [str(k) for k, v in obj.items() if not isinstance(v, torch.Tensor)]
    if not_tensors:
        raise CheckpointError(f"checkpoint {name} is not a state dict: these entries are not tensors: "
                              f"{', '.join(not_tensors[:10])}")
    return {k[len("module."):] if k.startswith("module.") else k: v for k, v in obj.items()}


UNSAFE_LOAD_OPT_IN = ("--unsafe-load (seglab train/test/infer), checkpoint_unsafe_load=True in the config, "
                      "or unsafe_load=True in Python")

_unsafe_load_allowed: contextvars.ContextVar[bool] = contextvars.ContextVar("seglab_unsafe_load", default=False)


@contextlib.contextmanager
def unsafe_load_allowed(enabled: bool = True) -> Iterator[None]:
    """Inside this block, every ``read_checkpoint`` call reads files in full when ``enabled``.

    For code that reads checkpoints without a way to pass ``unsafe_load`` (a backbone's
    ``init_weights()`` reading ``pretrained`` / ``init_cfg``): the trainer wraps model
    initialisation, ``load_from`` and ``resume_from`` in ``unsafe_load_allowed(cfg.checkpoint_unsafe_load)``.
    """
    token = _unsafe_load_allowed.set(bool(enabled))
    try:
        yield
    finally:
        _unsafe_load_allowed.reset(token)


def numpy_data_globals() -> list[Any]:
    """The numpy globals the safe reader accepts beyond PyTorch's own: array, scalar and dtype rebuilders.

    They only rebuild values (an array's bytes, or a list of objects the same restricted
    unpickler already built); none imports or calls anything else. 0.x checkpoints hold numpy
    values in ``meta`` (a random ``PALETTE``, ``hook_msgs.best_score`` of ``save_best``), and
    seglab checkpoints written before ``capture_rng_state`` hold numpy's RNG state. numpy 1.x
    pickles name ``numpy.core.multiarray``, numpy 2 ``numpy._core.multiarray``: both are accepted.
    """
    try:
        from numpy._core import multiarray
    except ImportError:  # numpy 1.x
        from numpy.core import multiarray
    dtype_classes = {type(np.dtype(code)) for code in np.typecodes["All"]}
    entries: list[Any] = [np.ndarray, np.dtype, *sorted(dtype_classes, key=lambda c: c.__name__)]
    for module in ("numpy.core.multiarray", "numpy._core.multiarray"):
        entries += [(multiarray._reconstruct, f"{module}._reconstruct"), (multiarray.scalar, f"{module}.scalar")]
    return entries


class _DataUnpickler(pickle.Unpickler):
    """A plain pickle of data: containers, numbers, strings (they need no import) and numpy values."""

    def __init__(self, file: Any) -> None:
        super().__init__(file)
        self._allowed = {entry[1] if isinstance(entry, tuple) else f"{entry.__module__}.{entry.__qualname__}":
                         entry[0] if isinstance(entry, tuple) else entry for entry in numpy_data_globals()}

    def find_class(self, module: str, name: str) -> Any:
        found = self._allowed.get(f"{module}.{name}")
        if found is None:
            raise pickle.UnpicklingError(f"it imports {module}.{name}, which a data file does not need "
                                         "(unpickling it could run code)")
        return found


def read_data_pickle(path: str | os.PathLike) -> Any:
    """Unpickle a plain (not ``torch.save``) pickle file of data, refusing any other import.

    For 0.x's ``.pkl`` data files (e.g. ``class_weight``); raises ``pickle.UnpicklingError``
    naming the import for anything else.
    """
    with open(path, "rb") as f:
        return _DataUnpickler(f).load()


def _local_file(path: str | os.PathLike) -> str:
    name = str(path)
    if name.startswith(_REMOTE_SCHEMES):
        raise _remote_source_error(name)
    if not Path(name).is_file():
        raise CheckpointError(f"checkpoint file {name} does not exist (check the path given as "
                              f"model.pretrained, load_from / --load-from or resume_from / --resume-from)")
    return name


def _load_weights_only(name: str, map_location: str | torch.device) -> Any:
    allow = getattr(torch.serialization, "safe_globals", None)  # torch >= 2.5
    with allow(numpy_data_globals()) if allow else contextlib.nullcontext():
        return torch.load(name, map_location=map_location, weights_only=True)


def refused_globals(name: str, error: BaseException) -> list[str]:
    """What a file refused by the weights-only loader wants to import.

    The global named in torch's ``UnpicklingError`` (the one that stopped loading) first, then
    any other the file names that the safe reader does not accept (read from its pickle opcodes,
    nothing run), where this torch can list them.
    """
    # torch writes builtins without their module ("GLOBAL exec")
    names = [n if "." in n else f"builtins.{n}" for n in re.findall(r"GLOBAL ([\w.]+)", str(error))]
    lister = getattr(torch.serialization, "get_unsafe_globals_in_checkpoint", None)
    if lister is not None:
        accepted = {entry[1] if isinstance(entry, tuple) else f"{entry.__module__}.{entry.__qualname__}"
                    for entry in numpy_data_globals()}
        with contextlib.suppress(Exception):
            names += [g for g in lister(name) if g not in accepted]
    return list(dict.fromkeys(names))


def _refused_error(name: str, error: BaseException) -> CheckpointError:
    wanted = refused_globals(name, error)
    what = (f"it imports {', '.join(wanted)}" if wanted else
            f"it holds objects the weights-only loader does not accept ({str(error).strip().splitlines()[-1]})")
    return CheckpointError(
        f"checkpoint file {name} was not loaded: {what}, and unpickling it could run code on this machine "
        f"(seglab and MMSegmentation 0.x checkpoints import nothing of the kind). If you trust the file, "
        f"allow full loading with {UNSAFE_LOAD_OPT_IN}")


def read_checkpoint(path: str | os.PathLike, map_location: str | torch.device = "cpu", *,
                    unsafe_load: bool = False) -> Any:
    """Load a local checkpoint file as saved (state dict, or a dict with ``meta``, ``optimizer``...).

    Args:
        path: a local file written by ``torch.save``.
        map_location: where tensors are loaded.
        unsafe_load: unpickle in full, running whatever code the file holds (also on inside an
            ``unsafe_load_allowed()`` block). Only for files you trust.

    Raises:
        CheckpointError: for a URL-like source, a missing or unreadable file, or a file that
            imports something the safe reader refuses (the message names it and the opt-in).
    """
    name = _local_file(path)
    if unsafe_load or _unsafe_load_allowed.get():
        return _load_unsafe(name, map_location)
    try:
        return _load_weights_only(name, map_location)
    except Exception as e:
        if isinstance(e, pickle.UnpicklingError) and "weights only" in str(e).lower():
            raise _refused_error(name, e) from e
        raise CheckpointError(f"cannot read checkpoint file {name}: {type(e).__name__}: {e}") from e


def _load_unsafe(name: str, map_location: str | torch.device) -> Any:
    """The one full unpickling in seglab, reached only by the explicit opt-in."""
    logger.warning("reading %s with full unpickling (unsafe load): it runs any code the file holds", name)
    try:
        return torch.load(name, map_location=map_location, weights_only=False)
    except Exception as e:
        raise CheckpointError(f"cannot read checkpoint file {name}: {type(e).__name__}: {e}") from e


def read_state_dict(path: str | os.PathLike, map_location: str | torch.device = "cpu", *,
                    unsafe_load: bool = False) -> StateDict:
    """Load a local checkpoint file and return its state dict (unwrapped, ``module.`` stripped).

    Args:
        path: a local file written by ``torch.save`` (MMSegmentation, torchvision or seglab).
        map_location: where tensors are loaded.
        unsafe_load: see ``read_checkpoint``.

    Raises:
        CheckpointError: for a URL-like source, a missing or unreadable file, a file the safe
            reader refuses, or a file that holds no state dict.
    """
    return _unwrap(read_checkpoint(path, map_location, unsafe_load=unsafe_load), str(path))


def match_state_dict(model: nn.Module, state: Mapping[str, torch.Tensor]) -> tuple[StateDict, LoadReport]:
    """Split ``state`` into the entries that fit ``model`` (same name and shape) and a report."""
    own = model.state_dict()
    report = LoadReport()
    fits: StateDict = {}
    for key, value in state.items():
        if key not in own:
            report.unexpected.append(key)
        elif tuple(value.shape) != tuple(own[key].shape):
            report.mismatched.append((key, tuple(value.shape), tuple(own[key].shape)))
        else:
            fits[key] = value
    # As 0.x: BN's step counter is not a weight; old checkpoints (torchvision's) lack it.
    report.missing = [k for k in own if k not in state and not k.endswith("num_batches_tracked")]
    report.loaded = list(fits)
    return fits, report


def load_checkpoint(model: nn.Module, source: str | os.PathLike | Mapping[str, Any], *, strict: bool = False,
                    key_map: Callable[[StateDict], StateDict] | None = None,
                    name: str | None = None, unsafe_load: bool = False) -> LoadReport:
    """Copy the entries of a checkpoint that fit ``model`` into it; report the others by name.

    Args:
        model: the module to load into.
        source: a local file path, or an already loaded checkpoint / state dict.
        strict: raise ``CheckpointError`` (loading nothing) unless every key matches.
        key_map: renames the checkpoint's keys to the model's (one function per model family,
            e.g. torchvision ResNet names to seglab's); applied after unwrapping.
        name: what to call an already loaded ``source`` in messages (e.g. its file name).
        unsafe_load: read a file ``source`` in full (see ``read_checkpoint``).

    Returns:
        A ``LoadReport``; unmatched keys are also logged on the ``'seglab'`` logger.
    """
    if isinstance(source, (str, os.PathLike)):
        name, state = str(source), read_state_dict(source, unsafe_load=unsafe_load)
    else:
        name = name or "the given state dict"
        state = _unwrap(source, name)
    if key_map is not None:
        state = key_map(state)
    fits, report = match_state_dict(model, state)
    if strict and not report.complete:
        raise CheckpointError(f"checkpoint {name} does not match {type(model).__name__} "
                              f"(strict loading):\n{report.describe()}")
    model.load_state_dict(fits, strict=False)
    logger.info("loaded %d of %d entries of %s from %s", len(report.loaded), len(model.state_dict()),
                type(model).__name__, name)
    if not report.complete:
        logger.warning("checkpoint %s does not fully match %s:\n%s", name, type(model).__name__,
                       report.describe())
    return report
