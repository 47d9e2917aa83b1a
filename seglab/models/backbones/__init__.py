"""Backbones; importing this package registers ``ResNet``, ``ResNetV1c``, ``ResNetV1d``, ``UNet`` in
``MODELS`` and ``InterpConv``, ``DeconvModule`` in ``UPSAMPLE_LAYERS``."""
from seglab.models.backbones.resnet import BasicBlock, Bottleneck, ResNet, ResNetV1c, ResNetV1d, resnet_key_map
from seglab.models.backbones.unet import (BasicConvBlock, DeconvModule, InterpConv, UNet, UpConvBlock, Upsample,
                                          unet_key_map)

__all__ = ["BasicBlock", "BasicConvBlock", "Bottleneck", "DeconvModule", "InterpConv", "ResNet", "ResNetV1c",
           "ResNetV1d", "UNet", "UpConvBlock", "Upsample", "resnet_key_map", "unet_key_map"]
