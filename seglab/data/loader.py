"""Batching: ``collate``, ``worker_init`` and ``build_dataloader``.

Batch formats (docs/architecture.md):
- training: ``dict(img=float32 (N,3,H,W), gt_semantic_seg=int64 (N,1,H,W), img_metas=[dict, ...])``;
- test: ``dict(img=[Tensor (N,3,H,W) per augmentation], img_metas=[[dict, ...] per augmentation])``.
"""
from __future__ import annotations

import functools
import logging
import os
import random
import warnings
from collections.abc import Mapping, Sequence
from typing import Any

import cv2
import numpy as np
import torch
import torch.distributed as tdist
from torch.utils.data import DataLoader, Dataset, Sampler
from torch.utils.data.distributed import DistributedSampler

from seglab.errors import ConfigError

# Where images of different sizes share a batch they are padded (bottom/right) like 0.x's
# collate does; labels are padded with the ignore value so padding never counts as a class.
_PAD_VALUES = {"gt_semantic_seg": 255}


def _stack(key: str, tensors: Sequence[torch.Tensor]) -> torch.Tensor:
    shapes = {tuple(t.shape) for t in tensors}
    if len(shapes) == 1:
        return torch.stack(list(tensors))
    if len({t.shape[:-2] for t in tensors}) != 1:
        raise ConfigError(f"cannot batch {key!r}: samples have shapes {sorted(shapes)}")
    h = max(t.shape[-2] for t in tensors)
    w = max(t.shape[-1] for t in tensors)
    out = tensors[0].new_full((len(tensors), *tensors[0].shape[:-2], h, w), _PAD_VALUES.get(key, 0))
    for i, t in enumerate(tensors):
        out[i, ..., : t.shape[-2], : t.shape[-1]] = t
    return out


def _collate_field(key: str, values: list[Any]) -> Any:
    if isinstance(values[0], list):  # one entry per test-time augmentation
        return [_collate_field(key, [v[i] for v in values]) for i in range(len(values[0]))]
    if isinstance(values[0], torch.Tensor):
        return _stack(key, values)
    return values  # img_metas and other plain values stay a list, one per sample


def collate(batch: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Batch pipeline outputs: tensors are stacked, metas listed, per-augmentation lists kept."""
    return {key: _collate_field(key, [sample[key] for sample in batch]) for key in batch[0]}


def worker_init(worker_id: int, seed: int | None = None, rank: int = 0, num_workers: int = 0) -> None:
    """Data-worker start: no OpenCV thread pool, and with ``seed`` deterministic RNGs.

    OpenCV's own threads fight the loader's processes for the CPU cores, so each worker runs
    OpenCV single-threaded. With a seed, worker ``w`` of rank ``r`` seeds Python, NumPy and
    torch with ``seed + r * num_workers + w`` (0.x's rule).
    """
    cv2.setNumThreads(0)
    if seed is not None:
        worker_seed = seed + rank * num_workers + worker_id
        np.random.seed(worker_seed % 2**32)
        random.seed(worker_seed)
        torch.manual_seed(worker_seed)


def _dist_info() -> tuple[int, int]:
    if tdist.is_available() and tdist.is_initialized():
        return tdist.get_rank(), tdist.get_world_size()
    return 0, 1


def build_dataloader(dataset: Dataset, samples_per_gpu: int, workers_per_gpu: int, *, dist: bool = False,
                     shuffle: bool = True, seed: int | None = None, drop_last: bool = False,
                     persistent_workers: bool = True, pin_memory: bool = False,
                     sampler: Sampler | Sequence[int] | None = None,
                     multiprocessing_context: str | None = None) -> DataLoader:
    """A DataLoader of ``dataset`` for this process; every loader of seglab is built here.

    The order of the samples is ``sampler``'s when given; else with ``dist`` a
    ``DistributedSampler`` gives this rank its share (rank and world size from
    ``torch.distributed``; one process when it is not initialised). With ``seed`` the shuffle
    order and every worker's RNGs are fixed, so a run repeats exactly; with
    ``workers_per_gpu=0`` the pipeline draws from this process's global RNGs (seed them).

    Args:
        dataset: a built dataset.
        samples_per_gpu: batch size of this process.
        workers_per_gpu: loader worker processes (0: load in this process).
        dist: shard the data across ranks.
        shuffle: shuffle every epoch (without ``sampler``).
        seed: base seed of the shuffle order and the workers' RNGs.
        drop_last: drop the last incomplete batch.
        persistent_workers: keep workers alive between epochs (ignored without workers).
        pin_memory: pin batches for faster host-to-GPU copies.
        sampler: the indices to load, in order (a sampler or a list).
        multiprocessing_context: how workers start (``'fork'``, ``'spawn'``, ``'forkserver'``).
    """
    if not isinstance(samples_per_gpu, int) or samples_per_gpu < 1:
        raise ConfigError(f"data.samples_per_gpu must be a positive integer, got {samples_per_gpu!r}")
    if not isinstance(workers_per_gpu, int) or workers_per_gpu < 0:
        raise ConfigError(f"data.workers_per_gpu must be an integer >= 0, got {workers_per_gpu!r}")
    rank, world_size = _dist_info()
    if sampler is not None:
        shuffle = False
    elif dist:
        sampler = DistributedSampler(dataset, num_replicas=world_size, rank=rank, shuffle=shuffle,
                                     seed=seed or 0)
        shuffle = False
    generator = torch.Generator().manual_seed(seed) if seed is not None else None
    return DataLoader(
        dataset, batch_size=samples_per_gpu, shuffle=shuffle, sampler=sampler, num_workers=workers_per_gpu,
        collate_fn=collate, pin_memory=pin_memory, drop_last=drop_last, generator=generator,
        worker_init_fn=functools.partial(worker_init, seed=seed, rank=rank, num_workers=workers_per_gpu),
        persistent_workers=persistent_workers and workers_per_gpu > 0,
        multiprocessing_context=multiprocessing_context if workers_per_gpu > 0 else None)


def usable_cpus() -> int:
    """CPUs this process may run on (its affinity mask where the OS has one)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def warn_more_workers_than_cpus(workers: int) -> None:
    """One warning that names the config key, in place of the one PyTorch repeats for every
    loader iterator. Results do not depend on the worker count (each sample is seeded by its
    position in the stream), so lowering it is safe."""
    cpus = usable_cpus()
    warnings.filterwarnings("ignore", message=r"This DataLoader will create \d+ worker processes",
                            category=UserWarning)
    if workers > cpus:
        logging.getLogger("seglab").warning(
            f"data.workers_per_gpu={workers} starts {workers} loader processes on {cpus} usable CPUs, where "
            f"they compete with training for the cores; --cfg-options data.workers_per_gpu={cpus} matches this "
            "machine and gives the same results")
