"""``RepeatDataset``: a dataset seen ``times`` times per epoch (0.x's short-dataset wrapper).

0.x's DRIVE configs use it (``times=40000``) so that an "epoch" never ends during an
iteration-based run and the loader's workers are not restarted.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from torch.utils.data import Dataset

from seglab.registry import config_error
from seglab.registry import DATASETS


@DATASETS.register
class RepeatDataset(Dataset):
    """Index ``i`` is the wrapped dataset's ``i % len(dataset)``.

    Args:
        dataset: the dataset config (built through ``DATASETS``) or a built dataset.
        times: how many times to repeat it.
    """

    def __init__(self, dataset: Mapping[str, Any] | Dataset, times: int) -> None:
        if not isinstance(times, int) or isinstance(times, bool) or times < 1:
            raise config_error(f"times must be a positive integer, got {times!r}")
        self.dataset = DATASETS.build(dataset, key="dataset") if isinstance(dataset, Mapping) else dataset
        self.times = times
        self._ori_len = len(self.dataset)
        self.CLASSES = self.dataset.CLASSES
        self.PALETTE = self.dataset.PALETTE

    @property
    def ignore_index(self) -> int:
        return self.dataset.ignore_index

    @property
    def reduce_zero_label(self) -> bool:
        return self.dataset.reduce_zero_label

    def __getitem__(self, idx: int) -> Any:
        return self.dataset[idx % self._ori_len]

    def __len__(self) -> int:
        return self.times * self._ori_len


def unwrap_repeats(dataset: Any) -> Any:
    """The dataset a ``RepeatDataset`` (or a chain of them) repeats; any other dataset as is."""
    while isinstance(dataset, RepeatDataset):
        dataset = dataset.dataset
    return dataset
