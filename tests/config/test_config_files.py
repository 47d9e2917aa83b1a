"""Loading config files: _base_ inheritance, merge rules, {{_base_.x}} and file errors."""
from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from seglab.config import Config, ConfigDict
from seglab.errors import ConfigError


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text))
    return path


def test_plain_file_values_skip_underscore_names_modules_and_functions(tmp_path):
    path = write(tmp_path, "a.py", """
        import math
        from os.path import join
        def helper():
            return 1
        _private = 5
        lr = 0.01 * helper()
        pi = math.pi
        steps = [1, 2]
    """)
    cfg = Config.fromfile(path)
    assert dict(cfg) == {"lr": 0.01, "pi": pytest.approx(3.14159265), "steps": [1, 2]}
    assert cfg.filename == str(path)


def test_multi_level_inheritance_merges_dicts_recursively(tmp_path):
    write(tmp_path, "base/root.py", "model = dict(a=1, sub=dict(x=1, y=2), keep='root')\nroot_only = 1\n")
    write(tmp_path, "base/mid.py", "_base_ = './root.py'\nmodel = dict(a=2, sub=dict(y=3))\nmid_only = 2\n")
    child = write(tmp_path, "child.py", "_base_ = 'base/mid.py'\nmodel = dict(sub=dict(z=4))\n")
    cfg = Config.fromfile(child)
    assert cfg.to_dict() == {"model": {"a": 2, "sub": {"x": 1, "y": 3, "z": 4}, "keep": "root"},
                             "root_only": 1, "mid_only": 2}


def test_several_bases_merge_left_to_right_then_the_child(tmp_path):
    write(tmp_path, "one.py", "opt = dict(lr=1, momentum=0.9)\nonly_one = 1\norder = 'one'\n")
    write(tmp_path, "two.py", "opt = dict(lr=2)\norder = 'two'\n")
    child = write(tmp_path, "c.py", "_base_ = ['./one.py', './two.py']\nopt = dict(wd=3)\n")
    cfg = Config.fromfile(child)
    assert cfg.to_dict() == {"opt": {"lr": 2, "momentum": 0.9, "wd": 3}, "only_one": 1, "order": "two"}
    assert list(cfg) == ["opt", "only_one", "order"]  # base order, child keys after


def test_lists_and_tuples_replace_whole_and_tuples_stay_tuples(tmp_path):
    write(tmp_path, "b.py", "steps = [1, 2, 3]\nm = dict(dil=(1, 1, 2, 4), losses=[dict(a=1), dict(b=2)])\n")
    child = write(tmp_path, "c.py", "_base_ = 'b.py'\nsteps = [9]\nm = dict(losses=[dict(c=3)])\n")
    cfg = Config.fromfile(child)
    assert cfg.steps == [9]
    assert cfg.m.losses == [{"c": 3}]
    assert cfg.m.dil == (1, 1, 2, 4) and isinstance(cfg.m.dil, tuple)


def test_delete_replaces_the_base_dict_and_is_dropped(tmp_path):
    write(tmp_path, "b.py", "m = dict(head=dict(type='A', a=1, b=2), other=1)\n")
    child = write(tmp_path, "c.py", "_base_ = 'b.py'\nm = dict(head=dict(_delete_=True, type='B', c=3))\n")
    assert Config.fromfile(child).to_dict() == {"m": {"head": {"type": "B", "c": 3}, "other": 1}}


def test_delete_false_merges_and_delete_over_a_number_replaces_it(tmp_path):
    write(tmp_path, "b.py", "m = dict(x=dict(a=1), n=5)\n")
    child = write(tmp_path, "c.py", "_base_ = 'b.py'\nm = dict(x=dict(_delete_=False, b=2), n=dict(_delete_=True, k=1))\n")
    assert Config.fromfile(child).to_dict() == {"m": {"x": {"a": 1, "b": 2}, "n": {"k": 1}}}


