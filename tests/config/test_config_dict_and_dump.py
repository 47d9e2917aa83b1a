"""ConfigDict access and conversion, copying and pickling, pretty_text and dump round trips."""
from __future__ import annotations

import copy
import pickle

import pytest

from seglab.config import Config, ConfigDict
from seglab.registry import MODELS, Registry


def make() -> Config:
    return Config(dict(model=dict(type="M", backbone=dict(depth=50, dilations=(1, 2)), pretrained="x"),
                       pipeline=[dict(type="A", keys=["img"]), dict(type="B")]), filename="/tmp/c.py")


def test_attribute_and_item_access_down_every_level():
    cfg = make()
    assert cfg.model.backbone.depth == cfg["model"]["backbone"]["depth"] == 50
    assert cfg.pipeline[0].type == "A" and cfg.pipeline[0]["keys"] == ["img"]
    assert cfg.get("missing", 3) == 3 and cfg.model.get("type") == "M"
    assert all(isinstance(x, ConfigDict) for x in (cfg.model, cfg.model.backbone, cfg.pipeline[1]))
    assert isinstance(cfg, dict) and isinstance(cfg.model, dict)


def test_assignment_converts_plain_dicts():
    cfg = make()
    cfg.model.pretrained = None
    cfg.model.backbone["norm_cfg"] = dict(type="BN", extra=[dict(a=1)])
    cfg.new = {"k": {"v": 1}}
    cfg.model.update(neck=dict(type="N"))
    cfg.setdefault("other", dict(z=1))
    assert cfg.model.pretrained is None
    assert cfg.model.backbone.norm_cfg.type == "BN" and cfg.model.backbone.norm_cfg.extra[0].a == 1
    assert cfg.new.k.v == 1 and cfg.model.neck.type == "N" and cfg.other.z == 1
    del cfg.new
    assert "new" not in cfg


def test_missing_attribute_is_attribute_error_with_did_you_mean():
    cfg = make()
    with pytest.raises(AttributeError, match=r"config has no key 'modle'\. Did you mean 'model'\?"):
        cfg.modle
    with pytest.raises(AttributeError, match="'deph'. Did you mean 'depth'"):
        cfg.model.backbone.deph
    assert not hasattr(cfg, "nothing") and getattr(cfg.model, "nothing", 7) == 7


def test_to_dict_is_plain_all_the_way_down():
    plain = make().to_dict()
    assert type(plain) is dict and type(plain["model"]["backbone"]) is dict
    assert type(plain["pipeline"]) is list and type(plain["pipeline"][0]) is dict
    assert plain["model"]["backbone"]["dilations"] == (1, 2)


def test_copy_deepcopy_and_pickle_keep_type_values_and_filename():
    cfg = make()
    shallow = cfg.copy()
    deep = copy.deepcopy(cfg)
    restored = pickle.loads(pickle.dumps(cfg))
    for other in (shallow, deep, restored):
        assert type(other) is Config and other == cfg and other.filename == "/tmp/c.py"
        assert isinstance(other.model.backbone, ConfigDict)
    deep.model.backbone.depth = 101
    assert cfg.model.backbone.depth == 50
    shallow.model.backbone.depth = 18  # shallow: nested dicts are shared
    assert cfg.model.backbone.depth == 18
    assert type(cfg.model.copy()) is ConfigDict


def test_filename_is_not_a_config_value():
    cfg = make()
    assert "filename" not in cfg and "_filename" not in cfg
    assert Config().filename is None and dict(Config()) == {}


def test_registry_builds_from_config_dict_nodes():
    registry = Registry("test")

    @registry.register
    class Thing:
        def __init__(self, depth: int = 1, norm_cfg: dict | None = None) -> None:
            self.depth, self.norm_cfg = depth, norm_cfg

    thing = registry.build(ConfigDict(type="Thing", depth=3, norm_cfg=dict(type="BN")))
    assert thing.depth == 3 and thing.norm_cfg["type"] == "BN"
    assert MODELS.build(None) is None


def test_pretty_text_is_loadable_python_with_tuples(tmp_path):
    cfg = make()
    cfg.merge_from_dict({"odd": {"not a name": 1, 2: (3,)}, "inf": float("inf"), "empty": {}, "t": ()})
    path = tmp_path / "out" / "dumped.py"
    cfg.dump(path)
    reloaded = Config.fromfile(path)
    assert reloaded == cfg
    assert isinstance(reloaded.model.backbone.dilations, tuple) and reloaded.odd[2] == (3,)
    assert reloaded.filename == str(path)
    assert cfg.dump() == cfg.pretty_text == path.read_text()


def test_long_values_are_wrapped_one_item_per_line():
    cfg = Config(dict(model=dict(backbone=dict(type="ResNetV1c", **{f"option_{i}": i for i in range(12)}))))
    text = cfg.pretty_text
    assert text.startswith("model = dict(\n    backbone=dict(\n        type='ResNetV1c',\n        option_0=0,\n")
    assert max(len(line) for line in text.splitlines()) <= 100
    namespace: dict = {}
    exec(text, namespace)
    assert namespace["model"] == cfg.model


def test_dump_round_trip_of_a_file_with_bases(tmp_path):
    (tmp_path / "b.py").write_text("m = dict(a=(1, 2), l=[dict(x=None)])\nz = 'q'\n")
    (tmp_path / "c.py").write_text("_base_ = 'b.py'\nm = dict(b={{_base_.m.a}})\n")
    cfg = Config.fromfile(tmp_path / "c.py")
    cfg.dump(tmp_path / "resolved.py")
    assert "_base_" not in (tmp_path / "resolved.py").read_text()
    assert Config.fromfile(tmp_path / "resolved.py").to_dict() == cfg.to_dict() == \
        {"m": {"a": (1, 2), "l": [{"x": None}], "b": (1, 2)}, "z": "q"}
