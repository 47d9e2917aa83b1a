"""The stream of training samples: endless, sharded across ranks, and exactly resumable.

Each sample is drawn as ``(dataset index, sample seed)``. The order is a fixed permutation per
epoch (``seed + epoch``) and every sample's augmentation RNG is seeded from its position in the
stream, so the batches of iteration *k* are the same whatever the number of data workers and
whether the run was resumed at *k* or ran straight through.
"""
from __future__ import annotations

import random
from collections.abc import Iterator

import numpy as np
import torch
from torch.utils.data import Dataset, Sampler

_SEED_MASK = 2**31 - 1


def sample_seed(seed: int, epoch: int, position: int) -> int:
    """A well-mixed 31-bit seed for one draw of the stream."""
    return int(np.random.SeedSequence([seed, epoch, position]).generate_state(1)[0]) & _SEED_MASK


class TrainStreamSampler(Sampler):
    """Endless sampler of ``(index, sample_seed)`` for one rank.

    Every epoch shuffles the whole dataset with ``seed + epoch``; rank ``r`` of ``w`` takes every
    ``w``-th item starting at ``r`` (the tail that does not divide evenly wraps to the start,
    like ``DistributedSampler``), so ``w`` ranks with batch ``b`` see the same samples per
    iteration as one process with batch ``w * b``.

    Args:
        dataset_len: number of samples.
        seed: base seed of the permutation and of the per-sample augmentation seeds.
        rank: this process's rank.
        world_size: number of ranks.
        start: how many draws of this rank's stream to skip (``iteration * samples_per_gpu``).
        shuffle: shuffle each epoch (``False`` keeps the dataset order).
    """

    def __init__(self, dataset_len: int, seed: int, rank: int = 0, world_size: int = 1,
                 start: int = 0, shuffle: bool = True) -> None:
        if dataset_len < 1:
            raise ValueError("the training dataset is empty")
        self.dataset_len = dataset_len
        self.seed = seed
        self.rank = rank
        self.world_size = world_size
        self.start = start
        self.shuffle = shuffle
        self.per_rank = -(-dataset_len // world_size)  # ceil

    def _epoch_indices(self, epoch: int) -> list[int]:
        if self.shuffle:
            g = torch.Generator().manual_seed(self.seed + epoch)
            order = torch.randperm(self.dataset_len, generator=g).tolist()
        else:
            order = list(range(self.dataset_len))
        total = self.per_rank * self.world_size
        order += order[: total - len(order)]
        return order[self.rank:total:self.world_size]

    def __iter__(self) -> Iterator[tuple[int, int]]:
        epoch, offset = divmod(self.start, self.per_rank)
        while True:
            indices = self._epoch_indices(epoch)
            for pos in range(offset, self.per_rank):
                global_pos = pos * self.world_size + self.rank
                yield indices[pos], sample_seed(self.seed, epoch, global_pos)
            epoch, offset = epoch + 1, 0

    def __len__(self) -> int:  # DataLoader asks; the stream itself is endless
        return 2**62


class SeededSamples(Dataset):
    """Wraps a dataset so ``ds[(index, seed)]`` seeds Python, NumPy and torch RNGs first.

    Random transforms then draw from a generator that depends only on the sample's place in
    the stream, not on which worker process loads it.
    """

    def __init__(self, dataset: Dataset) -> None:
        self.dataset = dataset

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, item: tuple[int, int]):
        index, seed = item
        if torch.utils.data.get_worker_info() is not None:
            # A worker process's RNGs serve data loading alone: seed them and go (saving and
            # restoring them would cost ~0.1 ms per sample, seeding the ways below ~15 us).
            _seed_cpu_rngs(seed)
            return self.dataset[index]
        # With workers=0 this runs in the training process, whose RNGs (dropout) must not
        # depend on data loading: restore them afterwards.
        states = random.getstate(), np.random.get_state(), torch.random.get_rng_state()
        _seed_cpu_rngs(seed)
        try:
            return self.dataset[index]
        finally:
            random.setstate(states[0])
            np.random.set_state(states[1])
            torch.random.set_rng_state(states[2])


def _seed_cpu_rngs(seed: int) -> None:
    """Seed Python's, NumPy's and torch's CPU generators. ``torch.manual_seed`` would also seed
    every accelerator's generator, which data transforms never draw from, at ~0.2 ms a call."""
    random.seed(seed)
    np.random.seed(seed)
    torch.default_generator.manual_seed(seed)
