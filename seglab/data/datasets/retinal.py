"""Retinal-vessel datasets (classes background, vessel; labels 0/1): DRIVE, CHASE_DB1, STARE.

Folders as MMSegmentation's converters lay them out, e.g. ``images/training/21.png`` and
``annotations/training/21_manual1.png`` for DRIVE (``tools/convert_drive.py``).
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from seglab.data.datasets.custom import CustomDataset
from seglab.registry import DATASETS


@DATASETS.register
class DRIVEDataset(CustomDataset):
    """DRIVE: ``NN.png`` images, ``NN_manual1.png`` labels.

    Args: as ``CustomDataset`` (every argument is passed on); only the defaults differ.
    """
    CLASSES = ("background", "vessel")
    PALETTE = [[120, 120, 120], [6, 230, 230]]

    def __init__(self, pipeline: Sequence[Mapping], img_dir: str, img_suffix: str = ".png",
                 ann_dir: str | None = None, seg_map_suffix: str = "_manual1.png", split: str | None = None,
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


@DATASETS.register
class ChaseDB1Dataset(CustomDataset):
    """CHASE_DB1: ``*.png`` images, ``*_1stHO.png`` labels.

    Args: as ``CustomDataset`` (every argument is passed on); only the defaults differ.
    """
    CLASSES = ("background", "vessel")
    PALETTE = [[120, 120, 120], [6, 230, 230]]

    def __init__(self, pipeline: Sequence[Mapping], img_dir: str, img_suffix: str = ".png",
                 ann_dir: str | None = None, seg_map_suffix: str = "_1stHO.png", split: str | None = None,
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


@DATASETS.register
class STAREDataset(CustomDataset):
    """STARE: ``*.png`` images, ``*.ah.png`` labels.

    Args: as ``CustomDataset`` (every argument is passed on); only the defaults differ.
    """
    CLASSES = ("background", "vessel")
    PALETTE = [[120, 120, 120], [6, 230, 230]]

    def __init__(self, pipeline: Sequence[Mapping], img_dir: str, img_suffix: str = ".png",
                 ann_dir: str | None = None, seg_map_suffix: str = ".ah.png", split: str | None = None,
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
