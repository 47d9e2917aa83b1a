"""MixVisionTransformer (MiT): MMSegmentation names and shapes, stage strides and widths, spatial
reduction, the attention's parameter layout, drop-path, init and pretrained loading in the
MMSegmentation and NVlabs SegFormer layouts."""
from __future__ import annotations

import logging
import math
import re
from pathlib import Path

import pytest
import torch
from torch import nn

from seglab.engine.checkpoint import load_checkpoint
from seglab.errors import ConfigError
from seglab.models.backbones import MIT_SETTINGS, MixVisionTransformer, mit_key_map
from seglab.models.backbones.mit import MultiheadAttention
from seglab.registry import MODELS


def backbone_entries(path: Path) -> dict[str, tuple[int, ...]]:
    entries = {}
    for line in path.read_text().splitlines()[1:]:
        name, shape = line.split(" ", 1)
        if name.startswith("backbone."):
            entries[name[len("backbone."):]] = tuple(int(d) for d in re.findall(r"\d+", shape))
    return entries


def b0(**kwargs) -> MixVisionTransformer:
    torch.manual_seed(0)
    return MODELS.build(dict(type="MixVisionTransformer", **MIT_SETTINGS["b0"], **kwargs), key="backbone")


def tiny(**kwargs) -> MixVisionTransformer:
    """Two stages of one layer each, 8 channels per head."""
    torch.manual_seed(0)
    args = dict(embed_dims=8, num_stages=2, num_layers=(1, 1), num_heads=(1, 2), patch_sizes=(7, 3), strides=(4, 2),
                sr_ratios=(2, 1), out_indices=(0, 1))
    return MixVisionTransformer(**{**args, **kwargs})


def test_b0_names_and_shapes_equal_mmsegmentation_in_order(fixtures_dir):
    expected = backbone_entries(fixtures_dir / "state_dict_keys" / "segformer_mit-b0.txt")
    with torch.device("meta"):
        model = b0()
    got = {name: tuple(t.shape) for name, t in model.state_dict().items()}
    assert list(got) == list(expected) and got == expected
    assert sum(p.numel() for p in model.parameters()) == sum(math.prod(s) for s in expected.values())


@pytest.mark.parametrize("arch, encoder_millions", [("b1", 13.1), ("b2", 24.2), ("b3", 44.0), ("b4", 60.8),
                                                    ("b5", 81.4)])
def test_b1_to_b5_settings_have_the_papers_encoder_sizes(arch, encoder_millions):
    with torch.device("meta"):
        model = MixVisionTransformer(**MIT_SETTINGS[arch])
    assert sum(p.numel() for p in model.parameters()) / 1e6 == pytest.approx(encoder_millions, abs=0.1)
    assert model.widths == [64, 128, 320, 512]


@pytest.mark.parametrize("size, grids", [((64, 64), [(16, 16), (8, 8), (4, 4), (2, 2)]),
                                         ((70, 50), [(18, 13), (9, 7), (5, 4), (3, 2)])])
def test_stage_outputs_have_strides_4_to_32_and_the_stage_widths(size, grids):
    model = b0().eval()
    with torch.no_grad():
        outs = model(torch.randn(2, 3, *size))
    assert [tuple(o.shape) for o in outs] == [(2, c, *g) for c, g in zip((32, 64, 160, 256), grids)]
    assert len(b0(out_indices=(1, 3)).eval()(torch.randn(1, 3, 64, 64))) == 2


def test_spatial_reduction_shrinks_keys_and_values_only():
    model = b0()
    assert [blocks[0].attn.sr_ratio for _, blocks, _ in model.layers] == [8, 4, 2, 1]
    first = model.layers[0][1][0].attn
    assert first.sr.kernel_size == (8, 8) and first.sr.stride == (8, 8)
    assert not hasattr(model.layers[3][1][0].attn, "sr")  # ratio 1: attention over all tokens
    x = torch.randn(2, 16 * 12, 32)
    assert first.reduce(x, (16, 12)).shape == (2, 2 * 1, 32)
    assert model.layers[3][1][0].attn.reduce(x, (16, 12)) is x
    assert first.eval()(x, (16, 12)).shape == x.shape  # queries keep every token


def test_too_small_input_is_a_clear_error():
    with pytest.raises(ValueError, match="a 4x4 token map is smaller than its spatial-reduction ratio 8"):
        b0()(torch.randn(1, 3, 16, 16))


def test_attention_has_the_layout_and_result_of_nn_multihead_attention():
    torch.manual_seed(0)
    ours = MultiheadAttention(16, 4).eval()
    reference = nn.MultiheadAttention(16, 4, batch_first=True).eval()
    reference.load_state_dict(ours.state_dict())  # same names and shapes
    query, key_value = torch.randn(2, 10, 16), torch.randn(2, 3, 16)
    with torch.no_grad():
        expected = reference(query, key_value, key_value, need_weights=False)[0]
        assert torch.allclose(ours(query, key_value), expected, atol=1e-6)
    without_bias = MultiheadAttention(16, 4, bias=False)
    assert sorted(without_bias.state_dict()) == ["in_proj_weight", "out_proj.weight"]
    with pytest.raises(ConfigError, match="not divisible by num_heads=3"):
        MultiheadAttention(16, 3)


