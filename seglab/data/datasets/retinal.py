"""Retinal-vessel datasets (classes background, vessel; labels 0/1): DRIVE, CHASE_DB1, STARE.

Folders as MMSegmentation's converters lay them out, e.g. ``images/training/21.png`` and
``annotations/training/21_manual1.png`` for DRIVE (``tools/convert_drive.py``).
"""
from __future__ import annotations

from typing import Any

from seglab.data.datasets.custom import CustomDataset
from seglab.registry import DATASETS


class _RetinalVessels(CustomDataset):
    CLASSES = ("background", "vessel")
    PALETTE = [[120, 120, 120], [6, 230, 230]]


@DATASETS.register
class DRIVEDataset(_RetinalVessels):
    """DRIVE: ``NN.png`` images, ``NN_manual1.png`` labels.

    Args: those of ``CustomDataset``; only the defaults named here differ.
    """

    def __init__(self, *, img_suffix: str = ".png", seg_map_suffix: str = "_manual1.png", **kwargs: Any) -> None:
        super().__init__(img_suffix=img_suffix, seg_map_suffix=seg_map_suffix, **kwargs)


@DATASETS.register
class ChaseDB1Dataset(_RetinalVessels):
    """CHASE_DB1: ``*.png`` images, ``*_1stHO.png`` labels.

    Args: those of ``CustomDataset``; only the defaults named here differ.
    """

    def __init__(self, *, img_suffix: str = ".png", seg_map_suffix: str = "_1stHO.png", **kwargs: Any) -> None:
        super().__init__(img_suffix=img_suffix, seg_map_suffix=seg_map_suffix, **kwargs)


@DATASETS.register
class STAREDataset(_RetinalVessels):
    """STARE: ``*.png`` images, ``*.ah.png`` labels.

    Args: those of ``CustomDataset``; only the defaults named here differ.
    """

    def __init__(self, *, img_suffix: str = ".png", seg_map_suffix: str = ".ah.png", **kwargs: Any) -> None:
        super().__init__(img_suffix=img_suffix, seg_map_suffix=seg_map_suffix, **kwargs)