def test_delete_keys_are_stripped_from_new_dicts_too(tmp_path):
    child = write(tmp_path, "c.py", "m = dict(new=dict(_delete_=True, deeper=dict(_delete_=True, v=1)))\n")
    assert Config.fromfile(child).to_dict() == {"m": {"new": {"deeper": {"v": 1}}}}


def test_dict_over_none_replaces_it(tmp_path):
    write(tmp_path, "b.py", "m = dict(sampler=None)\n")
    child = write(tmp_path, "c.py", "_base_ = 'b.py'\nm = dict(sampler=dict(type='OHEM'))\n")
    assert Config.fromfile(child).m.sampler == {"type": "OHEM"}


def test_dict_over_a_number_names_file_key_values_and_the_fix(tmp_path):
    write(tmp_path, "b.py", "optimizer = dict(lr=0.01)\n")
    child = write(tmp_path, "c.py", "_base_ = 'b.py'\noptimizer = dict(lr=dict(value=1))\n")
    with pytest.raises(ConfigError) as e:
        Config.fromfile(child)
    message = str(e.value)
    assert str(child) in message and "optimizer.lr" in message
    assert "0.01" in message and "{'value': 1}" in message and "_delete_=True" in message


def test_delete_must_be_a_bool_and_is_meaningless_inside_a_list(tmp_path):
    write(tmp_path, "b.py", "m = dict(x=dict(a=1))\n")
    child = write(tmp_path, "c.py", "_base_ = 'b.py'\nm = dict(x=dict(_delete_='yes'))\n")
    with pytest.raises(ConfigError, match=r"c\.py: m\.x\._delete_ must be True or False, got 'yes'"):
        Config.fromfile(child)
    child = write(tmp_path, "d.py", "_base_ = 'b.py'\nm = dict(x=[dict(_delete_=True, a=2)])\n")
    with pytest.raises(ConfigError, match=r"d\.py: m\.x\[0\]: '_delete_' is set on a dict inside a list"):
        Config.fromfile(child)


def test_base_reference_substitutes_top_level_and_nested_values(tmp_path):
    write(tmp_path, "b.py", """
        crop = (64, 64)
        model = dict(head=dict(num_classes=19, losses=[dict(w=0.4)]))
    """)
    child = write(tmp_path, "c.py", """
        _base_ = './b.py'
        size = {{_base_.crop}}
        classes = {{ _base_.model.head.num_classes }} + 1
        weight = {{_base_.model.head.losses[0].w}}
        quoted = '{{ _base_.model.head.num_classes }}'
        test_cfg = dict(crop_size={{_base_.crop}})
    """)
    cfg = Config.fromfile(child)
    assert cfg.size == (64, 64) and isinstance(cfg.size, tuple)
    assert cfg.classes == 20
    assert cfg.weight == 0.4
    assert cfg.quoted == 19
    assert cfg.test_cfg.crop_size == (64, 64)


def test_base_reference_values_are_copies(tmp_path):
    write(tmp_path, "b.py", "pipeline = [dict(type='A')]\n")
    child = write(tmp_path, "c.py", "_base_ = 'b.py'\np = {{_base_.pipeline}}\np[0]['type'] = 'B'\n")
    cfg = Config.fromfile(child)
    assert cfg.p == [{"type": "B"}] and cfg.pipeline == [{"type": "A"}]


def test_base_reference_to_a_missing_key_names_file_line_and_close_match(tmp_path):
    write(tmp_path, "b.py", "model = dict(num_classes=19)\n")
    child = write(tmp_path, "c.py", "_base_ = 'b.py'\n\nx = {{_base_.model.num_clases}}\n")
    with pytest.raises(ConfigError) as e:
        Config.fromfile(child)
    assert f"{child}, line 3" in str(e.value)
    assert "'num_clases'" in str(e.value) and "Did you mean 'num_classes'" in str(e.value)