def test_drop_path_grows_to_the_rate_and_is_off_in_eval():
    model = b0(drop_path_rate=0.7)
    rates = [block.attn.drop_path.drop_prob for _, blocks, _ in model.layers for block in blocks]
    assert rates == pytest.approx([0.1 * i for i in range(8)])
    assert all(block.ffn.drop_path.drop_prob == block.attn.drop_path.drop_prob
               for _, blocks, _ in model.layers for block in blocks)
    plain = b0(drop_path_rate=0.0)
    plain.load_state_dict(model.state_dict())
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        model.eval(), plain.eval()
        assert all(torch.equal(a, b) for a, b in zip(model(x), plain(x)))
        model.train(), plain.train()
        assert not all(torch.equal(a, b) for a, b in zip(model(x), plain(x)))


def test_default_init_follows_0x():
    model = b0()
    conv = model.layers[0][1][0].ffn.layers[1]  # depth-wise 3x3: fan_out = 9 * 128 / 128
    assert conv.weight.std().item() == pytest.approx(math.sqrt(2 / 9), rel=0.1)
    assert torch.all(conv.bias == 0)
    out_proj = model.layers[2][1][0].attn.attn.out_proj
    assert out_proj.weight.std().item() == pytest.approx(0.02, rel=0.1)
    norm = model.layers[1][2]
    assert torch.all(norm.weight == 1) and torch.all(norm.bias == 0) and norm.eps == 1e-6


def test_with_cp_gives_the_same_outputs_and_gradients():
    plain, checkpointed = tiny(), tiny(with_cp=True)
    checkpointed.load_state_dict(plain.state_dict())
    grads = []
    for model in (plain, checkpointed):
        x = torch.randn(2, 3, 32, 32, generator=torch.Generator().manual_seed(1), requires_grad=True)
        sum((o * o).sum() for o in model(x)).backward()
        grads.append(x.grad)
    assert torch.allclose(grads[0], grads[1], atol=1e-5)


@pytest.mark.parametrize("cfg, message", [
    (dict(num_layers=(2, 2, 2)), r"num_layers=\(2, 2, 2\) needs one entry per stage \(num_stages=4\)"),
    (dict(out_indices=(0, 4)), "out_indices"),
    (dict(pretrained="a.pth", init_cfg=dict(type="Pretrained", checkpoint="b.pth")), "not both"),
])
def test_config_errors_name_the_key(cfg, message):
    with pytest.raises(ConfigError, match=message) as err:
        MODELS.build(dict(type="MixVisionTransformer", **cfg), key="backbone")
    assert str(err.value).startswith("backbone")


# ------------------------------------------------------------------ pretrained weights
@pytest.fixture
def seglab_log(caplog):
    logger = logging.getLogger("seglab")
    logger.addHandler(caplog.handler)
    old_level = logger.level
    logger.setLevel(logging.INFO)
    yield caplog
    logger.setLevel(old_level)
    logger.removeHandler(caplog.handler)


def nvlabs_state(widths=(8, 16), hidden=4, seed=0) -> dict[str, torch.Tensor]:
    """A state dict in NVlabs SegFormer's layout (``mit_b0.pth``) for ``tiny()``: named and shaped as
    its ``MixVisionTransformer`` (OverlapPatchEmbed, Block with Attention q/kv/sr/norm and Mlp
    fc1/dwconv/fc2 as Linear layers), plus an ImageNet classifier."""
    g = torch.Generator().manual_seed(seed)
    state = {}
    in_channels = 3
    for s, (width, kernel, sr) in enumerate(zip(widths, (7, 3), (2, 1)), start=1):
        h = hidden * width
        shapes = {f"patch_embed{s}.proj.weight": (width, in_channels, kernel, kernel), f"patch_embed{s}.proj.bias": (width,),
                  f"patch_embed{s}.norm.weight": (width,), f"patch_embed{s}.norm.bias": (width,)}
        b = f"block{s}.0."
        shapes.update({b + "norm1.weight": (width,), b + "norm1.bias": (width,),
                       b + "attn.q.weight": (width, width), b + "attn.q.bias": (width,),
                       b + "attn.kv.weight": (2 * width, width), b + "attn.kv.bias": (2 * width,),
                       b + "attn.proj.weight": (width, width), b + "attn.proj.bias": (width,)})
        if sr > 1:
            shapes.update({b + "attn.sr.weight": (width, width, sr, sr), b + "attn.sr.bias": (width,),
                           b + "attn.norm.weight": (width,), b + "attn.norm.bias": (width,)})
        shapes.update({b + "norm2.weight": (width,), b + "norm2.bias": (width,),
                       b + "mlp.fc1.weight": (h, width), b + "mlp.fc1.bias": (h,),
                       b + "mlp.dwconv.dwconv.weight": (h, 1, 3, 3), b + "mlp.dwconv.dwconv.bias": (h,),
                       b + "mlp.fc2.weight": (width, h), b + "mlp.fc2.bias": (width,),
                       f"norm{s}.weight": (width,), f"norm{s}.bias": (width,)})
        state.update({k: torch.randn(shape, generator=g) for k, shape in shapes.items()})
        in_channels = width
    state["head.weight"], state["head.bias"] = torch.randn(10, widths[-1], generator=g), torch.zeros(10)
    return state


