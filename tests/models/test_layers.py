"""Layer resolvers and ConvModule: mmcv-compatible names, config errors, SyncBN fallback."""
import warnings

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from seglab.errors import ConfigError
from seglab.models import layers
from seglab.models.layers import (ConvModule, DepthwiseSeparableConvModule, build_activation_layer,
                                  build_norm_layer, is_norm)


def test_conv_module_names_and_auto_bias():
    m = ConvModule(3, 8, 3, padding=1, norm_cfg=dict(type="BN"))
    assert list(m.state_dict()) == ["conv.weight", "bn.weight", "bn.bias", "bn.running_mean",
                                    "bn.running_var", "bn.num_batches_tracked"]
    assert ConvModule(3, 8, 1, norm_cfg=None).conv.bias is not None
    assert m(torch.randn(2, 3, 5, 5)).shape == (2, 8, 5, 5)


def test_conv_module_applies_norm_and_relu():
    m = ConvModule(2, 2, 1, norm_cfg=dict(type="BN"), act_cfg=dict(type="ReLU")).eval()
    out = m(torch.randn(4, 2, 3, 3))
    assert (out >= 0).all()


def test_norm_names_follow_mmcv_and_requires_grad():
    name, layer = build_norm_layer(dict(type="GN", num_groups=2, requires_grad=False), 4, postfix=1)
    assert name == "gn1" and isinstance(layer, nn.GroupNorm)
    assert not any(p.requires_grad for p in layer.parameters())
    assert build_norm_layer("BN", 4)[0] == "bn"


def test_sync_bn_falls_back_to_batch_norm_with_one_warning(monkeypatch):
    monkeypatch.setattr(layers, "_SYNC_BN_WARNED", False)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        first = build_norm_layer(dict(type="SyncBN"), 4)[1]
        build_norm_layer(dict(type="SyncBN"), 4)
    assert type(first) is nn.BatchNorm2d
    assert sum("SyncBN" in str(w.message) for w in caught) == 1


def test_bad_layer_configs_name_the_key():
    with pytest.raises(ConfigError, match=r"norm_cfg.type: unknown norm layer type 'BNN'. Did you mean 'BN'"):
        build_norm_layer(dict(type="BNN"), 4)
    with pytest.raises(ConfigError, match=r"act_cfg: LeakyReLU does not take the key 'slope'"):
        build_activation_layer(dict(type="LeakyReLU", slope=0.1))


def test_depthwise_separable_names():
    m = DepthwiseSeparableConvModule(4, 6, 3, padding=1, norm_cfg=dict(type="BN"))
    assert m.depthwise_conv.conv.weight.shape == (4, 1, 3, 3)
    assert m.pointwise_conv.conv.weight.shape == (6, 4, 1, 1)
    assert is_norm(m.depthwise_conv.bn) and not is_norm(m.depthwise_conv.conv)


@pytest.mark.parametrize("shape", [(4, 2, 16, 16), (2, 19, 8, 8), (1, 150, 4, 4)])
def test_class_ids_equals_argmax_with_ties_and_nan(shape):
    from seglab.models.layers import class_ids

    torch.manual_seed(0)
    for dtype in (torch.float32, torch.bfloat16):
        logits = torch.randint(0, 3, shape).to(dtype)  # many ties: the first maximum must win
        logits[0, :, 0, 0] = float("nan")
        logits[0, 1, 1, 1] = float("nan")
        assert torch.equal(class_ids(logits), logits.argmax(dim=1))


# ---------------------------------------------------------------- mmcv ConvModule interface
def test_conv_module_exposes_mmcv_attributes():
    m = ConvModule(4, 8, 3, stride=2, padding=2, dilation=2, groups=2, norm_cfg=dict(type="GN", num_groups=2))
    assert (m.in_channels, m.out_channels, m.kernel_size, m.stride, m.padding, m.dilation, m.groups) == \
        (4, 8, (3, 3), (2, 2), (2, 2), (2, 2), 2)
    assert m.with_norm and m.norm_name == "gn" and m.norm is m.gn
    assert m.with_activation and isinstance(m.activate, nn.ReLU)
    assert not m.with_bias and m.conv.bias is None  # 'auto': no bias before a norm
    assert not m.with_explicit_padding
    plain = ConvModule(4, 8, 1, act_cfg=None, bias=True)
    assert not plain.with_norm and plain.norm_name is None and plain.norm is None
    assert not plain.with_activation and plain.with_bias
    assert ConvModule(4, 8, 1, norm_cfg=dict(type="BN"), bias=True).with_bias


def test_conv_module_forward_can_skip_norm_and_activation():
    torch.manual_seed(0)
    m = ConvModule(3, 4, 3, padding=1, norm_cfg=dict(type="BN"), act_cfg=dict(type="ReLU")).eval()
    with torch.no_grad():
        m.bn.running_mean.fill_(0.5)
    x = torch.randn(2, 3, 6, 6)
    conv = m.conv(x)
    assert torch.equal(m(x, activate=False, norm=False), conv)
    assert torch.equal(m(x, activate=False), m.bn(conv))
    assert torch.equal(m(x, norm=False), torch.relu(conv))
    assert torch.equal(m(x), torch.relu(m.bn(conv)))


