"""Decode heads: output shapes, 0.x forward semantics (concat order, resizes, the FPN top-down path) and
config errors."""
from __future__ import annotations

import pytest
import torch
from torch import nn

from seglab.errors import ConfigError
from seglab.models.heads import ASPPHead, DepthwiseSeparableASPPHead, FCNHead, PSPHead, SegformerHead, UPerHead
from seglab.models.layers import resize
from seglab.registry import MODELS


class NoLoss(nn.Module):
    """Stand-in loss so the heads build without the loss package."""

    loss_name = "loss_none"


SMALL = dict(num_classes=3, norm_cfg=dict(type="BN"), loss_decode=dict(type=NoLoss), dropout_ratio=0.0)


def feats(*shapes: tuple[int, int, int]) -> list[torch.Tensor]:
    torch.manual_seed(0)
    return [torch.randn(2, c, h, w) for c, h, w in shapes]


def test_fcn_head_default_shape_and_layers():
    head = FCNHead(8, 4, **SMALL).eval()
    assert head(feats((8, 9, 11)))[0].shape == (3, 9, 11)
    assert len(head.convs) == 2
    assert head.conv_cat.conv.in_channels == 12 and head.conv_cat.conv.kernel_size == (3, 3)


def test_fcn_head_concat_input_fuses_input_then_convs():
    head = FCNHead(8, 4, num_convs=1, **SMALL).eval()
    x = feats((8, 6, 6))
    with torch.no_grad():
        expected = head.conv_seg(head.conv_cat(torch.cat([x[-1], head.convs(x[-1])], dim=1)))
        assert torch.equal(head(x), expected)


def test_fcn_head_dilation_pads_to_keep_size():
    head = FCNHead(8, 4, num_convs=2, dilation=3, concat_input=False, **SMALL).eval()
    assert head.convs[1].conv.dilation == (3, 3) and head.convs[1].conv.padding == (3, 3)
    assert head(feats((8, 10, 7))).shape == (2, 3, 10, 7)


def test_fcn_head_num_convs_zero_is_identity():
    head = FCNHead(8, 8, num_convs=0, concat_input=False, **SMALL).eval()
    assert isinstance(head.convs, nn.Identity)
    assert sorted(head.state_dict()) == ["conv_seg.bias", "conv_seg.weight"]
    x = feats((8, 5, 5))
    with torch.no_grad():
        assert torch.equal(head(x), head.conv_seg(x[-1]))


def test_fcn_head_num_convs_zero_with_concat_input():
    head = FCNHead(8, 8, num_convs=0, concat_input=True, **SMALL).eval()
    assert head.conv_cat.conv.in_channels == 16
    assert head(feats((8, 5, 5))).shape == (2, 3, 5, 5)


def test_fcn_head_num_convs_zero_needs_equal_channels():
    with pytest.raises(ConfigError, match=r"in_channels \(8\) must equal channels \(4\)"):
        FCNHead(8, 4, num_convs=0, **SMALL)


def test_fcn_head_resize_concat_upsamples_to_first_input():
    head = FCNHead([4, 6], 5, in_index=[0, 1], input_transform="resize_concat", **SMALL).eval()
    assert head.convs[0].conv.in_channels == 10
    x = feats((4, 8, 8), (6, 4, 4))
    assert head(x).shape == (2, 3, 8, 8)
    with torch.no_grad():
        cat = torch.cat([x[0], resize(x[1], (8, 8), mode="bilinear", align_corners=False)], dim=1)
        assert torch.equal(head._forward_feature(x), head.conv_cat(torch.cat([cat, head.convs(cat)], dim=1)))


def test_fcn_head_rejects_multiple_select():
    with pytest.raises(ConfigError, match="reads one feature map"):
        FCNHead([4, 6], 5, in_index=[0, 1], input_transform="multiple_select", **SMALL)


def test_psp_head_shape_and_pyramid():
    head = PSPHead(8, 4, pool_scales=(1, 2, 3), in_index=1, **SMALL).eval()
    assert [m[0].output_size for m in head.psp_modules] == [1, 2, 3]
    assert head.bottleneck.conv.in_channels == 8 + 3 * 4
    x = feats((2, 3, 3), (8, 7, 9))
    assert head(x).shape == (2, 3, 7, 9)


