"""Dotted overrides (merge_from_dict) and the --cfg-options argparse action."""
from __future__ import annotations

import argparse

import pytest

from seglab.config import Config, DictAction
from seglab.errors import ConfigError


@pytest.fixture
def cfg() -> Config:
    return Config(dict(
        model=dict(decode_head=dict(num_classes=19, sampler=None, loss=dict(type="CE", w=1.0)),
                   backbone=dict(dilations=(1, 1, 2, 4))),
        optimizer=dict(type="SGD", lr=0.01),
        pipeline=[dict(type="Load"), dict(type="Resize", scale=(2048, 1024)), dict(type="Flip")],
    ))


def test_nested_keys_are_set_and_the_rest_kept(cfg):
    cfg.merge_from_dict({"model.decode_head.num_classes": 2, "optimizer.lr": 0.02})
    assert cfg.model.decode_head.num_classes == 2
    assert cfg.model.decode_head.loss == {"type": "CE", "w": 1.0}
    assert cfg.optimizer == {"type": "SGD", "lr": 0.02}


def test_list_items_are_indexed_and_tuples_stay_tuples(cfg):
    cfg.merge_from_dict({"pipeline.1.scale": (512, 256), "pipeline.-1.prob": 0.5,
                         "model.backbone.dilations.3": 8})
    assert cfg.pipeline == [{"type": "Load"}, {"type": "Resize", "scale": (512, 256)},
                            {"type": "Flip", "prob": 0.5}]
    assert cfg.model.backbone.dilations == (1, 1, 2, 8)
    assert isinstance(cfg.model.backbone.dilations, tuple)


def test_a_whole_list_or_tuple_value_replaces(cfg):
    cfg.merge_from_dict({"model.backbone.dilations": (1, 2), "pipeline": ["a"]})
    assert cfg.model.backbone.dilations == (1, 2) and cfg.pipeline == ["a"]


def test_new_keys_are_created(cfg):
    cfg.merge_from_dict({"model.decode_head.extra": 1, "new.key": "v"})
    assert cfg.model.decode_head.extra == 1
    assert cfg.new == {"key": "v"}


def test_dict_over_none_replaces_the_none(cfg):
    cfg.merge_from_dict({"model.decode_head.sampler.type": "OHEMPixelSampler",
                         "model.decode_head.sampler.min_kept": 100000})
    assert cfg.model.decode_head.sampler == {"type": "OHEMPixelSampler", "min_kept": 100000}


def test_dict_value_merges_into_a_dict(cfg):
    cfg.merge_from_dict({"model.decode_head.loss": {"w": 3.0}})
    assert cfg.model.decode_head.loss == {"type": "CE", "w": 3.0}


def test_dict_over_a_number_is_an_error_naming_key_values_and_fix(cfg):
    with pytest.raises(ConfigError) as e:
        cfg.merge_from_dict({"optimizer.lr.x": 1})
    message = str(e.value)
    assert message.startswith("optimizer.lr: ")
    assert "{'x': 1}" in message and "0.01" in message and "optimizer.lr._delete_=True" in message
    assert cfg.optimizer.lr == 0.01  # a failed override changes nothing


def test_the_delete_fix_works_as_an_override(cfg):
    cfg.merge_from_dict({"optimizer.lr._delete_": True, "optimizer.lr.x": 1})
    assert cfg.optimizer.lr == {"x": 1}
    cfg.merge_from_dict({"model.decode_head.loss._delete_": True, "model.decode_head.loss.type": "Dice"})
    assert cfg.model.decode_head.loss == {"type": "Dice"}


def test_list_index_out_of_range_names_the_path(cfg):
    with pytest.raises(ConfigError, match=r"^pipeline\.5: index 5 is out of range; pipeline has 3 item\(s\)"):
        cfg.merge_from_dict({"pipeline.5.type": "X"})


def test_a_name_into_a_list_names_the_path(cfg):
    with pytest.raises(ConfigError, match=r"^pipeline\.type: pipeline is a list, so the next part .* not 'type'"):
        cfg.merge_from_dict({"pipeline.type": "X"})


def test_a_path_through_a_string_names_the_path(cfg):
    with pytest.raises(ConfigError, match=r"^optimizer\.type: cannot merge .* 'SGD'"):
        cfg.merge_from_dict({"optimizer.type.name": "X"})


def test_bad_override_keys(cfg):
    with pytest.raises(ConfigError, match="has an empty part"):
        cfg.merge_from_dict({"model..x": 1})
    with pytest.raises(ConfigError, match="a top-level config key is a Python name not starting with '_'"):
        cfg.merge_from_dict({"_private.x": 1})


def parse(*tokens: str) -> dict:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cfg-options", nargs="+", action=DictAction, default={})
    return parser.parse_args(["--cfg-options", *tokens]).cfg_options


def test_dict_action_parses_literals_and_falls_back_to_strings():
    options = parse("model.decode_head.num_classes=2", "optimizer.lr=0.02", "model.backbone.dilations=(1,1,2,4)",
                    "a=None", "b=True", "c='quoted'", "d=open-mmlab://resnet50_v1c", "e=[1,2]", "f=",
                    "g=x=y", "h={'k': 1}")
    assert options == {"model.decode_head.num_classes": 2, "optimizer.lr": 0.02,
                       "model.backbone.dilations": (1, 1, 2, 4), "a": None, "b": True, "c": "quoted",
                       "d": "open-mmlab://resnet50_v1c", "e": [1, 2], "f": "", "g": "x=y", "h": {"k": 1}}
    assert isinstance(options["model.backbone.dilations"], tuple)


def test_dict_action_reads_unquoted_sequences_as_lists_of_strings():
    options = parse("k1=[a,b]", "k2=a,b", "k3=(a, b)", "k4=[a,[b,c],1]", "k5=[img,'x,y']", "k6=[a,]")
    assert options == {"k1": ["a", "b"], "k2": ["a", "b"], "k3": ("a", "b"), "k4": ["a", ["b", "c"], 1],
                       "k5": ["img", "x,y"], "k6": ["a"]}


def test_dict_action_accumulates_over_repeated_options():
    parser = argparse.ArgumentParser()
    parser.add_argument("--cfg-options", nargs="+", action=DictAction)
    args = parser.parse_args(["--cfg-options", "a=1", "--cfg-options", "b=2", "a=3"])
    assert args.cfg_options == {"a": 3, "b": 2}


def test_dict_action_rejects_a_token_without_equals(capsys):
    with pytest.raises(SystemExit) as e:
        parse("optimizer.lr=0.1", "optimizer.lr")
    assert e.value.code == 2
    assert "expected KEY=VALUE (like optimizer.lr=0.02), got 'optimizer.lr'" in capsys.readouterr().err


def test_parsed_options_apply_to_a_config(cfg):
    cfg.merge_from_dict(parse("pipeline.1.scale=(1024,512)", "model.decode_head.sampler.type=OHEM",
                              "model.decode_head.loss.w=0.5"))
    assert cfg.pipeline[1].scale == (1024, 512)
    assert cfg.model.decode_head.sampler.type == "OHEM" and cfg.model.decode_head.loss.w == 0.5
