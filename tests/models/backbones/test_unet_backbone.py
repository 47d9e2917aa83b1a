"""UNet: MMSegmentation 0.x names and shapes, decoder outputs, upsample layers, input-size check,
norm_eval, checkpointing and pretrained loading."""
from __future__ import annotations

import re
from pathlib import Path

import pytest
import torch
from torch import nn

from seglab.errors import ConfigError
from seglab.models.backbones.unet import DeconvModule, InterpConv, UNet
from seglab.registry import MODELS, UPSAMPLE_LAYERS

FCN_UNET = dict(type="UNet", in_channels=3, base_channels=64, num_stages=5, strides=(1, 1, 1, 1, 1),
                enc_num_convs=(2, 2, 2, 2, 2), dec_num_convs=(2, 2, 2, 2), downsamples=(True, True, True, True),
                enc_dilations=(1, 1, 1, 1, 1), dec_dilations=(1, 1, 1, 1), with_cp=False, conv_cfg=None,
                norm_cfg=dict(type="BN", requires_grad=True), act_cfg=dict(type="ReLU"),
                upsample_cfg=dict(type="InterpConv"), norm_eval=False)


def backbone_entries(path: Path) -> dict[str, tuple[int, ...]]:
    entries = {}
    for line in path.read_text().splitlines()[1:]:
        name, shape = line.split(" ", 1)
        if name.startswith("backbone."):
            entries[name[len("backbone."):]] = tuple(int(d) for d in re.findall(r"\d+", shape))
    return entries


def test_fcn_unet_names_and_shapes_equal_mmsegmentation(fixtures_dir):
    expected = backbone_entries(fixtures_dir / "state_dict_keys" / "fcn_unet_s5-d16.txt")
    with torch.device("meta"):
        model = MODELS.build(FCN_UNET, key="backbone")
    got = {name: tuple(t.shape) for name, t in model.state_dict().items()}
    assert sorted(got) == sorted(expected)
    assert got == expected


def small(**kwargs) -> UNet:
    torch.manual_seed(0)
    return MODELS.build({**FCN_UNET, "base_channels": 4, **kwargs}, key="backbone")


def test_outputs_are_decoder_maps_coarsest_first():
    outs = small()(torch.randn(2, 3, 64, 64))
    assert isinstance(outs, tuple)
    assert [tuple(o.shape) for o in outs] == [(2, 64, 4, 4), (2, 32, 8, 8), (2, 16, 16, 16), (2, 8, 32, 32),
                                              (2, 4, 64, 64)]


def test_deconv_upsampling_has_0x_names_and_same_shapes():
    model = small(upsample_cfg=dict(type="DeconvModule", kernel_size=4, scale_factor=2))
    names = model.state_dict()
    assert tuple(names["decoder.0.upsample.deconv_upsamping.0.weight"].shape) == (8, 4, 4, 4)
    assert "decoder.0.upsample.deconv_upsamping.1.running_var" in names
    assert [o.shape[-1] for o in model(torch.randn(1, 3, 32, 32))] == [2, 4, 8, 16, 32]


def test_stages_without_downsampling_use_a_1x1_conv_instead_of_upsampling():
    model = small(downsamples=(True, True, False, False))
    assert len(model.encoder[3]) == 1  # no MaxPool opens stage 3
    assert tuple(model.state_dict()["decoder.3.upsample.conv.weight"].shape) == (32, 64, 1, 1)
    outs = model(torch.randn(1, 3, 12, 12))  # total downsampling 4
    assert [tuple(o.shape[1:]) for o in outs] == [(64, 3, 3), (32, 3, 3), (16, 3, 3), (8, 6, 6), (4, 12, 12)]


def test_strided_stage_downsamples_with_its_first_conv():
    model = small(strides=(1, 2, 1, 1, 1), downsamples=(False, True, True, True))
    assert model.encoder[1][0].convs[0].conv.stride == (2, 2)  # no MaxPool in stage 1
    assert [o.shape[-1] for o in model(torch.randn(1, 3, 32, 32))] == [2, 4, 8, 16, 32]


@pytest.mark.parametrize("size", [(60, 64), (64, 40)])
def test_input_not_divisible_by_the_total_downsampling_is_rejected(size):
    with pytest.raises(ConfigError, match=re.escape(f"input size {size} is not divisible by 16")
                       + ".*multiples of 16"):
        small()(torch.randn(1, 3, *size))


def test_norm_eval_and_with_cp():
    model = small(norm_eval=True).train()
    assert all(not m.training for m in model.modules() if isinstance(m, nn.BatchNorm2d))
    before = model.encoder[2][1].convs[0].bn.running_mean.clone()
    model(torch.randn(2, 3, 16, 16))
    assert torch.equal(model.encoder[2][1].convs[0].bn.running_mean, before)

    plain, checkpointed = small(), small(with_cp=True)
    checkpointed.load_state_dict(plain.state_dict())
    x = torch.randn(2, 3, 32, 32, requires_grad=True)
    outs_a, outs_b = plain(x), checkpointed(x)
    assert all(torch.allclose(a, b, atol=1e-5) for a, b in zip(outs_a, outs_b))
    grad_a, = torch.autograd.grad(outs_a[-1].square().sum(), x)
    grad_b, = torch.autograd.grad(outs_b[-1].square().sum(), x)
    assert torch.allclose(grad_a, grad_b, atol=1e-5)


def test_upsample_layers_are_registered_and_interp_conv_order():
    assert UPSAMPLE_LAYERS.get("InterpConv") is InterpConv and UPSAMPLE_LAYERS.get("DeconvModule") is DeconvModule
    up = InterpConv(4, 2, upsample_cfg=dict(scale_factor=2, mode="nearest"))
    assert isinstance(up.interp_upsample[1].conv, nn.Conv2d)
    assert up(torch.randn(1, 4, 3, 5)).shape == (1, 2, 6, 10)
    conv_first = InterpConv(4, 2, conv_first=True)
    assert isinstance(conv_first.interp_upsample[0].conv, nn.Conv2d)


@pytest.mark.parametrize("cfg, message", [
    (dict(dec_num_convs=(2, 2, 2)), r"dec_num_convs=\(2, 2, 2\) needs 4 entries"),
    (dict(strides=(1, 1, 1, 1)), "strides=.* needs 5 entries"),
    (dict(dcn=dict(type="DCN")), "dcn=.* is not supported"),
    (dict(upsample_cfg=dict(type="DeconvModule", kernel_size=3)), "kernel_size - scale_factor must be even"),
    (dict(upsample_cfg=dict(type="InterpConv", upsample_cfg=dict(scale=2))), "does not take scale"),
    (dict(upsample_cfg=dict(type="Bilinear")), "backbone.upsample_cfg.type: unknown upsample layer"),
    (dict(init_cfg=dict(type="Pretrained")), "takes checkpoint"),
])
def test_config_errors(cfg, message):
    with pytest.raises(ConfigError, match=message):
        small(**cfg)


def test_pretrained_segmentor_checkpoint_loads_in_init_weights(tmp_path):
    source = small()
    with torch.no_grad():
        for p in source.parameters():
            p.uniform_()
    torch.save({"state_dict": {f"backbone.{k}": v for k, v in source.state_dict().items()}},
               tmp_path / "unet.pth")
    model = small(pretrained=str(tmp_path / "unet.pth"))
    assert not torch.equal(model.encoder[0][0].convs[0].conv.weight, source.encoder[0][0].convs[0].conv.weight)
    model.init_weights()
    assert all(torch.equal(v, source.state_dict()[k]) for k, v in model.state_dict().items())
