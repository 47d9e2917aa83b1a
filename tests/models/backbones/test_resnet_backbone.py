"""ResNet / ResNetV1c / ResNetV1d: MMSegmentation 0.x names and shapes, output strides, dilation,
freezing, checkpointing, init and pretrained loading (torchvision and MMSegmentation layouts)."""
from __future__ import annotations

import logging
import re
from pathlib import Path

import pytest
import torch
from torch import nn

from seglab.errors import CheckpointError, ConfigError
from seglab.models.backbones.resnet import ResNet, ResNetV1c, ResNetV1d
from seglab.registry import MODELS

D8 = dict(depth=50, dilations=(1, 1, 2, 4), strides=(1, 2, 1, 1), contract_dilation=True)


def backbone_entries(path: Path) -> dict[str, tuple[int, ...]]:
    """``backbone.*`` lines of a state-dict key file, prefix removed: name -> shape."""
    entries = {}
    for line in path.read_text().splitlines()[1:]:
        name, shape = line.split(" ", 1)
        if name.startswith("backbone."):
            entries[name[len("backbone."):]] = tuple(int(d) for d in re.findall(r"\d+", shape))
    return entries


@pytest.mark.parametrize("family", ["pspnet_r50-d8", "deeplabv3_r50-d8", "deeplabv3plus_r50-d8"])
def test_resnet_v1c_d8_names_and_shapes_equal_mmsegmentation(family, fixtures_dir):
    expected = backbone_entries(fixtures_dir / "state_dict_keys" / f"{family}.txt")
    with torch.device("meta"):  # shapes only
        model = MODELS.build(dict(type="ResNetV1c", **D8), key="backbone")
    got = {name: tuple(t.shape) for name, t in model.state_dict().items()}
    assert list(got) == list(expected)  # same names in the same order
    assert got == expected


def small(type_: str = "ResNet", depth: int = 18, **kwargs) -> nn.Module:
    torch.manual_seed(0)
    return MODELS.build(dict(type=type_, depth=depth, stem_channels=8, base_channels=8, **kwargs))


