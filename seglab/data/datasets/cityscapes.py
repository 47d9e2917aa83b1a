"""Cityscapes (19 train-id classes): ``*_leftImg8bit.png`` images, ``*_gtFine_labelTrainIds.png`` labels.

The train-id label files are made from ``*_gtFine_labelIds.png`` by ``tools/convert_cityscapes.py``.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from seglab.data.datasets.custom import CustomDataset
from seglab.registry import DATASETS


@DATASETS.register
class CityscapesDataset(CustomDataset):
    """Cityscapes, ``leftImg8bit/<split>/<city>/*`` and ``gtFine/<split>/<city>/*``.

    Args: as ``CustomDataset`` (every argument is passed on); only the defaults differ.
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

    def __init__(self, pipeline: Sequence[Mapping], img_dir: str, img_suffix: str = "_leftImg8bit.png",
                 ann_dir: str | None = None, seg_map_suffix: str = "_gtFine_labelTrainIds.png",
                 split: str | None = None,
                 data_root: str | None = None, test_mode: bool = False, ignore_index: int = 255,
                 reduce_zero_label: bool = False, classes: Sequence[str] | str | None = None,
                 palette: Sequence[Sequence[int]] | str | None = None,
                 gt_seg_map_loader_cfg: Mapping[str, Any] | None = None,
                 file_client_args: Mapping[str, Any] | None = None) -> None:
        super().__init__(
            pipeline=pipeline, img_dir=img_dir, img_suffix=img_suffix, ann_dir=ann_dir,
            seg_map_suffix=seg_map_suffix, split=split, data_root=data_root, test_mode=test_mode,
            ignore_index=ignore_index, reduce_zero_label=reduce_zero_label, classes=classes, palette=palette,
            gt_seg_map_loader_cfg=gt_seg_map_loader_cfg, file_client_args=file_client_args)