@pytest.mark.parametrize("align_corners", [False, True])
def test_psp_head_concatenates_input_then_upsampled_branches(align_corners):
    head = PSPHead(8, 4, pool_scales=(1, 2), align_corners=align_corners, **SMALL).eval()
    x = feats((8, 7, 9))[0]
    with torch.no_grad():
        branches = [resize(m(x), (7, 9), mode="bilinear", align_corners=align_corners) for m in head.psp_modules]
        expected = head.conv_seg(head.bottleneck(torch.cat([x, *branches], dim=1)))
        assert torch.equal(head([x]), expected)


def test_psp_head_pool_branch_of_scale_one_is_global_mean():
    head = PSPHead(8, 4, pool_scales=(1,), **SMALL).eval()
    x = feats((8, 6, 6))[0]
    with torch.no_grad():
        out = head.psp_modules(x)[0]
        global_branch = head.psp_modules[0][1](x.mean(dim=(2, 3), keepdim=True))
        assert torch.allclose(out, global_branch.expand_as(out), atol=1e-6)


def test_aspp_head_branches_and_shape():
    head = ASPPHead(8, 4, dilations=(1, 2, 3), **SMALL).eval()
    first, second = head.aspp_modules[0].conv, head.aspp_modules[1].conv
    assert first.kernel_size == (1, 1) and first.padding == (0, 0)
    assert second.kernel_size == (3, 3) and second.dilation == (2, 2) and second.padding == (2, 2)
    assert head.bottleneck.conv.in_channels == 4 * 4
    assert head(feats((8, 7, 9))).shape == (2, 3, 7, 9)


def test_aspp_head_concat_order_image_pool_first():
    head = ASPPHead(8, 4, dilations=(1, 2), align_corners=True, **SMALL).eval()
    x = feats((8, 7, 9))[0]
    with torch.no_grad():
        pooled = resize(head.image_pool(x), (7, 9), mode="bilinear", align_corners=True)
        cat = torch.cat([pooled, head.aspp_modules[0](x), head.aspp_modules[1](x)], dim=1)
        assert torch.equal(head([x]), head.conv_seg(head.bottleneck(cat)))


def test_sep_aspp_head_upsamples_to_low_level_features():
    head = DepthwiseSeparableASPPHead(8, 4, c1_in_channels=3, c1_channels=2, dilations=(1, 2),
                                      in_index=1, **SMALL).eval()
    assert type(head.aspp_modules[0]).__name__ == "ConvModule"
    assert head.aspp_modules[1].depthwise_conv.conv.groups == 8
    assert head.sep_bottleneck[0].depthwise_conv.conv.in_channels == 6
    x = feats((3, 12, 14), (8, 6, 7))
    assert head(x).shape == (2, 3, 12, 14)
    with torch.no_grad():
        aspp = resize(head._forward_feature(x), (12, 14), mode="bilinear", align_corners=False)
        expected = head.conv_seg(head.sep_bottleneck(torch.cat([aspp, head.c1_bottleneck(x[0])], dim=1)))
        assert torch.equal(head(x), expected)


def test_sep_aspp_head_without_low_level_path():
    head = DepthwiseSeparableASPPHead(8, 4, c1_in_channels=0, c1_channels=0, dilations=(1, 2), **SMALL).eval()
    assert head.c1_bottleneck is None
    assert head(feats((3, 12, 14), (8, 6, 7))).shape == (2, 3, 6, 7)
    with pytest.raises(ConfigError, match="c1_channels must be 0"):
        DepthwiseSeparableASPPHead(8, 4, c1_in_channels=0, c1_channels=4, **SMALL)


def test_dropout_applies_only_before_conv_seg():
    head = PSPHead(8, 4, pool_scales=(1,), **{**SMALL, "dropout_ratio": 0.5}).train()
    x = feats((8, 5, 5))
    torch.manual_seed(1)
    out = head(x)
    torch.manual_seed(1)
    expected = head.conv_seg(head.dropout(head._forward_feature(x)))
    assert torch.equal(out, expected)


