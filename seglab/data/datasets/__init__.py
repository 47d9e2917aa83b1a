"""Datasets (registry ``DATASETS``) in MMSegmentation 0.x's layouts, and ``build_dataset``.

Importing this package registers every dataset type.
"""
from seglab.data.datasets.ade import ADE20KDataset
from seglab.data.datasets.builder import build_dataset
from seglab.data.datasets.cityscapes import CityscapesDataset
from seglab.data.datasets.custom import CustomDataset
from seglab.data.datasets.repeat import RepeatDataset
from seglab.data.datasets.retinal import ChaseDB1Dataset, DRIVEDataset, STAREDataset
from seglab.data.datasets.voc import PascalVOCDataset

__all__ = [
    "ADE20KDataset", "ChaseDB1Dataset", "CityscapesDataset", "CustomDataset", "DRIVEDataset", "PascalVOCDataset",
    "RepeatDataset", "STAREDataset", "build_dataset",
]
