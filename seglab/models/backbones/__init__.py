"""Backbones; importing this package registers ``ResNet``, ``ResNetV1c``, ``ResNetV1d``, ``UNet``,
``MixVisionTransformer`` and ``SwinTransformer`` in ``MODELS`` and ``InterpConv``, ``DeconvModule`` in
``UPSAMPLE_LAYERS``."""
from seglab.models.backbones.mit import MIT_SETTINGS, MixVisionTransformer, mit_key_map
from seglab.models.backbones.resnet import BasicBlock, Bottleneck, ResNet, ResNetV1c, ResNetV1d, resnet_key_map
from seglab.models.backbones.swin import SWIN_SETTINGS, SwinTransformer, swin_key_map
from seglab.models.backbones.unet import (BasicConvBlock, DeconvModule, InterpConv, UNet, UpConvBlock, Upsample,
                                          unet_key_map)

__all__ = ["MIT_SETTINGS", "SWIN_SETTINGS", "BasicBlock", "BasicConvBlock", "Bottleneck", "DeconvModule",
           "InterpConv", "MixVisionTransformer", "ResNet", "ResNetV1c", "ResNetV1d", "SwinTransformer", "UNet",
           "UpConvBlock", "Upsample", "mit_key_map", "resnet_key_map", "swin_key_map", "unet_key_map"]
