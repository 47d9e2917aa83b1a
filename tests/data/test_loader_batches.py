"""build_dataloader / collate: the training and test batch formats, seeding with and without workers."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from torch.utils.data import DistributedSampler

from seglab.data import build_dataloader, build_dataset, collate, write_synthetic_dataset
from seglab.errors import ConfigError


@pytest.fixture(scope="module")
def synthetic_root(tmp_path_factory):
    return write_synthetic_dataset(tmp_path_factory.mktemp("syn"), num_train=6, num_val=2, size=(40, 48))


def _train_set(root, helpers):
    return build_dataset(dict(type="CustomDataset", data_root=str(root), img_dir="img_dir/train",
                              ann_dir="ann_dir/train", img_suffix=".png", seg_map_suffix=".png",
                              classes=("background", "foreground"),
                              pipeline=helpers.drive_train_pipeline(crop=(16, 16), img_scale=(48, 40))))


def _val_set(root, helpers):
    return build_dataset(dict(type="CustomDataset", data_root=str(root), img_dir="img_dir/val",
                              ann_dir="ann_dir/val", img_suffix=".png", seg_map_suffix=".png",
                              classes=("background", "foreground"),
                              pipeline=helpers.test_pipeline(img_scale=(48, 40), img_ratios=[0.5, 1.0])),
                         default_args={"test_mode": True})


@pytest.mark.parametrize("workers", [0, 2])
def test_training_batch_format(synthetic_root, helpers, workers):
    loader = build_dataloader(_train_set(synthetic_root, helpers), samples_per_gpu=4, workers_per_gpu=workers,
                              seed=0, persistent_workers=False)
    batch = next(iter(loader))
    assert set(batch) == {"img", "gt_semantic_seg", "img_metas"}
    assert batch["img"].dtype == torch.float32 and batch["img"].shape == (4, 3, 16, 16)
    assert batch["gt_semantic_seg"].dtype == torch.int64 and batch["gt_semantic_seg"].shape == (4, 1, 16, 16)
    assert isinstance(batch["img_metas"], list) and len(batch["img_metas"]) == 4
    assert all(isinstance(m, dict) and m["pad_shape"] == (16, 16, 3) for m in batch["img_metas"])
    assert set(np.unique(batch["gt_semantic_seg"].numpy())) <= {0, 1, 255}
    assert len(loader) == 2  # 6 samples, batches of 4, last one kept


@pytest.mark.parametrize("workers", [0, 2])
def test_test_batch_format(synthetic_root, helpers, workers):
    loader = build_dataloader(_val_set(synthetic_root, helpers), 1, workers, shuffle=False, persistent_workers=False)
    sample = next(iter(loader))
    assert set(sample) == {"img", "img_metas"}
    assert [tuple(t.shape) for t in sample["img"]] == [(1, 3, 20, 24), (1, 3, 40, 48)]
    assert len(sample["img_metas"]) == 2 and all(len(m) == 1 and isinstance(m[0], dict) for m in sample["img_metas"])
    assert sample["img_metas"][0][0]["ori_shape"] == (40, 48, 3)


def _batches(loader, n=2):
    it = iter(loader)
    return [next(it) for _ in range(n)]


def _assert_same(a, b):
    for x, y in zip(a, b):
        assert torch.equal(x["img"], y["img"]) and torch.equal(x["gt_semantic_seg"], y["gt_semantic_seg"])
        assert [m["filename"] for m in x["img_metas"]] == [m["filename"] for m in y["img_metas"]]


def test_same_seed_same_batches_with_two_workers(synthetic_root, helpers):
    ds = _train_set(synthetic_root, helpers)
    first = _batches(build_dataloader(ds, 2, 2, seed=7, persistent_workers=False))
    again = _batches(build_dataloader(ds, 2, 2, seed=7, persistent_workers=False))
    _assert_same(first, again)
    other = _batches(build_dataloader(ds, 2, 2, seed=8, persistent_workers=False))
    assert not all(torch.equal(a["img"], b["img"]) for a, b in zip(first, other))


def test_same_seed_same_batches_without_workers(synthetic_root, helpers):
    ds = _train_set(synthetic_root, helpers)
    np.random.seed(3)  # without workers the pipeline draws from this process's RNG
    first = _batches(build_dataloader(ds, 2, 0, seed=7))
    np.random.seed(3)
    again = _batches(build_dataloader(ds, 2, 0, seed=7))
    _assert_same(first, again)


def test_collate_pads_different_sizes_with_ignore_for_labels():
    batch = collate([
        {"img": torch.ones(3, 2, 3), "gt_semantic_seg": torch.zeros(1, 2, 3, dtype=torch.int64), "img_metas": {"i": 0}},
        {"img": torch.ones(3, 4, 2), "gt_semantic_seg": torch.ones(1, 4, 2, dtype=torch.int64), "img_metas": {"i": 1}},
    ])
    assert batch["img"].shape == (2, 3, 4, 3) and batch["gt_semantic_seg"].shape == (2, 1, 4, 3)
    assert batch["img"][0, :, 2:].sum() == 0 and (batch["gt_semantic_seg"][0, :, 2:] == 255).all()
    assert (batch["gt_semantic_seg"][1, :, :, 2] == 255).all() and batch["img_metas"] == [{"i": 0}, {"i": 1}]


def test_distributed_sampler_and_argument_checks(synthetic_root, helpers):
    ds = _train_set(synthetic_root, helpers)
    loader = build_dataloader(ds, 2, 0, dist=True, seed=1)
    assert isinstance(loader.sampler, DistributedSampler) and loader.sampler.num_replicas == 1
    with pytest.raises(ConfigError, match="samples_per_gpu"):
        build_dataloader(ds, 0, 0)
    with pytest.raises(ConfigError, match="workers_per_gpu"):
        build_dataloader(ds, 1, -1)


class _Probe(torch.utils.data.Dataset):
    """Reports what a worker's first draw and OpenCV's thread count are."""

    def __len__(self):
        return 2

    def __getitem__(self, idx):
        import cv2

        info = torch.utils.data.get_worker_info()
        return {"worker": info.id if info else -1, "draw": int(np.random.randint(2**30)),
                "cv2_threads": cv2.getNumThreads()}


def test_worker_seeding_rule_and_single_threaded_opencv():
    loader = build_dataloader(_Probe(), 1, 2, shuffle=False, seed=100, persistent_workers=False)
    for batch in loader:
        worker = batch["worker"][0]
        # worker w of rank 0 is seeded with seed + 0 * num_workers + w
        assert batch["draw"][0] == np.random.RandomState(100 + worker).randint(2**30)
        assert batch["cv2_threads"][0] == 1