def nvlabs_attention(state: dict, prefix: str, x: torch.Tensor, hw: tuple[int, int], heads: int, sr: int) -> torch.Tensor:
    """NVlabs' Attention.forward, written out: q from x, k and v from the reduced x, per head."""
    w = lambda name: state[prefix + name]  # noqa: E731
    n, length, c = x.shape
    q = (x @ w("q.weight").T + w("q.bias")).reshape(n, length, heads, c // heads).transpose(1, 2)
    if sr > 1:
        m = torch.nn.functional.conv2d(x.transpose(1, 2).reshape(n, c, *hw), w("sr.weight"), w("sr.bias"), stride=sr)
        x = torch.nn.functional.layer_norm(m.flatten(2).transpose(1, 2), (c,), w("norm.weight"), w("norm.bias"), 1e-6)
    kv = (x @ w("kv.weight").T + w("kv.bias")).reshape(n, -1, 2, heads, c // heads).permute(2, 0, 3, 1, 4)
    attn = (q @ kv[0].transpose(-2, -1) * (c // heads) ** -0.5).softmax(-1)
    out = (attn @ kv[1]).transpose(1, 2).reshape(n, length, c)
    return out @ w("proj.weight").T + w("proj.bias")


def test_nvlabs_layout_maps_to_every_entry_and_computes_the_same_attention(seglab_log):
    state = nvlabs_state()
    mapped = mit_key_map(state)
    model = tiny()
    report = load_checkpoint(model, mapped, strict=True)
    assert report.complete and len(report.loaded) == len(model.state_dict())
    first = "layers.0.1.0."
    assert torch.equal(mapped[first + "attn.attn.in_proj_weight"],
                       torch.cat([state["block1.0.attn.q.weight"], state["block1.0.attn.kv.weight"]]))
    assert torch.equal(mapped[first + "ffn.layers.0.weight"], state["block1.0.mlp.fc1.weight"][:, :, None, None])
    assert torch.equal(mapped[first + "ffn.layers.1.weight"], state["block1.0.mlp.dwconv.dwconv.weight"])
    assert torch.equal(mapped["layers.1.2.bias"], state["norm2.bias"])
    assert torch.equal(mapped["layers.0.0.projection.weight"], state["patch_embed1.proj.weight"])
    for stage, (sr, heads) in enumerate(((2, 1), (1, 2))):
        x = torch.randn(2, 8 * 6, 8 * heads)
        attn = model.layers[stage][1][0].attn.eval()
        with torch.no_grad():
            ours = attn.attn(x, attn.reduce(x, (8, 6)))
        assert torch.allclose(ours, nvlabs_attention(state, f"block{stage + 1}.0.attn.", x, (8, 6), heads, sr),
                              atol=1e-4)
    messages = "\n".join(r.getMessage() for r in seglab_log.records)
    assert "dropped the classifier head.bias, head.weight" in messages


def test_nvlabs_query_without_its_key_value_is_reported_not_guessed():
    state = nvlabs_state()
    del state["block2.0.attn.kv.weight"]
    report = load_checkpoint(tiny(), mit_key_map(state))
    assert "block2.0.attn.q.weight" in report.unexpected
    assert "layers.1.1.0.attn.attn.in_proj_weight" in report.missing
    assert "layers.1.1.0.attn.attn.in_proj_bias" in report.loaded  # bias pair complete


@pytest.mark.parametrize("how", ["pretrained", "init_cfg_prefix"])
def test_mmseg_checkpoint_loads_in_init_weights(tmp_path, how):
    g = torch.Generator().manual_seed(3)
    weights = {k: torch.rand(v.shape, generator=g) for k, v in tiny().state_dict().items()}
    path = str(tmp_path / "segformer.pth")
    torch.save({"state_dict": {**{f"backbone.{k}": v for k, v in weights.items()},
                               "decode_head.conv_seg.weight": torch.zeros(2, 8, 1, 1)}}, path)
    source = (dict(pretrained=path) if how == "pretrained"
              else dict(init_cfg=dict(type="Pretrained", checkpoint=path, prefix="backbone.")))
    model = tiny(**source)
    assert not torch.equal(model.layers[0][2].weight, weights["layers.0.2.weight"])  # nothing at build
    model.init_weights()
    assert all(torch.equal(v, weights[k]) for k, v in model.state_dict().items())


def test_nvlabs_checkpoint_file_loads_in_init_weights(tmp_path):
    path = tmp_path / "mit_tiny.pth"
    state = nvlabs_state()
    torch.save(state, path)
    model = tiny(init_cfg=dict(type="Pretrained", checkpoint=str(path)))
    model.init_weights()
    assert torch.equal(model.layers[1][1][0].ffn.layers[4].weight[:, :, 0, 0], state["block2.0.mlp.fc2.weight"])
