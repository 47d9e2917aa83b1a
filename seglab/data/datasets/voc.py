"""PASCAL VOC 2012 segmentation: 21 classes (0 background); ``*.jpg`` images, ``*.png`` palette labels.

Images are chosen by a split file (``ImageSets/Segmentation/train.txt``); label borders are 255.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from seglab.data.datasets.custom import CustomDataset
from seglab.data.transforms.compose import config_error
from seglab.registry import DATASETS


@DATASETS.register
class PascalVOCDataset(CustomDataset):
    """PASCAL VOC, ``JPEGImages`` and ``SegmentationClass`` with a required ``split`` file.

    Args: as ``CustomDataset`` (every argument is passed on); only the defaults differ.
    """
    CLASSES = (
        "background", "aeroplane", "bicycle", "bird", "boat", "bottle",
        "bus", "car", "cat", "chair", "cow", "diningtable",
        "dog", "horse", "motorbike", "person", "pottedplant", "sheep",
        "sofa", "train", "tvmonitor",
    )
    PALETTE = [
        [0, 0, 0], [128, 0, 0], [0, 128, 0], [128, 128, 0], [0, 0, 128], [128, 0, 128], [0, 128, 128],
        [128, 128, 128], [64, 0, 0], [192, 0, 0], [64, 128, 0], [192, 128, 0], [64, 0, 128], [192, 0, 128],
        [64, 128, 128], [192, 128, 128], [0, 64, 0], [128, 64, 0], [0, 192, 0], [128, 192, 0], [0, 64, 128],
    ]

    def __init__(self, pipeline: Sequence[Mapping], img_dir: str, img_suffix: str = ".jpg",
                 ann_dir: str | None = None, seg_map_suffix: str = ".png", split: str | None = None,
                 data_root: str | None = None, test_mode: bool = False, ignore_index: int = 255,
                 reduce_zero_label: bool = False, classes: Sequence[str] | str | None = None,
                 palette: Sequence[Sequence[int]] | str | None = None,
                 gt_seg_map_loader_cfg: Mapping[str, Any] | None = None,
                 file_client_args: Mapping[str, Any] | None = None) -> None:
        if split is None:
            raise config_error("PascalVOCDataset needs split=..., a file of image names such as "
                               "'ImageSets/Segmentation/train.txt'")
        super().__init__(
            pipeline=pipeline, img_dir=img_dir, img_suffix=img_suffix, ann_dir=ann_dir,
            seg_map_suffix=seg_map_suffix, split=split, data_root=data_root, test_mode=test_mode,
            ignore_index=ignore_index, reduce_zero_label=reduce_zero_label, classes=classes, palette=palette,
            gt_seg_map_loader_cfg=gt_seg_map_loader_cfg, file_client_args=file_client_args)