def test_base_reference_without_a_base_and_a_malformed_reference(tmp_path):
    child = write(tmp_path, "c.py", "x = {{_base_.a}}\n")
    with pytest.raises(ConfigError, match=r"c\.py, line 1: \{\{_base_\.a\}\}: this file has no _base_"):
        Config.fromfile(child)
    write(tmp_path, "b.py", "a = 1\n")
    child = write(tmp_path, "d.py", "_base_ = 'b.py'\ny = 2\nx = {{other.a}}\n")
    with pytest.raises(ConfigError, match=r"d\.py, line 3: .*\{\{other\.a\}\}"):
        Config.fromfile(child)


def test_missing_config_file(tmp_path):
    with pytest.raises(ConfigError, match=r"config file not found: .*nope\.py$"):
        Config.fromfile(tmp_path / "nope.py")


def test_missing_base_names_the_file_that_names_it(tmp_path):
    child = write(tmp_path, "c.py", "_base_ = ['../models/missing.py']\n")
    with pytest.raises(ConfigError) as e:
        Config.fromfile(child)
    assert str(tmp_path.parent / "models" / "missing.py") in str(e.value)
    assert f"named in _base_ of {child}" in str(e.value)


def test_syntax_error_names_file_and_line(tmp_path):
    child = write(tmp_path, "c.py", "a = 1\nmodel = dict(type='X',\nb = 2\n")
    with pytest.raises(ConfigError) as e:
        Config.fromfile(child)
    assert str(child) in str(e.value) and "line 2" in str(e.value) and "syntax error" in str(e.value)


def test_syntax_error_in_a_base_names_the_base(tmp_path):
    base = write(tmp_path, "b.py", "x = = 1\n")
    child = write(tmp_path, "c.py", "_base_ = 'b.py'\n")
    with pytest.raises(ConfigError, match=rf"{base}, line 1: syntax error"):
        Config.fromfile(child)


def test_error_while_running_a_config_names_file_and_line(tmp_path):
    child = write(tmp_path, "c.py", "a = 1\nb = undefined_name + 1\n")
    with pytest.raises(ConfigError, match=rf"{child}, line 2: NameError: .*undefined_name"):
        Config.fromfile(child)


def test_base_cycle_prints_the_chain(tmp_path):
    a = write(tmp_path, "a.py", "_base_ = 'b.py'\n")
    b = write(tmp_path, "b.py", "_base_ = 'c.py'\n")
    c = write(tmp_path, "c.py", "_base_ = './a.py'\n")
    with pytest.raises(ConfigError) as e:
        Config.fromfile(a)
    assert str(e.value) == f"_base_ cycle: {a} -> {b} -> {c} -> {a}"


def test_base_must_be_a_literal_string_or_list(tmp_path):
    child = write(tmp_path, "c.py", "import os\n_base_ = os.path.join('a', 'b.py')\n")
    with pytest.raises(ConfigError, match=r"c\.py, line 2: _base_ must be written as a string or a list"):
        Config.fromfile(child)
    child = write(tmp_path, "d.py", "_base_ = [1]\n")
    with pytest.raises(ConfigError, match=r"d\.py, line 1: _base_ must be a string or a list of strings, got \[1\]"):
        Config.fromfile(child)


def test_non_python_config_file_is_refused(tmp_path):
    path = write(tmp_path, "c.yaml", "a: 1\n")
    with pytest.raises(ConfigError, match=r"c\.yaml: config files are Python files"):
        Config.fromfile(path)


def test_bases_do_not_share_objects_between_keys(tmp_path):
    write(tmp_path, "b.py", "norm = dict(type='BN')\nm = dict(a=dict(norm=norm), b=dict(norm=norm))\n")
    cfg = Config.fromfile(write(tmp_path, "c.py", "_base_ = 'b.py'\n"))
    cfg.m.a.norm.type = "GN"
    assert cfg.m.b.norm.type == "BN" and cfg.norm.type == "BN"
    assert isinstance(cfg.m.a.norm, ConfigDict)
