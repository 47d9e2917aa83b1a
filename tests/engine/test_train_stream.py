"""The training sample stream: resumable, rank-sharded, and worker-independent augmentation."""
import itertools
import random

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from seglab.engine.train_stream import SeededSamples, TrainStreamSampler


def take(sampler, n):
    return list(itertools.islice(iter(sampler), n))


def test_resuming_at_a_position_continues_the_same_stream():
    full = take(TrainStreamSampler(7, seed=3), 30)
    for start in (0, 5, 7, 13):
        assert take(TrainStreamSampler(7, seed=3, start=start), 30 - start) == full[start:]


def test_each_epoch_is_a_permutation_of_the_dataset():
    draws = take(TrainStreamSampler(7, seed=0), 21)
    for epoch in range(3):
        assert sorted(i for i, _ in draws[epoch * 7:(epoch + 1) * 7]) == list(range(7))
    assert [i for i, _ in draws[:7]] != [i for i, _ in draws[7:14]]  # reshuffled


def test_two_ranks_cover_the_same_global_batches_as_one_process():
    batch = 2
    single = take(TrainStreamSampler(8, seed=1), 4 * batch * 2)
    ranks = [take(TrainStreamSampler(8, seed=1, rank=r, world_size=2), 4 * batch) for r in range(2)]
    for it in range(4):
        global_batch = set(single[it * 2 * batch:(it + 1) * 2 * batch])
        per_rank = set(ranks[0][it * batch:(it + 1) * batch]) | set(ranks[1][it * batch:(it + 1) * batch])
        assert per_rank == global_batch  # same indices and the same augmentation seeds


class RandomDraws(Dataset):
    def __len__(self):
        return 5

    def __getitem__(self, i):
        # one draw from each generator a transform may use
        return torch.tensor([i, np.random.randint(1 << 30), int(torch.randint(1 << 30, ())), random.randrange(1 << 30)])


def test_augmentation_randomness_does_not_depend_on_workers():
    def draws(workers):
        loader = DataLoader(SeededSamples(RandomDraws()), batch_size=2, num_workers=workers,
                            sampler=TrainStreamSampler(5, seed=4))
        return torch.cat(list(itertools.islice(iter(loader), 6)))

    assert torch.equal(draws(0), draws(2))


def test_seeded_samples_leave_the_callers_rng_untouched():
    torch.manual_seed(0)
    np.random.seed(0)
    expected = torch.rand(1), np.random.rand()
    torch.manual_seed(0)
    np.random.seed(0)
    SeededSamples(RandomDraws())[(1, 123)]
    assert torch.equal(torch.rand(1), expected[0]) and np.random.rand() == expected[1]
