"""``seglab lr-table`` run in-process: the table, --json, warnings, errors and the reference numbers."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from seglab.cli import main

TINY_CONFIG = """
optimizer = dict(type='SGD', lr=0.01, momentum=0.9, weight_decay=0.0005,
                 paramwise_cfg=dict(norm_decay_mult=0., custom_keys={'conv_seg': dict(lr_mult=10.)}))
lr_config = dict(policy='poly', power=1.0, min_lr=0.0, by_epoch=False)
runner = dict(type='IterBasedRunner', max_iters=100)
# A head alone is a buildable model: convs.0.conv.weight, convs.0.bn.{weight,bias}, conv_seg.{weight,bias}.
model = dict(type='FCNHead', in_channels=4, channels=4, num_convs=1, concat_input=False, num_classes=2,
             norm_cfg=dict(type='BN'))
"""


@pytest.fixture
def tiny_config(tmp_path: Path) -> Path:
    path = tmp_path / "tiny.py"
    path.write_text(TINY_CONFIG)
    return path


def run_json(capsys, *argv: str) -> dict[str, dict]:
    assert main(["lr-table", *argv, "--json"]) == 0
    return {row["name"]: row for row in json.loads(capsys.readouterr().out)}


def test_json_lists_every_parameter_with_lr_at_the_iteration(tiny_config, capsys):
    rows = run_json(capsys, str(tiny_config), "--iter", "25")
    assert list(rows) == ["conv_seg.weight", "conv_seg.bias", "convs.0.conv.weight", "convs.0.bn.weight",
                          "convs.0.bn.bias"]
    # poly, power 1, 100 iterations: at 25 the lr is 3/4 of each parameter's own initial lr.
    assert rows["conv_seg.bias"] == {"name": "conv_seg.bias", "lr": pytest.approx(0.075), "weight_decay": 0.0005,
                                     "rule": "custom_keys['conv_seg']"}
    assert rows["convs.0.conv.weight"]["lr"] == pytest.approx(0.0075)
    assert rows["convs.0.conv.weight"]["rule"] == "default"
    assert rows["convs.0.bn.weight"]["weight_decay"] == 0.0
    assert rows["convs.0.bn.weight"]["rule"] == "norm_decay_mult"


def test_table_groups_parameters_by_rule(tiny_config, capsys):
    assert main(["lr-table", str(tiny_config), "--iter", "50"]) == 0
    out = capsys.readouterr().out
    assert "5 parameters, Poly schedule over 100 iterations; lr shown at iteration 50" in out
    blocks = out.split("\n\n")[-1].splitlines()
    assert blocks == [
        "custom_keys['conv_seg']: 2 parameters, lr 0.05 (initial 0.1), weight_decay 0.0005",
        "    conv_seg.weight",
        "    conv_seg.bias",
        "default: 1 parameter, lr 0.005 (initial 0.01), weight_decay 0.0005",
        "    convs.0.conv.weight",
        "norm_decay_mult: 2 parameters, lr 0.005 (initial 0.01), weight_decay 0",
        "    convs.0.bn.weight",
        "    convs.0.bn.bias",
    ]


def test_cfg_options_apply_and_unmatched_keys_warn_with_did_you_mean(tiny_config, capsys):
    assert main(["lr-table", str(tiny_config), "--json", "--cfg-options", "optimizer.lr=0.1",
                 "optimizer.paramwise_cfg.custom_keys.conv_seq.lr_mult=2.0"]) == 0
    captured = capsys.readouterr()
    rows = {row["name"]: row for row in json.loads(captured.out)}
    assert rows["convs.0.conv.weight"]["lr"] == pytest.approx(0.1)
    assert rows["conv_seg.weight"]["lr"] == pytest.approx(1.0)
    assert captured.err.splitlines() == [
        "warning: optimizer.paramwise_cfg.custom_keys 'conv_seq' matches no parameter name. "
        "Did you mean 'conv_seg' or 'convs' or 'convs.0'?"]


@pytest.mark.parametrize("argv, message", [
    (["--iter", "101"], "--iter 101 is outside the schedule: it must be between 0 and runner.max_iters=100"),
    (["--iter", "-1"], "--iter -1 is outside the schedule"),
    (["--cfg-options", "lr_config.policy=ploy"], "unknown lr schedule type 'ploy'. Did you mean 'poly'"),
    (["--cfg-options", "optimizer.type=SDG"], "unknown optimizer type 'SDG'. Did you mean 'SGD'"),
])
def test_errors_exit_non_zero_with_one_line(tiny_config, capsys, argv, message):
    assert main(["lr-table", str(tiny_config), *argv]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("seglab lr-table: error: ") and message in lines[0]


def test_unknown_config_file_is_an_error(tmp_path, capsys):
    assert main(["lr-table", str(tmp_path / "missing.py")]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "missing.py" in err[0]


# --------------------------------------------------------------------------- reference numbers
def reference_cases(fixtures_dir: Path) -> dict[str, dict]:
    return json.loads((fixtures_dir / "reference-numbers.json").read_text())["lr"]


@pytest.mark.parametrize("case", ["pspnet_backbone_x0.1", "pspnet_norm_bias_and_keys", "unet_decoder_x10"])
def test_reference_numbers(case, fixtures_dir, configs_dir, tmp_path, capsys):
    reference = reference_cases(fixtures_dir)[case]
    config = tmp_path / f"{case}.py"
    config.write_text(reference["config"].replace("<configs>", configs_dir.as_posix()))
    at_0 = run_json(capsys, str(config))
    at_20000 = run_json(capsys, str(config), "--iter", "20000")
    expected = reference["params"]
    assert sorted(at_0) == sorted(expected)
    for name, want in expected.items():
        assert at_0[name]["lr"] == pytest.approx(want["lr"], rel=1e-9, abs=1e-15), name
        assert at_0[name]["weight_decay"] == pytest.approx(want["weight_decay"], rel=1e-9, abs=1e-15), name
        assert at_20000[name]["lr"] == pytest.approx(want["lr_at_iter_20000"], rel=1e-9, abs=1e-15), name
        assert at_20000[name]["weight_decay"] == at_0[name]["weight_decay"]


SEGFORMER = "segformer/segformer_mit-b0_512x512_160k_ade20k.py"


@pytest.mark.filterwarnings("ignore:norm_cfg type 'SyncBN'")
def test_segformer_recipe_rules_reach_the_right_parameters(configs_dir, capsys):
    """AdamW lr 6e-5, weight decay 0.01; custom keys 'pos_block' (MiT has none), 'norm' (no decay) and
    'head' (lr x10), matched as substrings of the full names, longest key first."""
    assert main(["lr-table", str(configs_dir / SEGFORMER), "--iter", "1500", "--json"]) == 0
    out, err = capsys.readouterr()
    rows = {row["name"]: row for row in json.loads(out)}
    by_rule: dict[str, list[dict]] = {}
    for row in rows.values():
        by_rule.setdefault(row["rule"], []).append(row)
    # norm: 4 patch-embedding norms, norm1 + norm2 of 8 layers, the spatial-reduction norm of the 6
    # layers with sr_ratio > 1 (weight and bias each); head: 4 convs + fusion (conv, bn weight/bias), conv_seg.
    assert {rule: len(r) for rule, r in by_rule.items()} == {"default": 108, "custom_keys['norm']": 52,
                                                             "custom_keys['head']": 17}
    assert "'pos_block' matches no parameter name" in err
    lr = 6e-5  # the warm-up has ended at iteration 1500; poly (power 1) has decayed 1500 of 160000
    decayed = 1 - 1500 / 160000
    for row in by_rule["custom_keys['norm']"]:
        assert ".norm" in row["name"] and row["weight_decay"] == 0.0
        assert row["lr"] == pytest.approx(lr * decayed)
    for row in by_rule["custom_keys['head']"]:
        assert row["name"].startswith("decode_head.") and row["weight_decay"] == 0.01
        assert row["lr"] == pytest.approx(10 * lr * decayed)
    for row in by_rule["default"]:
        assert row["name"].startswith("backbone.") and row["weight_decay"] == 0.01
    # The stage-closing LayerNorms are named layers.i.2, without 'norm': they keep the weight decay, as in 0.x.
    assert {r["name"] for r in by_rule["default"] if r["name"].endswith(".2.weight")} == {
        f"backbone.layers.{i}.2.weight" for i in range(4)}
    warm = run_json(capsys, str(configs_dir / SEGFORMER), "--iter", "0")
    assert warm["decode_head.conv_seg.weight"]["lr"] == pytest.approx(6e-4 * 1e-6)  # linear warm-up from 1e-6
