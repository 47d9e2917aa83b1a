"""Cityscapes (19 train-id classes): ``*_leftImg8bit.png`` images, ``*_gtFine_labelTrainIds.png`` labels.

The train-id label files are made from ``*_gtFine_labelIds.png`` by ``tools/convert_cityscapes.py``.
"""
from __future__ import annotations

from typing import Any

from seglab.data.datasets.custom import CustomDataset
from seglab.registry import DATASETS


@DATASETS.register
class CityscapesDataset(CustomDataset):
    """Cityscapes, ``leftImg8bit/<split>/<city>/*`` and ``gtFine/<split>/<city>/*``.

    Args: those of ``CustomDataset``; only the defaults named here differ.
    """
    CLASSES = (
        "road", "sidewalk", "building", "wall",
        "fence", "pole", "traffic light", "traffic sign",
        "vegetation", "terrain", "sky", "person",
        "rider", "car", "truck", "bus",
        "train", "motorcycle", "bicycle",
    )
    PALETTE = [
        [128, 64, 128], [244, 35, 232], [70, 70, 70], [102, 102, 156],
        [190, 153, 153], [153, 153, 153], [250, 170, 30], [220, 220, 0],
        [107, 142, 35], [152, 251, 152], [70, 130, 180], [220, 20, 60],
        [255, 0, 0], [0, 0, 142], [0, 0, 70], [0, 60, 100],
        [0, 80, 100], [0, 0, 230], [119, 11, 32],
    ]

    def __init__(self, *, img_suffix: str = "_leftImg8bit.png", seg_map_suffix: str = "_gtFine_labelTrainIds.png",
                 **kwargs: Any) -> None:
        super().__init__(img_suffix=img_suffix, seg_map_suffix=seg_map_suffix, **kwargs)
