"""Distributed training helpers: process-group setup and cross-rank reductions.

``torchrun --nproc_per_node=N -m seglab train CONFIG`` sets ``RANK``/``WORLD_SIZE``/``LOCAL_RANK``;
seglab then joins a process group (gloo on CPU, nccl on CUDA). Without them everything here
degrades to single-process no-ops, so the trainer has one code path.
"""
from __future__ import annotations

import os
from datetime import timedelta
from typing import Any

import torch
import torch.distributed as dist

from seglab.errors import ConfigError


def launched_by_torchrun() -> bool:
    return int(os.environ.get("WORLD_SIZE", "1")) > 1 and "RANK" in os.environ


def init_distributed(launcher: str = "none", backend: str | None = None) -> tuple[int, int]:
    """Join the process group when launched distributed; return ``(rank, world_size)``.

    Args:
        launcher: ``'none'`` (distributed only if torchrun's variables say so) or ``'pytorch'``
            (torchrun required).
        backend: process-group backend; default gloo on CPU, nccl on CUDA.
    """
    if launcher not in ("none", "pytorch"):
        raise ConfigError(f"--launcher must be 'none' or 'pytorch', got {launcher!r}")
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    if not launched_by_torchrun():
        if launcher == "pytorch":
            raise ConfigError("--launcher pytorch needs torchrun's environment (RANK, WORLD_SIZE); "
                              "start with: torchrun --nproc_per_node=N -m seglab train CONFIG")
        return 0, 1
    if backend is None:
        backend = "nccl" if torch.cuda.is_available() else "gloo"
    if torch.cuda.is_available():
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
    dist.init_process_group(backend=backend, timeout=timedelta(minutes=30))
    return dist.get_rank(), dist.get_world_size()


def rank_from_environment() -> int:
    """This process's rank as torchrun announces it, before the process group exists."""
    return int(os.environ.get("RANK", "0")) if launched_by_torchrun() else 0


def get_rank() -> int:
    return dist.get_rank() if dist.is_available() and dist.is_initialized() else 0


def get_world_size() -> int:
    return dist.get_world_size() if dist.is_available() and dist.is_initialized() else 1


def is_main_process() -> bool:
    return get_rank() == 0


def all_reduce_sum(tensor: torch.Tensor) -> torch.Tensor:
    """Sum ``tensor`` over ranks (in place, returned for chaining); a no-op single-process."""
    if get_world_size() > 1:
        dist.all_reduce(tensor, op=dist.ReduceOp.SUM)
    return tensor


def all_reduce_mean(tensor: torch.Tensor) -> torch.Tensor:
    return all_reduce_sum(tensor).div_(get_world_size())


def all_reduce_min(tensor: torch.Tensor) -> torch.Tensor:
    """Minimum of ``tensor`` over ranks (in place, returned); a no-op single-process."""
    if get_world_size() > 1:
        dist.all_reduce(tensor, op=dist.ReduceOp.MIN)
    return tensor


def all_gather_objects(obj: Any) -> list[Any]:
    """``obj`` of every rank, in rank order (picklable objects; a one-element list single-process)."""
    if get_world_size() == 1:
        return [obj]
    gathered: list[Any] = [None] * get_world_size()
    dist.all_gather_object(gathered, obj)
    return gathered


def cleanup() -> None:
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()