@pytest.mark.parametrize("type_, depth, expansion", [("ResNet", 18, 1), ("ResNet", 50, 4), ("ResNetV1d", 50, 4)])
def test_output_channels_and_strides(type_, depth, expansion):
    model = small(type_, depth)
    outs = model(torch.randn(2, 3, 64, 64))
    assert [tuple(o.shape) for o in outs] == [(2, 8 * expansion * 2**i, 64 // 4 // 2**i, 64 // 4 // 2**i)
                                              for i in range(4)]


def test_dilated_resnet_keeps_stride_8_and_out_indices_select_stages():
    model = small("ResNetV1d", 50, dilations=(1, 1, 2, 4), strides=(1, 2, 1, 1), out_indices=(1, 3))
    outs = model(torch.randn(1, 3, 64, 64))
    assert [tuple(o.shape) for o in outs] == [(1, 64, 8, 8), (1, 256, 8, 8)]


def test_variants_set_stem_and_shortcut():
    v1c, v1d, plain = small("ResNetV1c", 50), small("ResNetV1d", 50), small("ResNet", 50)
    assert isinstance(v1c, ResNet) and v1c.deep_stem and not v1c.avg_down
    assert v1d.deep_stem and v1d.avg_down
    assert hasattr(plain, "conv1") and hasattr(plain, "bn1") and not hasattr(plain, "stem")
    assert isinstance(v1d.layer2[0].downsample[0], nn.AvgPool2d)
    assert v1d.layer2[0].downsample[1].stride == (1, 1)
    # 0.x puts the AvgPool in every shortcut of V1d, also at stride 1 (layer1).
    assert {k for k in v1d.state_dict() if k.startswith("layer1.0.downsample")} == {
        "layer1.0.downsample.1.weight", "layer1.0.downsample.2.weight", "layer1.0.downsample.2.bias",
        "layer1.0.downsample.2.running_mean", "layer1.0.downsample.2.running_var",
        "layer1.0.downsample.2.num_batches_tracked"}
    assert v1c.layer2[0].downsample[0].stride == (2, 2)


def test_variants_do_not_take_their_fixed_keys_and_suggest_names():
    with pytest.raises(ConfigError, match="ResNetV1c does not take the key 'deep_stem'"):
        MODELS.build(dict(type="ResNetV1c", depth=50, deep_stem=False), key="backbone")
    with pytest.raises(ConfigError, match="Did you mean 'dilations'"):
        MODELS.build(dict(type="ResNetV1d", depth=50, dilation=(1, 1, 2, 4)), key="backbone")
    with pytest.raises(TypeError):
        ResNetV1c(depth=50, avg_down=True)  # a direct call checks the same signature
    assert ResNetV1d(depth=18, base_channels=4, stem_channels=4).avg_down


def test_contract_dilation_halves_the_first_block_of_dilated_stages():
    model = small("ResNetV1c", **D8)
    conv = {name: model.get_submodule(f"{name}.conv2") for name in ("layer3.0", "layer3.1", "layer4.0", "layer4.1")}
    assert [(c.dilation[0], c.padding[0]) for c in conv.values()] == [(1, 1), (2, 2), (2, 2), (4, 4)]
    plain = small("ResNetV1c", **{**D8, "contract_dilation": False})
    assert plain.layer3[0].conv2.dilation == (2, 2) and plain.layer4[0].conv2.dilation == (4, 4)


def test_multi_grid_sets_the_last_stage_dilations():
    model = small("ResNetV1c", 50, dilations=(1, 1, 1, 2), strides=(1, 2, 2, 1), multi_grid=(1, 2, 4))
    assert [b.conv2.dilation[0] for b in model.layer4] == [1, 2, 4]
    with pytest.raises(ConfigError, match="multi_grid.*3 blocks"):
        small("ResNet", 50, multi_grid=(1, 2))


def test_caffe_style_puts_the_stride_on_the_first_1x1_conv():
    model = small("ResNet", 50, style="caffe")
    assert model.layer2[0].conv1.stride == (2, 2) and model.layer2[0].conv2.stride == (1, 1)
    pytorch = small("ResNet", 50)
    assert pytorch.layer2[0].conv1.stride == (1, 1) and pytorch.layer2[0].conv2.stride == (2, 2)


def test_init_is_kaiming_with_zero_initialised_residual_norms():
    model = small("ResNet", 50)
    assert torch.all(model.layer1[0].bn3.weight == 0) and torch.all(model.layer1[0].bn3.bias == 0)
    assert torch.all(model.layer1[0].bn1.weight == 1) and torch.all(model.bn1.weight == 1)
    conv = model.layer3[0].conv2  # kaiming normal, fan_out: std = sqrt(2 / (out * k * k))
    assert conv.weight.std().item() == pytest.approx((2 / (32 * 9)) ** 0.5, rel=0.1)
    basic = small("ResNet", 18, zero_init_residual=False)
    assert torch.all(basic.layer1[0].bn2.weight == 1)
    assert torch.all(small("ResNet", 18).layer1[0].bn2.weight == 0)


def test_norm_eval_keeps_batchnorm_statistics_fixed_in_training():
    model = small("ResNet", 18, norm_eval=True)
    model.train()
    assert model.training and model.layer1.training
    assert all(not m.training for m in model.modules() if isinstance(m, nn.BatchNorm2d))
    before = model.layer2[0].bn1.running_mean.clone()
    model(torch.randn(2, 3, 32, 32))
    assert torch.equal(model.layer2[0].bn1.running_mean, before)
    trained = small("ResNet", 18).train()
    trained(torch.randn(2, 3, 32, 32))
    assert not torch.equal(trained.layer2[0].bn1.running_mean, before)


@pytest.mark.parametrize("type_, stem", [("ResNet", ["conv1", "bn1"]), ("ResNetV1c", ["stem"])])
def test_frozen_stages_freeze_stem_and_first_stages(type_, stem):
    model = small(type_, 18, frozen_stages=2).train()
    frozen = [model.get_submodule(n) for n in stem + ["layer1", "layer2"]]
    assert all(not p.requires_grad for m in frozen for p in m.parameters())
    assert all(not m.training for f in frozen for m in f.modules())
    assert all(p.requires_grad for p in model.layer3.parameters()) and model.layer3.training
    sum(o.sum() for o in model(torch.randn(2, 3, 32, 32))).backward()
    assert model.layer1[0].conv1.weight.grad is None and model.layer3[0].conv1.weight.grad is not None


def test_with_cp_gives_the_same_outputs_and_gradients():
    plain, checkpointed = small("ResNet", 50), small("ResNet", 50, with_cp=True)
    checkpointed.load_state_dict(plain.state_dict())
    results = []
    for model in (plain, checkpointed):
        x = torch.randn(2, 3, 32, 32, generator=torch.Generator().manual_seed(1), requires_grad=True)
        outs = model(x)
        sum((o * o).sum() for o in outs).backward()
        results.append((outs, x.grad, model.layer2[0].conv2.weight.grad))
    (outs_a, gx_a, gw_a), (outs_b, gx_b, gw_b) = results
    assert all(torch.allclose(a, b, atol=1e-5) for a, b in zip(outs_a, outs_b))
    assert torch.allclose(gx_a, gx_b, atol=1e-5) and torch.allclose(gw_a, gw_b, atol=1e-4)


@pytest.mark.parametrize("cfg, message", [
    (dict(depth=42), "depth=42 is not a ResNet depth; use one of 18, 34, 50, 101, 152"),
    (dict(depth=50, dcn=dict(type="DCNv2")), "dcn=.* is not supported .* set dcn=None"),
    (dict(depth=50, plugins=[dict(cfg=dict(type="ContextBlock"))]), "plugins=.* is not supported"),
    (dict(depth=50, strides=(1, 2, 2)), "one entry per stage"),
    (dict(depth=50, out_indices=(0, 4)), "out_indices"),
    (dict(depth=50, style="tf"), "style='tf' must be 'pytorch' or 'caffe'"),
    (dict(depth=50, frozen_stages=5), "frozen_stages=5"),
    (dict(depth=50, pretrained="a.pth", init_cfg=dict(type="Pretrained", checkpoint="b.pth")), "not both"),
    (dict(depth=50, init_cfg=dict(type="Kaiming", layer="Conv2d")), "only dict\\(type='Pretrained'"),
])
def test_config_errors_name_the_key(cfg, message):
    with pytest.raises(ConfigError, match=message) as err:
        MODELS.build(dict(type="ResNet", **cfg), key="backbone")
    assert str(err.value).startswith("backbone")


# ------------------------------------------------------------------ pretrained weights
def random_state(model: nn.Module) -> dict[str, torch.Tensor]:
    generator = torch.Generator().manual_seed(123)
    return {k: torch.rand(v.shape, generator=generator) if v.is_floating_point() else v.clone()
            for k, v in model.state_dict().items()}


@pytest.fixture
def seglab_log(caplog):
    logger = logging.getLogger("seglab")
    logger.addHandler(caplog.handler)
    old_level = logger.level
    logger.setLevel(logging.INFO)
    yield caplog
    logger.setLevel(old_level)
    logger.removeHandler(caplog.handler)


def test_pretrained_torchvision_layout_loads_in_init_weights(tmp_path, seglab_log):
    weights = random_state(small("ResNet", 18))
    # torchvision: same names for the plain stem, an ImageNet classifier, no BN step counters.
    torchvision_state = {k: v for k, v in weights.items() if not k.endswith("num_batches_tracked")}
    torchvision_state.update({"fc.weight": torch.zeros(1000, 64), "fc.bias": torch.zeros(1000)})
    path = tmp_path / "resnet18-torchvision.pth"
    torch.save(torchvision_state, path)
    model = small("ResNet", 18, pretrained=str(path))
    assert not torch.equal(model.layer1[0].conv1.weight, weights["layer1.0.conv1.weight"])  # nothing at build
    model.init_weights()
    for name, value in model.state_dict().items():
        if not name.endswith("num_batches_tracked"):
            assert torch.equal(value, weights[name]), name
    messages = "\n".join(r.getMessage() for r in seglab_log.records)
    assert "dropped the classifier fc.bias, fc.weight" in messages
    assert not [r for r in seglab_log.records if r.levelno >= logging.WARNING]


@pytest.mark.parametrize("how", ["pretrained", "init_cfg_prefix"])
def test_pretrained_mmseg_segmentor_checkpoint_loads_the_backbone(tmp_path, how):
    weights = random_state(small("ResNetV1c", **D8))
    segmentor_state = {f"module.backbone.{k}": v for k, v in weights.items()}
    segmentor_state["module.decode_head.conv_seg.weight"] = torch.zeros(19, 8, 1, 1)
    path = str(tmp_path / "pspnet.pth")
    torch.save({"meta": {"iter": 40000}, "state_dict": segmentor_state}, path)
    source = (dict(pretrained=path) if how == "pretrained"
              else dict(init_cfg=dict(type="Pretrained", checkpoint=path, prefix="backbone.")))
    model = small("ResNetV1c", **D8, **source)
    model.init_weights()
    assert all(torch.equal(v, weights[k]) for k, v in model.state_dict().items())


def test_mismatched_pretrained_keys_are_reported_by_name(tmp_path, seglab_log):
    torch.save(random_state(small("ResNet", 18)), tmp_path / "plain_stem.pth")
    model = small("ResNetV1c", 18, pretrained=str(tmp_path / "plain_stem.pth"))
    model.init_weights()
    warning = "\n".join(r.getMessage() for r in seglab_log.records if r.levelno == logging.WARNING)
    assert "missing keys in the checkpoint (15): stem.0.weight, stem.1.weight" in warning
    assert "unexpected keys in the checkpoint" in warning and "conv1.weight" in warning and "bn1.bias" in warning


def test_url_pretrained_builds_and_fails_only_in_init_weights():
    model = MODELS.build(dict(type="ResNetV1c", depth=18, pretrained="open-mmlab://resnet50_v1c"))
    with pytest.raises(CheckpointError, match="does not download.*model.pretrained=None"):
        model.init_weights()
