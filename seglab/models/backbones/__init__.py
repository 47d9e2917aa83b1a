"""Backbones; importing this package registers ``ResNet``, ``ResNetV1c``, ``ResNetV1d`` in ``MODELS``."""
from seglab.models.backbones.resnet import BasicBlock, Bottleneck, ResNet, ResNetV1c, ResNetV1d, resnet_key_map

__all__ = ["BasicBlock", "Bottleneck", "ResNet", "ResNetV1c", "ResNetV1d", "resnet_key_map"]
