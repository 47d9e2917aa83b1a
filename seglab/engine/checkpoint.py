"""Training checkpoints: written atomically, with the RNG streams as weights-only data.

Reading them (safely, by name) is ``seglab.models.weights``, re-exported here.
"""
from __future__ import annotations

import os
import random
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch

from seglab.errors import CheckpointError
from seglab.models.weights import (UNSAFE_LOAD_OPT_IN, LoadReport, StateDict, load_checkpoint, match_state_dict,
                                   read_checkpoint, read_data_pickle, read_state_dict, refused_globals,
                                   unsafe_load_allowed)

__all__ = ["UNSAFE_LOAD_OPT_IN", "LoadReport", "StateDict", "capture_rng_state", "load_checkpoint",
           "match_state_dict", "read_checkpoint", "read_data_pickle", "read_state_dict", "refused_globals",
           "restore_rng_state", "save_atomic", "unsafe_load_allowed"]


def capture_rng_state() -> dict[str, Any]:
    """The Python, NumPy and torch (CPU and every CUDA device) RNG streams, as a checkpoint entry.

    Only lists, ints, floats, strings, ``None`` and tensors, which ``torch.load(weights_only=True)``
    reads: numpy's state is taken apart (its key array becomes a list of ints).
    """
    version, internal, gauss = random.getstate()
    numpy_state = np.random.get_state(legacy=False)
    return {
        "python": {"version": version, "internal": list(internal), "gauss": gauss},
        "numpy": {"bit_generator": numpy_state["bit_generator"],
                  "key": numpy_state["state"]["key"].tolist(), "pos": int(numpy_state["state"]["pos"]),
                  "has_gauss": int(numpy_state["has_gauss"]), "gauss": float(numpy_state["gauss"])},
        "torch": torch.random.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None,
    }


def restore_rng_state(state: Mapping[str, Any]) -> None:
    """Set the RNG streams from ``capture_rng_state()``'s entry, or from the one seglab wrote before
    it (``random.getstate()`` / ``np.random.get_state()`` tuples). CUDA streams are restored on
    the devices this machine has; without CUDA they are skipped."""
    missing = [key for key in ("python", "numpy", "torch") if key not in state]
    if missing:
        raise CheckpointError(f"the checkpoint's 'rng' entry lacks {', '.join(missing)}: it was not written "
                              "by seglab's trainer")
    py = state["python"]
    random.setstate((py["version"], tuple(py["internal"]), py["gauss"]) if isinstance(py, Mapping)
                    else (py[0], tuple(py[1]), py[2]))
    np.random.set_state(_numpy_state_tuple(state["numpy"]))
    torch.random.set_rng_state(state["torch"])
    cuda = state.get("cuda")
    if cuda is not None and torch.cuda.is_available():
        for device, device_state in enumerate(cuda[:torch.cuda.device_count()]):
            torch.cuda.set_rng_state(device_state, device)


def _numpy_state_tuple(state: Any) -> tuple:
    if not isinstance(state, Mapping):  # np.random.get_state() as written by older seglab versions
        return tuple(state)
    return (state["bit_generator"], np.asarray(state["key"], dtype=np.uint32), state["pos"],
            state["has_gauss"], state["gauss"])


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
