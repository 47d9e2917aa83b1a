"""Data transforms (registry ``TRANSFORMS``), MMSegmentation 0.x names, keys and semantics.

Importing this package registers every transform.
"""
from seglab.data.transforms.compose import Compose, build_transforms
from seglab.data.transforms.formatting import Collect, DefaultFormatBundle, ImageToTensor
from seglab.data.transforms.geometric import Pad, RandomCrop, RandomFlip, Resize
from seglab.data.transforms.loading import LoadAnnotations, LoadImageFromFile
from seglab.data.transforms.photometric import Normalize, PhotoMetricDistortion
from seglab.data.transforms.test_time import MultiScaleFlipAug

__all__ = [
    "Collect", "Compose", "DefaultFormatBundle", "ImageToTensor", "LoadAnnotations", "LoadImageFromFile",
    "MultiScaleFlipAug", "Normalize", "Pad", "PhotoMetricDistortion", "RandomCrop", "RandomFlip", "Resize",
    "build_transforms",
]