@pytest.mark.parametrize("cfg, message", [
    (dict(type="PSPHead", pool_scales=3), "pool_scales must be a non-empty list"),
    (dict(type="ASPPHead", dilations=(1, 0)), "dilations must be a non-empty list"),
    (dict(type="FCNHead", num_convs=-1), "num_convs must be an integer >= 0"),
    (dict(type="PSPHead", pool_scale=(1, 2)), "Did you mean 'pool_scales'"),
    (dict(type="UPerHead", in_channels=[4, 8], in_index=[0, 1], pool_scales=()), "pool_scales must be a non-empty"),
    (dict(type="UPerHead", input_transform="resize_concat", in_channels=[4, 8], in_index=[0, 1]),
     "UPerHead reads several feature maps: it needs input_transform='multiple_select'"),
    (dict(type="SegformerHead", in_channels=[4, 8], in_index=[0, 1], interpolate_mode="linear"),
     "interpolate_mode must be one of"),
    (dict(type="SegformerHead", in_channels=[4, 8], in_index=[0, 1, 2]), "lists of the same length"),
])
def test_bad_head_configs_name_the_key(cfg, message):
    full = {**dict(in_channels=8, channels=4, **SMALL), **cfg}
    with pytest.raises(ConfigError, match=message):
        MODELS.build(full, key="decode_head")


def test_heads_are_registered():
    for name in ("FCNHead", "PSPHead", "ASPPHead", "DepthwiseSeparableASPPHead", "SegformerHead", "UPerHead"):
        assert name in MODELS


# ------------------------------------------------------------------ SegFormer and UPerNet heads
PYRAMID = ((4, 16, 12), (6, 8, 6), (8, 4, 3), (10, 2, 2))  # strides 4..32 of a 64x48 image


def test_segformer_head_fuses_every_input_at_the_first_ones_size():
    head = SegformerHead([4, 6, 8, 10], 5, in_index=[0, 1, 2, 3], **SMALL).eval()
    x = feats(*PYRAMID)
    assert [c.conv.kernel_size for c in head.convs] == [(1, 1)] * 4
    assert head.fusion_conv.conv.in_channels == 20 and head.fusion_conv.conv.kernel_size == (1, 1)
    with torch.no_grad():
        out = head(x)
        up = [resize(conv(f), (16, 12), mode="bilinear", align_corners=False) for conv, f in zip(head.convs, x)]
        assert torch.equal(out, head.conv_seg(head.fusion_conv(torch.cat(up, dim=1))))
    assert out.shape == (2, 3, 16, 12)


def test_segformer_head_selects_its_inputs():
    head = SegformerHead([8, 10], 5, in_index=[2, 3], **SMALL).eval()
    assert head(feats(*PYRAMID)).shape == (2, 3, 4, 3)


def test_uper_head_pools_the_top_and_adds_levels_top_down():
    head = UPerHead([4, 6, 8, 10], 5, in_index=[0, 1, 2, 3], **SMALL).eval()
    assert len(head.lateral_convs) == len(head.fpn_convs) == 3
    assert head.bottleneck.conv.in_channels == 10 + 4 * 5 and head.fpn_bottleneck.conv.in_channels == 4 * 5
    x = feats(*PYRAMID)

    def up(t: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
        return resize(t, like.shape[2:], mode="bilinear", align_corners=False)

    with torch.no_grad():
        top = head.bottleneck(torch.cat([x[3], *head.psp_modules(x[3])], dim=1))
        level2 = head.lateral_convs[2](x[2]) + up(top, x[2])
        level1 = head.lateral_convs[1](x[1]) + up(level2, x[1])
        level0 = head.lateral_convs[0](x[0]) + up(level1, x[0])
        fpn = [head.fpn_convs[0](level0), head.fpn_convs[1](level1), head.fpn_convs[2](level2), top]
        fused = head.fpn_bottleneck(torch.cat([fpn[0]] + [up(f, fpn[0]) for f in fpn[1:]], dim=1))
        assert torch.allclose(head(x), head.conv_seg(fused), atol=1e-6)
    assert head(x).shape == (2, 3, 16, 12)