@pytest.mark.parametrize("mode, pad", [("reflect", nn.ReflectionPad2d), ("replicate", nn.ReplicationPad2d)])
def test_conv_module_explicit_padding_like_mmcv(mode, pad):
    m = ConvModule(2, 3, 3, padding=1, padding_mode=mode, act_cfg=None)
    assert m.with_explicit_padding and isinstance(m.padding_layer, pad) and m.padding == (0, 0)
    x = torch.randn(1, 2, 5, 5)
    assert torch.allclose(m(x), F.conv2d(pad(1)(x), m.conv.weight, m.conv.bias))
    circular = ConvModule(2, 3, 3, padding=1, padding_mode="circular")
    assert not circular.with_explicit_padding and circular.conv.padding_mode == "circular"
    with pytest.raises(ConfigError, match="padding_mode"):
        ConvModule(2, 3, 3, padding_mode="mirror")


def test_conv_module_spectral_norm_keeps_mmcv_keys():
    m = ConvModule(2, 3, 3, with_spectral_norm=True, act_cfg=None)
    assert {"conv.weight_orig", "conv.weight_u", "conv.weight_v"} <= set(m.state_dict())
    assert m(torch.randn(1, 2, 4, 4)).shape == (1, 3, 2, 2)


def test_conv_module_init_weights_is_public_and_mmcv_s():
    m = ConvModule(16, 32, 3, norm_cfg=dict(type="BN"), act_cfg=dict(type="LeakyReLU", negative_slope=0.2))
    with torch.no_grad():
        m.conv.weight.zero_()
        m.bn.weight.fill_(3.0)
    torch.manual_seed(0)
    m.init_weights()
    torch.manual_seed(0)
    expected = nn.init.kaiming_normal_(torch.empty(32, 16, 3, 3), a=0.2, mode="fan_out", nonlinearity="leaky_relu")
    assert torch.equal(m.conv.weight, expected) and torch.equal(m.bn.weight, torch.ones(32))


# ---------------------------------------------------------------- resize (mmseg.ops.resize)
def test_resize_defaults_to_nearest_like_0x():
    x = torch.arange(4.0).reshape(1, 1, 2, 2)
    assert torch.equal(layers.resize(x, size=(4, 4)), F.interpolate(x, size=(4, 4), mode="nearest"))
    # align_corners is dropped where the mode cannot take it
    assert torch.equal(layers.resize(x, size=(4, 4), align_corners=False), layers.resize(x, size=(4, 4)))


def test_resize_warns_about_misaligned_corners_unless_told_not_to():
    x = torch.randn(1, 1, 5, 5)
    with pytest.warns(UserWarning, match=r"align_corners=True.*\(5, 5\).*\(8, 8\)"):
        layers.resize(x, size=(8, 8), mode="bilinear", align_corners=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        layers.resize(x, size=(8, 8), mode="bilinear", align_corners=True, warning=False)
        layers.resize(x, size=(9, 9), mode="bilinear", align_corners=True)  # 9 - 1 = 2 * (5 - 1): aligned
        layers.resize(x, size=(8, 8), mode="bilinear", align_corners=False)


# ------------------------------------------------------------------ transformer pieces
def test_drop_path_is_the_identity_in_eval_and_drops_whole_samples_in_training():
    from seglab.models.layers import DropPath

    layer = DropPath(0.5)
    x = torch.randn(64, 3, 5)
    assert layer.eval()(x) is x
    assert DropPath(0.0).train()(x) is x
    torch.manual_seed(0)
    out = layer.train()(x)
    kept = (out != 0).flatten(1)
    assert torch.equal(kept.all(1), kept.any(1)), "a sample is dropped or kept whole"
    assert 10 < int(kept.all(1).sum()) < 54
    assert torch.allclose(out[kept.all(1)], 2 * x[kept.all(1)])  # kept samples scaled by 1 / (1 - p)
    with pytest.raises(ConfigError, match=r"drop path rate must be in \[0, 1\)"):
        DropPath(1.0)


def test_drop_path_rates_grow_linearly_like_linspace():
    from seglab.models.layers import drop_path_rates

    assert drop_path_rates(0.3, 1) == [0.0]
    assert drop_path_rates(0.1, 8) == pytest.approx(torch.linspace(0, 0.1, 8).tolist())


def test_patch_embed_overlapping_and_corner_padding():
    from seglab.models.layers import PatchEmbed, corner_pad

    overlapping = PatchEmbed(3, 8, 7, 4, padding=3, norm_cfg=dict(type="LN", eps=1e-6))
    tokens, hw = overlapping(torch.randn(2, 3, 70, 50))
    assert hw == (18, 13) and tokens.shape == (2, 18 * 13, 8)
    assert list(overlapping.state_dict()) == ["projection.weight", "projection.bias", "norm.weight", "norm.bias"]
    swin = PatchEmbed(3, 8, 4, norm_cfg=None)  # stride = kernel, corner padding: 70 -> 72, 50 -> 52
    assert swin(torch.randn(1, 3, 70, 50))[1] == (18, 13) and swin.norm is None
    x = torch.randn(1, 1, 5, 3)
    padded = corner_pad(x, 2, 2)
    assert padded.shape == (1, 1, 6, 4) and torch.equal(padded[..., :5, :3], x) and padded[..., 5, :].abs().sum() == 0
    assert corner_pad(x, 3, 1).shape == (1, 1, 7, 5)  # ceil(size / stride) windows: 5x3 outputs of a 3x3 conv
    even = torch.randn(1, 1, 4, 6)
    assert corner_pad(even, 2, 2) is even


def test_tokens_and_maps_round_trip():
    from seglab.models.layers import map_to_tokens, tokens_to_map

    x = torch.randn(2, 4, 3, 5)
    tokens = map_to_tokens(x)
    assert tokens.shape == (2, 15, 4) and torch.equal(tokens[:, 7], x[:, :, 1, 2])  # row-major tokens
    assert torch.equal(tokens_to_map(tokens, (3, 5)), x)
