"""SwinTransformer: MMSegmentation names and shapes, the relative-position index and the shifted-window
mask checked by hand, window attention against a plain softmax, patch-merging channel order,
stage strides, drop-path, freezing and pretrained loading in the MMSegmentation and Microsoft layouts."""
from __future__ import annotations

import logging
import re
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from seglab.engine.checkpoint import load_checkpoint
from seglab.errors import ConfigError
from seglab.models.backbones import SWIN_SETTINGS, SwinTransformer, swin_key_map
from seglab.models.backbones.swin import (MASKED, PatchMerging, ShiftWindowMSA, WindowMSA, relative_position_index,
                                          shifted_window_mask, unfold_order, window_merge, window_partition)
from seglab.registry import MODELS

M = MASKED


def backbone_entries(path: Path) -> dict[str, tuple[int, ...]]:
    entries = {}
    for line in path.read_text().splitlines()[1:]:
        name, shape = line.split(" ", 1)
        if name.startswith("backbone."):
            entries[name[len("backbone."):]] = tuple(int(d) for d in re.findall(r"\d+", shape))
    return entries


def tiny(**kwargs) -> SwinTransformer:
    """Two stages (2 blocks each), 8 channels, windows of 2."""
    torch.manual_seed(0)
    args = dict(embed_dims=8, depths=(2, 2), num_heads=(1, 2), strides=(4, 2), out_indices=(0, 1), window_size=2,
                drop_path_rate=0.0)
    return SwinTransformer(**{**args, **kwargs})


def test_swin_t_names_and_shapes_equal_mmsegmentation_in_order(fixtures_dir):
    expected = backbone_entries(fixtures_dir / "state_dict_keys" / "upernet_swin-t.txt")
    with torch.device("meta"):
        model = MODELS.build(dict(type="SwinTransformer", **SWIN_SETTINGS["tiny"]), key="backbone")
    got = {name: tuple(t.shape) for name, t in model.state_dict().items()}
    assert list(got) == list(expected) and got == expected


# Microsoft's classification models (28,288,354 / 49,606,258 / 87,768,224 parameters) minus their final
# norm and ImageNet classifier, plus MMSegmentation's four output norms.
@pytest.mark.parametrize("arch, classifier_params, width", [("tiny", 28_288_354, 96), ("small", 49_606_258, 96),
                                                            ("base", 87_768_224, 128)])
def test_swin_t_s_b_settings_have_the_published_sizes(arch, classifier_params, width):
    with torch.device("meta"):
        model = SwinTransformer(**SWIN_SETTINGS[arch])
    last = 8 * width
    expected = classifier_params - (last * 1000 + 1000) - 2 * last + sum(2 * width * 2**i for i in range(4))
    assert sum(p.numel() for p in model.parameters()) == expected
    assert model.num_features == [width, 2 * width, 4 * width, 8 * width]


def test_relative_position_index_by_hand():
    # 2x2 window, tokens (0,0) (0,1) (1,0) (1,1): (dy + 1) * 3 + (dx + 1) for query minus key.
    assert relative_position_index(2).tolist() == [[4, 3, 1, 0], [5, 4, 2, 1], [7, 6, 4, 3], [8, 7, 5, 4]]
    index = relative_position_index(7)
    center = 6 * 13 + 6
    assert index.shape == (49, 49) and torch.all(index.diagonal() == center)
    assert torch.all(index + index.T == 2 * center)  # opposite offsets mirror around the centre row
    assert sorted(set(index.flatten().tolist())) == list(range(13 * 13))  # every table row is used


def test_window_partition_and_merge():
    x = torch.arange(2 * 4 * 6 * 1).float().view(2, 4, 6, 1)
    windows = window_partition(x, 2)
    assert windows.shape == (12, 4, 1)
    assert windows[1, :, 0].tolist() == [2, 3, 8, 9]  # first image, top row, second window, row-major
    assert torch.equal(window_merge(windows, 2, 2, 4, 6), x)


