"""Pixel samplers (``PIXEL_SAMPLERS``); importing this package registers them."""
from seglab.models.samplers.ohem import OHEMPixelSampler

__all__ = ["OHEMPixelSampler"]
