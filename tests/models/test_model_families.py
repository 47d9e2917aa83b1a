"""Each shipped model family builds from its config, trains one step and infers in both modes.

Small inputs keep this fast on CPU: 32x32 images, batch 2, ``pretrained=None``.
"""
from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest
import torch

from seglab.config import Config
from seglab.models.losses import parse_losses
from seglab.registry import MODELS

FAMILIES = {
    "pspnet_r50-d8": "pspnet/pspnet_r50-d8_512x1024_40k_cityscapes.py",
    "deeplabv3_r50-d8": "deeplabv3/deeplabv3_r50-d8_512x1024_40k_cityscapes.py",
    "deeplabv3plus_r50-d8": "deeplabv3plus/deeplabv3plus_r50-d8_512x1024_40k_cityscapes.py",
    "fcn_unet_s5-d16": "unet/fcn_unet_s5-d16_64x64_40k_drive.py",
    "segformer_mit-b0": "segformer/segformer_mit-b0_512x512_160k_ade20k.py",
    "upernet_r50": "upernet/upernet_r50_512x1024_40k_cityscapes.py",
    "upernet_swin-t": "swin/upernet_swin_tiny_patch4_window7_512x512_160k_ade20k_pretrain_224x224_1K.py",
}
# Slide inference on a 32x32 image: 3x3 overlapping windows of 16x16 (the last of each row
# moved back to the border); 16 is a multiple of the output stride of the CNN families (8 or 16); the
# transformers (stride 32) pad or round their coarsest maps. MiT's first spatial reduction (8x8 at
# stride 4) needs 32x32 pixels, so SegFormer runs at twice every size.
SLIDE_CFG = dict(mode="slide", crop_size=(16, 16), stride=(12, 12))
SCALE = {"segformer_mit-b0": 2}


def build(configs_dir: Path, family: str) -> torch.nn.Module:
    cfg = Config.fromfile(str(configs_dir / FAMILIES[family]))
    model_cfg = cfg.model
    model_cfg.pretrained = None
    model_cfg.backbone.pop("init_cfg", None)  # no pretrained transformer either
    torch.manual_seed(0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # SyncBN -> BN on CPU
        model = MODELS.build(model_cfg, key="model")
    model.init_weights()
    return model


def metas(n: int, img_shape: tuple[int, int], ori_shape: tuple[int, int] | None = None,
          pad_shape: tuple[int, int] = (32, 32)) -> list[dict]:
    ori_shape = ori_shape or img_shape
    return [dict(ori_shape=(*ori_shape, 3), img_shape=(*img_shape, 3), pad_shape=(*pad_shape, 3),
                 flip=False, flip_direction=None) for _ in range(n)]


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_family_trains_and_infers(family, configs_dir):
    model = build(configs_dir, family).train()
    num_classes = model.num_classes
    k = SCALE.get(family, 1)
    torch.manual_seed(1)
    img = torch.randn(2, 3, 32 * k, 32 * k)
    gt = torch.randint(0, num_classes, (2, 1, 32 * k, 32 * k))
    gt[:, :, :4] = 255  # some ignored pixels

    losses = model(img, metas(2, (32 * k, 32 * k), pad_shape=(32 * k, 32 * k)), gt)
    heads = ["decode", "aux"] if model.with_auxiliary_head else ["decode"]  # SegFormer has no auxiliary head
    assert {f"{h}.{k}" for h in heads for k in ("loss_ce", "acc_seg")} == set(losses)
    total, _ = parse_losses(losses)
    assert torch.isfinite(total)
    total.backward()
    grads = [p.grad for p in model.parameters() if p.requires_grad]
    assert all(g is not None for g in grads), "every trainable parameter gets a gradient"
    assert model.decode_head.conv_seg.weight.grad.abs().sum() > 0

    model.eval()
    one = img[:1]
    # A 24x20 image padded to 32x32, to be predicted at its original size 36x30.
    test_metas = metas(1, (24 * k, 20 * k), ori_shape=(36, 30), pad_shape=(32 * k, 32 * k))
    slide = dict(SLIDE_CFG, crop_size=(16 * k, 16 * k), stride=(12 * k, 12 * k))
    for test_cfg in (dict(mode="whole"), slide):
        model.test_cfg = test_cfg
        with torch.no_grad():
            probs = model.inference(one, test_metas, rescale=True)
            preds = model.forward([one], [test_metas], return_loss=False)
        assert probs.shape == (1, num_classes, 36, 30)
        assert torch.allclose(probs.sum(1), torch.ones(1, 36, 30), atol=1e-5)
        assert len(preds) == 1 and preds[0].shape == (36, 30) and preds[0].dtype == np.int64
        assert 0 <= preds[0].min() and preds[0].max() < num_classes
