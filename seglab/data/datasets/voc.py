"""PASCAL VOC 2012 segmentation: 21 classes (0 background); ``*.jpg`` images, ``*.png`` palette labels.

Images are chosen by a split file (``ImageSets/Segmentation/train.txt``); label borders are 255.
"""
from __future__ import annotations

from typing import Any

from seglab.data.datasets.custom import CustomDataset
from seglab.registry import config_error
from seglab.registry import DATASETS


@DATASETS.register
class PascalVOCDataset(CustomDataset):
    """PASCAL VOC, ``JPEGImages`` and ``SegmentationClass`` with a required ``split`` file.

    Args: those of ``CustomDataset``; only the defaults named here differ.
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

    def __init__(self, *, split: str | None = None, **kwargs: Any) -> None:
        if split is None:
            raise config_error("PascalVOCDataset needs split=..., a file of image names such as "
                               "'ImageSets/Segmentation/train.txt'")
        super().__init__(split=split, **kwargs)
