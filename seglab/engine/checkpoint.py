"""Checkpoint IO: read a state dict from a local file, load it into a model by name, save atomically.

seglab never downloads weights: ``open-mmlab://``, ``torchvision://`` and ``http(s)://`` sources
fail with a message saying to download the file and pass its local path. Loading is by name and
forgiving by default (what fits is loaded; missing, unexpected and shape-mismatched keys are
logged by name on the ``'seglab'`` logger), strict on request. Checkpoints are pickles, as in
MMSegmentation 0.x (ours hold optimizer and RNG state): load only files you trust.
"""
from __future__ import annotations

import logging
import os
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

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


def read_checkpoint(path: str | os.PathLike, map_location: str | torch.device = "cpu") -> Any:
    """Load a local checkpoint file as saved (state dict, or a dict with ``meta``, ``optimizer``...).

    Raises:
        CheckpointError: for a URL-like source or a missing or unreadable file.
    """
    name = str(path)
    if name.startswith(_REMOTE_SCHEMES):
        raise _remote_source_error(name)
    if not Path(name).is_file():
        raise CheckpointError(f"checkpoint file {name} does not exist (check the path given as "
                              f"model.pretrained, load_from / --load-from or resume_from / --resume-from)")
    try:
        # Full unpickling: 0.x and seglab checkpoints hold metadata (numpy RNG state, tuples
        # of class names) that the weights-only loader rejects.
        return torch.load(name, map_location=map_location, weights_only=False)
    except Exception as e:
        raise CheckpointError(f"cannot read checkpoint file {name}: {type(e).__name__}: {e}") from e


def read_state_dict(path: str | os.PathLike, map_location: str | torch.device = "cpu") -> StateDict:
    """Load a local checkpoint file and return its state dict (unwrapped, ``module.`` stripped).

    Args:
        path: a local file written by ``torch.save`` (MMSegmentation, torchvision or seglab).
        map_location: where tensors are loaded.

    Raises:
        CheckpointError: for a URL-like source, a missing or unreadable file, or a file that
            holds no state dict.
    """
    return _unwrap(read_checkpoint(path, map_location), str(path))


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
                    name: str | None = None) -> LoadReport:
    """Copy the entries of a checkpoint that fit ``model`` into it; report the others by name.

    Args:
        model: the module to load into.
        source: a local file path, or an already loaded checkpoint / state dict.
        strict: raise ``CheckpointError`` (loading nothing) unless every key matches.
        key_map: renames the checkpoint's keys to the model's (one function per model family,
            e.g. torchvision ResNet names to seglab's); applied after unwrapping.
        name: what to call an already loaded ``source`` in messages (e.g. its file name).

    Returns:
        A ``LoadReport``; unmatched keys are also logged on the ``'seglab'`` logger.
    """
    if isinstance(source, (str, os.PathLike)):
        name, state = str(source), read_state_dict(source)
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


def save_atomic(obj: Any, path: str | os.PathLike) -> None:
    """``torch.save`` that never leaves a truncated file at ``path``.

    Writes a temporary file in the same directory, flushes and fsyncs it, then renames it over
    ``path`` (``os.replace`` is atomic on one file system). If saving fails, the temporary file
    is removed and an existing ``path`` is left untouched.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        with open(tmp, "xb") as f:
            torch.save(obj, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)


def _fsync_dir(directory: Path) -> None:
    """Persist the rename itself; not every platform can open a directory, which is harmless."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