def test_shifted_window_mask_by_hand():
    # 4x4 map, window 2, shift 1: regions per axis [0, 0, 1, 2], so the region ids are
    # [[0,0,1,2],[0,0,1,2],[3,3,4,5],[6,6,7,8]] and the windows hold [0,0,0,0], [1,2,1,2], [3,3,6,6], [4,5,7,8].
    mask = shifted_window_mask(4, 4, 2, 1)
    assert mask.tolist() == [
        [[0, 0, 0, 0], [0, 0, 0, 0], [0, 0, 0, 0], [0, 0, 0, 0]],
        [[0, M, 0, M], [M, 0, M, 0], [0, M, 0, M], [M, 0, M, 0]],
        [[0, 0, M, M], [0, 0, M, M], [M, M, 0, 0], [M, M, 0, 0]],
        [[0, M, M, M], [M, 0, M, M], [M, M, 0, M], [M, M, M, 0]],
    ]
    big = shifted_window_mask(14, 21, 7, 3)
    assert big.shape == (6, 49, 49) and torch.all(big[0] == 0) and torch.all(big.diagonal(dim1=1, dim2=2) == 0)


def naive_window_attention(msa: WindowMSA, x: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
    """Swin's window attention written out: q k^T * scale + relative bias (+ mask), softmax, @ v."""
    b, n, c = x.shape
    heads = msa.num_heads
    q, k, v = (x @ msa.qkv.weight.T + msa.qkv.bias).reshape(b, n, 3, heads, c // heads).permute(2, 0, 3, 1, 4)
    logits = q @ k.transpose(-2, -1) * msa.scale
    table, index = msa.relative_position_bias_table, msa.relative_position_index
    logits = logits + table[index.view(-1)].view(n, n, heads).permute(2, 0, 1)
    if mask is not None:
        logits = (logits.view(b // mask.shape[0], mask.shape[0], heads, n, n) + mask[None, :, None]).view(b, heads, n, n)
    out = (logits.softmax(-1) @ v).transpose(1, 2).reshape(b, n, c)
    return out @ msa.proj.weight.T + msa.proj.bias


def test_window_attention_equals_the_written_out_softmax_and_trains_the_bias_table():
    torch.manual_seed(0)
    msa = WindowMSA(8, 2, 2)
    torch.nn.init.normal_(msa.relative_position_bias_table)
    x = torch.randn(2 * 4, 4, 8)  # 2 images x 4 windows of 2x2
    mask = shifted_window_mask(4, 4, 2, 1)
    for m in (None, mask):
        assert torch.allclose(msa(x, m), naive_window_attention(msa, x, m), atol=1e-5)
    msa(x, mask).sum().backward()
    assert msa.relative_position_bias_table.grad.abs().sum() > 0


def test_shifted_windows_keep_tokens_from_opposite_borders_apart():
    # 6x6 map, window 3, shift 1: after rolling by -1 the bottom-right window holds the original pixels
    # (4,4) (4,5) (4,0) / (5,4) (5,5) (5,0) / (0,4) (0,5) (0,0), in regions 4 4 5 / 4 4 5 / 7 7 8.
    torch.manual_seed(0)
    shifted, plain = ShiftWindowMSA(4, 1, 3, shift_size=1).eval(), ShiftWindowMSA(4, 1, 3).eval()
    plain.load_state_dict(shifted.state_dict())
    x = torch.randn(1, 36, 4)
    moved = x.clone()
    moved[0, 5 * 6 + 5] += 5.0  # pixel (5, 5)
    with torch.no_grad():
        before, after = shifted(x, (6, 6)), shifted(moved, (6, 6))
        assert torch.allclose(after[0, 0], before[0, 0], atol=1e-6)  # (0, 0): same window, other region
        assert not torch.allclose(after[0, 4 * 6 + 4], before[0, 4 * 6 + 4])  # (4, 4): same region
        neighbour = x.clone()
        neighbour[0, 1] += 5.0  # pixel (0, 1): in the unshifted window of (0, 0)
        assert not torch.allclose(plain(neighbour, (6, 6))[0, 0], plain(x, (6, 6))[0, 0])


def test_patch_merging_concatenates_in_unfold_order():
    merging = PatchMerging(3, 12, norm_cfg=None)
    with torch.no_grad():
        merging.reduction.weight.copy_(torch.eye(12))  # output = the concatenated 2x2 neighbourhoods
    x = torch.randn(2, 3, 4, 6)
    out, hw = merging(x.flatten(2).transpose(1, 2), (4, 6))
    assert hw == (2, 3)
    assert torch.equal(out, F.unfold(x, kernel_size=2, stride=2).transpose(1, 2))  # MMSegmentation's nn.Unfold
    odd, odd_hw = merging(torch.randn(1, 5 * 3, 3), (5, 3))
    assert odd_hw == (3, 2) and odd.shape == (1, 6, 12)  # zero-padded to 6x4


@pytest.mark.parametrize("size, grids", [((64, 64), [(16, 16), (8, 8), (4, 4), (2, 2)]),
                                         ((70, 50), [(18, 13), (9, 7), (5, 4), (3, 2)])])
def test_stage_outputs_have_strides_4_to_32_and_doubling_widths(size, grids):
    torch.manual_seed(0)
    model = SwinTransformer(embed_dims=8, depths=(1, 2, 1, 2), num_heads=(1, 1, 2, 2)).eval()
    with torch.no_grad():
        outs = model(torch.randn(2, 3, *size))
    assert [tuple(o.shape) for o in outs] == [(2, c, *g) for c, g in zip((8, 16, 32, 64), grids)]


def test_blocks_alternate_plain_and_shifted_windows_and_drop_path_is_off_in_eval():
    model = tiny(drop_path_rate=0.6)
    assert [b.attn.shift_size for stage in model.stages for b in stage.blocks] == [0, 1, 0, 1]
    assert [b.attn.drop_path.drop_prob for stage in model.stages for b in stage.blocks] == pytest.approx(
        [0.0, 0.2, 0.4, 0.6])
    plain = tiny()
    plain.load_state_dict(model.state_dict())
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        model.eval(), plain.eval()
        assert all(torch.equal(a, b) for a, b in zip(model(x), plain(x)))
        model.train()
        assert not all(torch.equal(a, b) for a, b in zip(model(x), plain(x)))


def test_absolute_position_embedding_is_resized_to_the_input():
    model = tiny(use_abs_pos_embed=True, pretrain_img_size=32)
    assert model.absolute_pos_embed.shape == (1, 64, 8)
    assert [tuple(o.shape) for o in model(torch.randn(1, 3, 48, 40))] == [(1, 8, 12, 10), (1, 16, 6, 5)]


def test_frozen_stages_freeze_the_embedding_and_first_stages():
    model = tiny(frozen_stages=1).train()
    frozen = [model.patch_embed, model.stages[0], model.norm0]
    assert all(not p.requires_grad for m in frozen for p in m.parameters())
    assert all(not m.training for f in frozen for m in f.modules())
    assert all(p.requires_grad for p in model.stages[1].parameters()) and model.stages[1].training


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
    (dict(num_heads=(3, 6, 12)), "need one entry per stage"),
    (dict(strides=(4, 2, 2, 1)), "must all be 2"),
    (dict(strides=(2, 2, 2, 2)), "must equal patch_size=4"),
    (dict(out_indices=(4,)), "out_indices"),
    (dict(frozen_stages=5), "frozen_stages=5"),
])
def test_config_errors_name_the_key(cfg, message):
    with pytest.raises(ConfigError, match=message) as err:
        MODELS.build(dict(type="SwinTransformer", **cfg), key="backbone")
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


def microsoft_state(seed=0) -> dict[str, torch.Tensor]:
    """A state dict in Microsoft's layout (``swin_tiny_patch4_window7_224.pth['model']``) for ``tiny()``:
    ``layers.i.blocks.j.{norm1, attn.{relative_position_bias_table, relative_position_index, qkv, proj},
    norm2, mlp.fc1, mlp.fc2}``, ``attn_mask`` buffers of shifted blocks, ``layers.0.downsample.{reduction,
    norm}`` closing stage 0, the final ``norm`` and the classifier ``head``."""
    g = torch.Generator().manual_seed(seed)
    shapes = {"patch_embed.proj.weight": (8, 3, 4, 4), "patch_embed.proj.bias": (8,),
              "patch_embed.norm.weight": (8,), "patch_embed.norm.bias": (8,)}
    for i, (c, heads) in enumerate(((8, 1), (16, 2))):
        for j in range(2):
            b = f"layers.{i}.blocks.{j}."
            shapes.update({b + "norm1.weight": (c,), b + "norm1.bias": (c,),
                           b + "attn.relative_position_bias_table": (9, heads),
                           b + "attn.qkv.weight": (3 * c, c), b + "attn.qkv.bias": (3 * c,),
                           b + "attn.proj.weight": (c, c), b + "attn.proj.bias": (c,),
                           b + "norm2.weight": (c,), b + "norm2.bias": (c,),
                           b + "mlp.fc1.weight": (4 * c, c), b + "mlp.fc1.bias": (4 * c,),
                           b + "mlp.fc2.weight": (c, 4 * c), b + "mlp.fc2.bias": (c,)})
    shapes.update({"layers.0.downsample.reduction.weight": (16, 32), "layers.0.downsample.norm.weight": (32,),
                   "layers.0.downsample.norm.bias": (32,), "norm.weight": (16,), "norm.bias": (16,),
                   "head.weight": (1000, 16), "head.bias": (1000,)})
    state = {k: torch.randn(shape, generator=g) for k, shape in shapes.items()}
    for i in range(2):
        for j in range(2):
            state[f"layers.{i}.blocks.{j}.attn.relative_position_index"] = relative_position_index(2)
        state[f"layers.{i}.blocks.1.attn_mask"] = torch.zeros(4, 4, 4)
    return state


def microsoft_patch_merging(state: dict, x: torch.Tensor) -> torch.Tensor:
    """Microsoft's PatchMerging.forward, written out: positions (0,0), (1,0), (0,1), (1,1) concatenated."""
    x = torch.cat([x[:, 0::2, 0::2], x[:, 1::2, 0::2], x[:, 0::2, 1::2], x[:, 1::2, 1::2]], dim=-1)
    x = F.layer_norm(x, (x.shape[-1],), state["layers.0.downsample.norm.weight"],
                     state["layers.0.downsample.norm.bias"])
    return x @ state["layers.0.downsample.reduction.weight"].T


def test_microsoft_layout_maps_to_every_entry(seglab_log):
    state = microsoft_state()
    mapped = swin_key_map(state)
    model = tiny()
    report = load_checkpoint(model, mapped)
    # Microsoft's checkpoint has no per-output norms (MMSegmentation's norm0.. keep their init, as in 0.x).
    assert report.missing == ["norm0.weight", "norm0.bias", "norm1.weight", "norm1.bias"]
    assert not report.unexpected and not report.mismatched
    assert torch.equal(mapped["stages.1.blocks.0.attn.w_msa.qkv.weight"], state["layers.1.blocks.0.attn.qkv.weight"])
    assert torch.equal(mapped["stages.0.blocks.1.ffn.layers.0.0.bias"], state["layers.0.blocks.1.mlp.fc1.bias"])
    assert torch.equal(mapped["stages.0.blocks.1.ffn.layers.1.weight"], state["layers.0.blocks.1.mlp.fc2.weight"])
    assert torch.equal(mapped["patch_embed.projection.weight"], state["patch_embed.proj.weight"])
    assert torch.equal(mapped["stages.1.blocks.1.attn.w_msa.relative_position_bias_table"],
                       state["layers.1.blocks.1.attn.relative_position_bias_table"])
    messages = "\n".join(r.getMessage() for r in seglab_log.records)
    assert ("dropped head.bias, head.weight, layers.0.blocks.1.attn_mask, layers.1.blocks.1.attn_mask, "
            "norm.bias, norm.weight") in messages


def test_microsoft_patch_merging_weights_give_the_same_result_after_mapping():
    state = microsoft_state()
    model = tiny()
    load_checkpoint(model, swin_key_map(state))
    x = torch.randn(2, 6, 4, 8)  # (B, H, W, C) tokens of stage 0
    with torch.no_grad():
        ours, hw = model.stages[0].downsample(x.reshape(2, 24, 8), (6, 4))
    assert hw == (3, 2)
    assert torch.allclose(ours, microsoft_patch_merging(state, x).reshape(2, 6, 16), atol=1e-5)
    assert unfold_order(torch.arange(8.0)).tolist() == [0, 4, 2, 6, 1, 5, 3, 7]  # C=2: c-major, (0,0),(0,1),(1,0),(1,1)


def test_microsoft_checkpoint_file_loads_in_init_weights(tmp_path):
    path = tmp_path / "swin_tiny_patch4_window7_224.pth"
    state = microsoft_state()
    torch.save({"model": state}, path)
    model = tiny(init_cfg=dict(type="Pretrained", checkpoint=str(path)))
    model.init_weights()
    assert torch.equal(model.stages[0].blocks[1].attn.w_msa.proj.bias, state["layers.0.blocks.1.attn.proj.bias"])


def test_mmseg_segmentor_checkpoint_loads_the_backbone(tmp_path):
    g = torch.Generator().manual_seed(3)
    weights = {k: torch.rand(v.shape, generator=g) if v.is_floating_point() else v
               for k, v in tiny().state_dict().items()}
    path = str(tmp_path / "upernet_swin.pth")
    torch.save({"state_dict": {f"backbone.{k}": v for k, v in weights.items()}}, path)
    model = tiny(pretrained=path)
    model.init_weights()
    assert all(torch.equal(v, weights[k]) for k, v in model.state_dict().items())
