"""The fixed-layout dataset types, RepeatDataset, and the real DRIVE data through the reference pipelines."""
from __future__ import annotations

import inspect

import numpy as np
import pytest

from seglab.data import build_dataset
from seglab.data.datasets import (ADE20KDataset, ChaseDB1Dataset, CityscapesDataset, CustomDataset,
                                  DRIVEDataset, PascalVOCDataset, RepeatDataset, STAREDataset)
from seglab.errors import ConfigError
from seglab.registry import accepted_arguments

VARIANTS = {
    CityscapesDataset: ("_leftImg8bit.png", "_gtFine_labelTrainIds.png", 19, False),
    DRIVEDataset: (".png", "_manual1.png", 2, False),
    ChaseDB1Dataset: (".png", "_1stHO.png", 2, False),
    STAREDataset: (".png", ".ah.png", 2, False),
    ADE20KDataset: (".jpg", ".png", 150, True),
    PascalVOCDataset: (".jpg", ".png", 21, False),
}


@pytest.mark.parametrize("cls", list(VARIANTS))
def test_variants_take_the_custom_arguments_with_their_defaults(cls):
    img_suffix, seg_suffix, n, reduce = VARIANTS[cls]
    names, required, open_ended = accepted_arguments(cls)
    custom_names, custom_required, _ = accepted_arguments(CustomDataset)
    assert sorted(names) == sorted(custom_names) and not open_ended
    assert sorted(required) == sorted(custom_required)
    defaults = {}
    for klass in reversed(cls.__mro__):
        if "__init__" in vars(klass):
            defaults.update({k: p.default for k, p in inspect.signature(klass.__init__).parameters.items()
                             if p.default is not p.empty})
    assert defaults["img_suffix"] == img_suffix and defaults["seg_map_suffix"] == seg_suffix
    assert defaults["reduce_zero_label"] is reduce
    assert len(cls.CLASSES) == len(cls.PALETTE) == n == len(set(cls.CLASSES))
    assert all(len(c) == 3 and all(0 <= v <= 255 for v in c) for c in cls.PALETTE)


def test_a_misspelled_key_of_a_variant_names_the_custom_argument():
    with pytest.raises(ConfigError, match=r"DRIVEDataset does not take the key 'ann_dri'.*Did you mean 'ann_dir'"):
        build_dataset({"type": "DRIVEDataset", "pipeline": [], "img_dir": "x", "ann_dri": "y"})


def test_known_class_tables():
    assert CityscapesDataset.CLASSES[0] == "road" and CityscapesDataset.CLASSES[-1] == "bicycle"
    assert CityscapesDataset.PALETTE[0] == [128, 64, 128]
    assert DRIVEDataset.CLASSES == ("background", "vessel")
    assert ADE20KDataset.CLASSES[:3] == ("wall", "building", "sky") and ADE20KDataset.CLASSES[-1] == "flag"
    assert PascalVOCDataset.CLASSES[15] == "person" and PascalVOCDataset.PALETTE[15] == [192, 128, 128]


def test_cityscapes_layout(tmp_path, helpers):
    label = np.array([[0, 18], [255, 5]], dtype=np.uint8)
    helpers.write_pair(tmp_path, "aachen/aachen_000000_000019", label, img_suffix="_leftImg8bit.png",
                       seg_suffix="_gtFine_labelTrainIds.png")
    ds = build_dataset(dict(type="CityscapesDataset", data_root=str(tmp_path), img_dir="img_dir",
                            ann_dir="ann_dir", pipeline=[]))
    assert ds.img_infos == [{"filename": "aachen/aachen_000000_000019_leftImg8bit.png",
                             "ann": {"seg_map": "aachen/aachen_000000_000019_gtFine_labelTrainIds.png"}}]
    np.testing.assert_array_equal(ds.get_gt_seg_map_by_idx(0), label)


def test_ade_reduces_zero_label_for_metrics(tmp_path, helpers):
    helpers.write_pair(tmp_path, "ADE_val_1", np.array([[0, 1, 150]], dtype=np.uint8),
                       img_suffix=".jpg", seg_suffix=".png")
    ds = build_dataset(dict(type="ADE20KDataset", data_root=str(tmp_path), img_dir="img_dir",
                            ann_dir="ann_dir", pipeline=[]))
    assert ds.reduce_zero_label is True
    np.testing.assert_array_equal(ds.get_gt_seg_map_by_idx(0), [[255, 0, 149]])


def test_repeat_dataset_length_indexing_and_defaults(tiny_tree, helpers):
    cfg = dict(type="RepeatDataset", times=4, dataset=helpers.tiny_cfg(tiny_tree, pipeline=[]))
    ds = build_dataset(cfg)
    assert isinstance(ds, RepeatDataset) and len(ds) == 12
    assert ds[7] == ds.dataset[1] and ds[7]["img_info"]["filename"] == "b.png"
    assert ds.CLASSES == ("bg", "fg") and ds.PALETTE == ds.dataset.PALETTE and ds.ignore_index == 255
    ds = build_dataset(cfg, default_args={"test_mode": True})  # defaults reach the wrapped dataset
    assert ds.dataset.test_mode is True
    with pytest.raises(ConfigError, match="times must be a positive integer"):
        build_dataset({**cfg, "times": 0})
    with pytest.raises(ConfigError, match=r"data\.train\.dataset: CustomDataset does not take the key 'imgdir'"):
        build_dataset({**cfg, "dataset": {**cfg["dataset"], "imgdir": "x"}}, key="data.train")


def test_drive_reference_train_pipeline_gives_64x64_crops(drive_root, helpers):
    cfg = dict(type="RepeatDataset", times=40000, dataset=dict(
        type="DRIVEDataset", data_root=str(drive_root), img_dir="images/training",
        ann_dir="annotations/training", pipeline=helpers.drive_train_pipeline()))
    ds = build_dataset(cfg, key="data.train")
    assert len(ds.dataset) == 20 and len(ds) == 800000
    assert [i["filename"] for i in ds.dataset.img_infos][:2] == ["21.png", "22.png"]
    assert ds.dataset.img_infos[0]["ann"]["seg_map"] == "21_manual1.png"
    np.random.seed(0)
    for idx in range(0, 40, 7):
        sample = ds[idx]
        assert sample["img"].shape == (3, 64, 64) and sample["img"].dtype.is_floating_point
        assert sample["gt_semantic_seg"].shape == (1, 64, 64)
        assert set(np.unique(sample["gt_semantic_seg"].numpy())) <= {0, 1, 255}
        meta = sample["img_metas"]
        assert meta["ori_shape"] == (584, 565, 3) and meta["pad_shape"] == (64, 64, 3)


def test_drive_validation_with_the_test_pipeline(drive_root, helpers):
    ds = build_dataset(dict(type="DRIVEDataset", data_root=str(drive_root), img_dir="images/validation",
                            ann_dir="annotations/validation", pipeline=helpers.test_pipeline()),
                       default_args={"test_mode": True})
    assert len(ds) == 20 and ds.img_infos[0]["filename"] == "01.png"
    sample = ds[0]
    assert sample["img"][0].shape == (3, 584, 565)  # (584, 565) scale keeps the image size
    gt = ds.get_gt_seg_map_by_idx(0)
    assert gt.shape == (584, 565) and set(np.unique(gt)) == {0, 1}
