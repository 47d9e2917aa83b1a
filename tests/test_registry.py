"""The registry: registration, lookup and build errors that name the config path."""
import pytest

from seglab.errors import ConfigError
from seglab.registry import Registry, did_you_mean


@pytest.fixture
def registry():
    reg = Registry("widget")

    @reg.register
    class OHEMPixelSampler:
        def __init__(self, context=None, thresh=None, min_kept=100000):
            self.context, self.thresh, self.min_kept = context, thresh, min_kept

    @reg.register(name="Holder")
    class Holder:
        def __init__(self, child, size: int):
            self.child = reg.build(child, key="child")
            self.size = size

    return reg


def test_build_passes_keys_and_defaults(registry):
    obj = registry.build({"type": "OHEMPixelSampler", "thresh": 0.7}, context="head")
    assert (obj.context, obj.thresh, obj.min_kept) == ("head", 0.7, 100000)


def test_config_value_wins_over_default(registry):
    obj = registry.build({"type": "OHEMPixelSampler", "min_kept": 5}, min_kept=7)
    assert obj.min_kept == 5


def test_build_none_builds_nothing(registry):
    assert registry.build(None) is None


def test_type_may_be_a_class(registry):
    cls = registry.get("OHEMPixelSampler")
    assert isinstance(registry.build({"type": cls}), cls)


def test_unknown_type_suggests_case_insensitive_match(registry):
    with pytest.raises(ConfigError) as e:
        registry.build({"type": "OhemPixelSampler"}, key="sampler")
    msg = str(e.value)
    assert "sampler.type" in msg and "'OhemPixelSampler'" in msg
    assert "Did you mean 'OHEMPixelSampler'?" in msg
    assert "Holder" in msg  # lists what is registered


def test_unknown_key_names_path_suggestion_and_accepted_keys(registry):
    with pytest.raises(ConfigError) as e:
        registry.build({"type": "Holder", "size": 1,
                        "child": {"type": "OHEMPixelSampler", "threshold": 0.7}}, key="model")
    msg = str(e.value)
    assert msg.startswith("model.child: OHEMPixelSampler does not take the key 'threshold'.")
    assert "Did you mean 'thresh'?" in msg
    assert "Accepted keys: context, thresh, min_kept" in msg


def test_missing_required_key(registry):
    with pytest.raises(ConfigError, match=r"model: Holder needs the key\(s\) 'size'"):
        registry.build({"type": "Holder", "child": None}, key="model")


def test_missing_type_and_non_dict(registry):
    with pytest.raises(ConfigError, match="no 'type' key"):
        registry.build({"thresh": 1}, key="sampler")
    with pytest.raises(ConfigError, match="expected a dict"):
        registry.build(["OHEMPixelSampler"], key="sampler")


def test_path_is_popped_after_errors(registry):
    with pytest.raises(ConfigError):
        registry.build({"type": "Nope"}, key="a")
    with pytest.raises(ConfigError) as e:
        registry.build({"type": "Nope"}, key="b")
    assert str(e.value).startswith("b.type:")


def test_duplicate_registration_is_an_error(registry):
    with pytest.raises(KeyError, match="already registered"):
        registry.register(lambda: None, name="Holder")


def test_repr_and_contains(registry):
    assert "OHEMPixelSampler" in registry and "Nope" not in registry
    assert "Holder" in repr(registry) and len(registry) == 2


def test_did_you_mean_without_close_match():
    assert did_you_mean("zzzz", ["alpha", "beta"]) == ""


class _Base:
    def __init__(self, pipeline, img_dir, img_suffix=".jpg", ann_dir=None):
        self.args = dict(pipeline=pipeline, img_dir=img_dir, img_suffix=img_suffix, ann_dir=ann_dir)


class _Middle(_Base):  # no constructor of its own: the search goes on past it
    pass


class _ChangesADefault(_Middle):
    def __init__(self, *, img_suffix=".png", **kwargs):
        super().__init__(img_suffix=img_suffix, **kwargs)


class _Sink:
    def __init__(self, **kwargs):
        self.kwargs = kwargs


def test_kwargs_passed_to_the_parent_are_checked_against_its_signature(registry):
    registry.register(_ChangesADefault)
    built = registry.build({"type": "_ChangesADefault", "pipeline": [], "img_dir": "x"})
    assert built.args == {"pipeline": [], "img_dir": "x", "img_suffix": ".png", "ann_dir": None}
    with pytest.raises(ConfigError, match=r"does not take the key 'ann_dri'.*Did you mean 'ann_dir'.*"
                                          r"Accepted keys: img_suffix, pipeline, img_dir, ann_dir"):
        registry.build({"type": "_ChangesADefault", "pipeline": [], "img_dir": "x", "ann_dri": "y"})
    with pytest.raises(ConfigError, match=r"needs the key\(s\) 'img_dir'"):
        registry.build({"type": "_ChangesADefault", "pipeline": []})


def test_kwargs_that_reach_no_constructor_accept_anything(registry):
    registry.register(_Sink)
    assert registry.build({"type": "_Sink", "anything": 1}).kwargs == {"anything": 1}


# ---------------------------------------------------------------- mmcv 1.x spellings
def test_register_module_in_every_mmcv_form():
    reg = Registry("widget")

    @reg.register_module()
    class A:
        pass

    @reg.register_module
    class B:
        pass

    @reg.register_module(name=["C1", "C2"])
    class C:
        pass

    class D:
        pass

    assert reg.register_module(name="Dee", module=D) is D
    assert reg.get("A") is A and reg.get("B") is B and reg.get("C1") is C and reg.get("C2") is C
    assert reg.get("Dee") is D and "D" not in reg
    assert sorted(reg.module_dict) == ["A", "B", "C1", "C2", "Dee"]
    with pytest.raises(KeyError, match="'A' is already registered"):
        reg.register_module(name="A", module=D)
    assert reg.register_module(name="A", force=True, module=D) is D and reg.get("A") is D


def test_build_takes_mmcv_default_args(registry):
    obj = registry.build({"type": "OHEMPixelSampler", "min_kept": 5}, default_args={"thresh": 0.5, "min_kept": 9})
    assert (obj.thresh, obj.min_kept) == (0.5, 5)


def test_build_from_cfg_is_mmcv_s(registry):
    from seglab.registry import build_from_cfg

    obj = build_from_cfg({"type": "OHEMPixelSampler"}, registry, default_args={"thresh": 0.9})
    assert obj.thresh == 0.9
