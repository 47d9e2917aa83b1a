"""CascadeEncoderDecoder with BaseCascadeDecodeHead stages: 0.x's training and test order."""
from __future__ import annotations

import pytest
import torch
from torch import nn

from seglab.errors import ConfigError
from seglab.models.heads import BaseCascadeDecodeHead, BaseDecodeHead
from seglab.models.layers import ConvModule, resize
from seglab.registry import MODELS

BACKBONE = dict(type="UNet", in_channels=3, base_channels=4, num_stages=2, strides=(1, 1), enc_num_convs=(1, 1),
                dec_num_convs=(1,), downsamples=(True,), enc_dilations=(1, 1), dec_dilations=(1,))


class RefineHead(BaseCascadeDecodeHead):
    """Concatenates the features with the previous stage's logits, like 0.x's OCR/point heads do."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.fuse = ConvModule(self.in_channels + self.num_classes, self.channels, 3, padding=1,
                               norm_cfg=self.norm_cfg, act_cfg=self.act_cfg)
        self.calls = []

    def forward(self, inputs, prev_output):
        self.calls.append(prev_output)
        x = self._transform_inputs(inputs)
        prev = resize(prev_output, x.shape[2:], mode="bilinear", align_corners=self.align_corners)
        return self.cls_seg(self.fuse(torch.cat([x, prev], dim=1)))


def model_cfg(num_stages=3, **extra):
    first = dict(type="FCNHead", in_channels=4, channels=4, num_convs=1, num_classes=3, dropout_ratio=0.0)
    stage = dict(type=RefineHead, in_channels=4, channels=4, num_classes=3, dropout_ratio=0.0,
                 norm_cfg=dict(type="BN"))
    return dict(type="CascadeEncoderDecoder", num_stages=num_stages, backbone=BACKBONE,
                decode_head=[first] + [stage] * (num_stages - 1), **extra)


def batch():
    torch.manual_seed(1)
    img = torch.randn(2, 3, 8, 8)
    metas = [dict(ori_shape=(8, 8, 3), img_shape=(8, 8, 3), pad_shape=(8, 8, 3), flip=False)] * 2
    return img, metas, torch.randint(0, 3, (2, 1, 8, 8))


def test_stages_and_state_dict_names():
    torch.manual_seed(0)
    model = MODELS.build(model_cfg(), key="model")
    assert isinstance(model.decode_head, nn.ModuleList) and len(model.decode_head) == 3
    assert isinstance(model.decode_head[1], BaseCascadeDecodeHead) and isinstance(model.decode_head[0], BaseDecodeHead)
    assert "decode_head.0.conv_seg.weight" in model.state_dict()
    assert "decode_head.2.fuse.conv.weight" in model.state_dict()
    assert (model.num_classes, model.out_channels) == (3, 3)


def test_training_losses_per_stage_each_refining_the_previous_test_output():
    torch.manual_seed(0)
    model = MODELS.build(model_cfg(), key="model").eval()  # eval: BN statistics stay put between the calls
    img, metas, gt = batch()
    losses = model.forward_train(img, metas, gt)
    assert sorted(losses) == ["decode_0.acc_seg", "decode_0.loss_ce", "decode_1.acc_seg", "decode_1.loss_ce",
                              "decode_2.acc_seg", "decode_2.loss_ce"]
    x = model.extract_feat(img)
    stage0 = model.decode_head[0](x)
    assert torch.allclose(losses["decode_0.loss_ce"], model.decode_head[0].losses(stage0, gt)["loss_ce"])
    # stage 1 trains on stage 0's output; then runs again in test mode to give stage 2 its input
    assert all(torch.allclose(prev, stage0) for prev in model.decode_head[1].calls)
    stage1 = model.decode_head[1](x, stage0)
    assert torch.allclose(model.decode_head[2].calls[0], stage1)
    stage2 = model.decode_head[2](x, stage1)
    assert torch.allclose(losses["decode_2.loss_ce"], model.decode_head[2].losses(stage2, gt)["loss_ce"])
    sum(v for k, v in losses.items() if "loss" in k).backward()
    assert all(p.grad is not None for p in model.decode_head.parameters())


def test_inference_chains_every_stage():
    torch.manual_seed(0)
    model = MODELS.build(model_cfg(num_stages=2), key="model").eval()
    img, metas, _ = batch()
    with torch.no_grad():
        x = model.extract_feat(img)
        expected = model.decode_head[1](x, model.decode_head[0](x))
        logits = model.encode_decode(img, metas)
        preds = model.simple_test(img, metas)
    assert torch.allclose(logits, resize(expected, (8, 8), mode="bilinear"))
    assert len(preds) == 2 and preds[0].shape == (8, 8)


def test_trains_with_train_step():
    torch.manual_seed(0)
    model = MODELS.build(model_cfg(num_stages=2), key="model")
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    img, metas, gt = batch()
    first = None
    for _ in range(8):
        out = model.train_step(dict(img=img, img_metas=metas, gt_semantic_seg=gt), optimizer)
        optimizer.zero_grad()
        out["loss"].backward()
        optimizer.step()
        first = first or out["log_vars"]["loss"]
    assert out["log_vars"]["loss"] < first


@pytest.mark.parametrize("decode_head, message", [
    ("one", "must be a list of num_stages=3 head configs"),
    ([dict(type="FCNHead")], "got 1 configs"),
])
def test_decode_head_must_list_num_stages_configs(decode_head, message):
    cfg = model_cfg()
    cfg["decode_head"] = decode_head if decode_head != "one" else cfg["decode_head"][0]
    with pytest.raises(ConfigError, match=message):
        MODELS.build(cfg, key="model")


def test_cascade_head_must_implement_forward():
    head = BaseCascadeDecodeHead(in_channels=4, channels=4, num_classes=2)
    with pytest.raises(NotImplementedError, match="forward\\(inputs, prev_output\\)"):
        head([torch.zeros(1, 4, 2, 2)], torch.zeros(1, 2, 2, 2))
