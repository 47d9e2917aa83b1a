"""Tests of the optimizer builder: paramwise_cfg rules on tiny modules, merged groups, errors."""
from __future__ import annotations

import logging

import pytest
import torch
from torch import nn

from seglab.engine.optimizer import (FusedSGD, ParamSetting, build_optimizer, format_rule_summary, param_settings,
                                     unmatched_custom_keys)
from seglab.errors import ConfigError


class Head(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(4, 4, 1)
        self.bn = nn.BatchNorm2d(4)
        self.conv_seg = nn.Conv2d(4, 2, 1)


class PSP(Head):
    def __init__(self) -> None:
        super().__init__()
        self.psp_modules = nn.Conv2d(4, 4, 1, bias=False)


class TinySegmentor(nn.Module):
    """Names like a segmentor: backbone.*, decode_head.*, auxiliary_head.*."""

    def __init__(self) -> None:
        super().__init__()
        self.backbone = nn.Sequential(nn.Conv2d(3, 4, 3, bias=False), nn.BatchNorm2d(4),
                                      nn.Conv2d(4, 4, 3, groups=4), nn.GroupNorm(2, 4))
        self.decode_head = PSP()
        self.auxiliary_head = Head()


SGD = dict(type="SGD", lr=0.01, momentum=0.9, weight_decay=5e-4)


def by_name(settings: list[ParamSetting]) -> dict[str, tuple[float, float, str]]:
    return {s.name: (s.lr, s.weight_decay, s.rule) for s in settings}


def cfg(**paramwise) -> dict:
    return dict(SGD, paramwise_cfg=paramwise)


def test_no_paramwise_cfg_gives_base_settings_to_every_parameter_in_module_order():
    model = TinySegmentor()
    settings = param_settings(model, SGD)
    assert [s.name for s in settings] == [n for n, _ in model.named_parameters()]
    assert all((s.lr, s.weight_decay, s.rule) == (0.01, 5e-4, "default") for s in settings)
    assert all(s.param is p for s, (_, p) in zip(settings, model.named_parameters()))


def test_custom_key_is_a_substring_match_and_sets_lr_and_decay():
    got = by_name(param_settings(TinySegmentor(), cfg(custom_keys={"head": dict(lr_mult=10.0, decay_mult=0.5)})))
    for name in ("decode_head.conv.weight", "decode_head.psp_modules.weight", "auxiliary_head.bn.bias"):
        assert got[name][:2] == pytest.approx((0.1, 2.5e-4)) and got[name][2] == "custom_keys['head']"
    assert got["backbone.0.weight"] == (0.01, 5e-4, "default")


def test_longest_custom_key_wins_over_a_shorter_one():
    got = by_name(param_settings(TinySegmentor(), cfg(custom_keys={
        "decode_head": dict(lr_mult=10.0), "decode_head.psp_modules": dict(lr_mult=5.0, decay_mult=0.0)})))
    assert got["decode_head.psp_modules.weight"] == (0.05, 0.0, "custom_keys['decode_head.psp_modules']")
    assert got["decode_head.conv_seg.bias"][:2] == pytest.approx((0.1, 5e-4))
    assert got["decode_head.conv_seg.bias"][2] == "custom_keys['decode_head']"
    assert got["auxiliary_head.conv.weight"][2] == "default"


def test_equal_length_keys_are_tried_alphabetically():
    # 'conv' and 'head' both match 'decode_head.conv.weight' and have the same length: 'conv' comes first.
    got = by_name(param_settings(TinySegmentor(), cfg(custom_keys={"head": dict(lr_mult=2.0),
                                                                   "conv": dict(lr_mult=3.0)})))
    assert got["decode_head.conv.weight"][2] == "custom_keys['conv']"
    assert got["decode_head.conv.weight"][0] == pytest.approx(0.03)
    assert got["decode_head.bn.weight"][2] == "custom_keys['head']"
    # 'conv_seg' (longer) beats both.
    got = by_name(param_settings(TinySegmentor(), cfg(custom_keys={
        "head": dict(lr_mult=2.0), "conv": dict(lr_mult=3.0), "conv_seg": dict(lr_mult=4.0)})))
    assert got["auxiliary_head.conv_seg.weight"] == (0.04, 5e-4, "custom_keys['conv_seg']")


def test_bias_norm_and_depthwise_rules_without_custom_keys():
    got = by_name(param_settings(TinySegmentor(), cfg(bias_lr_mult=2.0, bias_decay_mult=0.1,
                                                      norm_decay_mult=0.0, dwconv_decay_mult=0.5)))
    assert got["backbone.0.weight"] == (0.01, 5e-4, "default")
    assert got["backbone.1.weight"] == (0.01, 0.0, "norm_decay_mult")
    assert got["backbone.1.bias"] == (0.01, 0.0, "norm_decay_mult")  # norm biases keep the base lr
    assert got["backbone.2.weight"] == (0.01, 2.5e-4, "dwconv_decay_mult")
    assert got["backbone.2.bias"] == (0.02, 2.5e-4, "bias_lr_mult+dwconv_decay_mult")
    assert got["backbone.3.weight"] == (0.01, 0.0, "norm_decay_mult")  # GroupNorm is a norm layer
    assert got["decode_head.conv.bias"][2] == "bias_lr_mult+bias_decay_mult"
    assert got["decode_head.conv.bias"][:2] == pytest.approx((0.02, 5e-5))


def test_custom_key_match_skips_the_bias_and_norm_rules():
    got = by_name(param_settings(TinySegmentor(), cfg(bias_lr_mult=2.0, norm_decay_mult=0.0,
                                                      custom_keys={"backbone.1": dict(lr_mult=0.5)})))
    assert got["backbone.1.weight"] == (0.005, 5e-4, "custom_keys['backbone.1']")
    assert got["decode_head.bn.bias"] == (0.01, 0.0, "norm_decay_mult")


def test_frozen_parameters_get_the_base_settings():
    model = TinySegmentor()
    model.backbone[0].weight.requires_grad = False
    got = by_name(param_settings(model, cfg(custom_keys={"backbone": dict(lr_mult=0.1, decay_mult=0.0)})))
    assert got["backbone.0.weight"] == (0.01, 5e-4, "requires_grad=False")
    assert got["backbone.1.weight"] == (0.001, 0.0, "custom_keys['backbone']")


def test_no_weight_decay_in_the_config_leaves_the_optimizer_default():
    model = TinySegmentor()
    settings = param_settings(model, dict(type="AdamW", lr=1e-3, paramwise_cfg=dict(bias_lr_mult=2.0)))
    assert {s.weight_decay for s in settings} == {0.01}  # torch's AdamW default
    optimizer = build_optimizer(model, dict(type="AdamW", lr=1e-3, paramwise_cfg=dict(bias_lr_mult=2.0)))
    assert all(g["weight_decay"] == 0.01 for g in optimizer.param_groups)
    with pytest.raises(ConfigError, match=r"norm_decay_mult multiplies optimizer.weight_decay, which is not set"):
        param_settings(model, dict(type="SGD", lr=0.1, paramwise_cfg=dict(norm_decay_mult=0.0)))
    with pytest.raises(ConfigError, match=r"custom_keys\['head'\].decay_mult"):
        param_settings(model, dict(type="SGD", lr=0.1, paramwise_cfg=dict(custom_keys={"head": dict(decay_mult=0.)})))


class Shared(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        conv = nn.Conv2d(2, 2, 1)
        self.a = nn.Sequential(conv)
        self.b = nn.Sequential(conv)  # one module under two parents
        self.c = nn.Linear(2, 2)


def test_shared_parameters_need_bypass_duplicate_with_a_paramwise_cfg():
    model = Shared()
    names = [s.name for s in param_settings(model, cfg(bias_lr_mult=2.0, bypass_duplicate=True))]
    assert names == ["a.0.weight", "a.0.bias", "c.weight", "c.bias"]
    assert [s.name for s in param_settings(model, SGD)] == names  # like model.parameters()
    with pytest.raises(ConfigError, match=r"'b.0.weight' is the same tensor as 'a.0.weight'.*bypass_duplicate=True"):
        param_settings(model, cfg(bias_lr_mult=2.0))
    optimizer = build_optimizer(model, cfg(bias_lr_mult=2.0, bypass_duplicate=True))
    assert sum(len(g["params"]) for g in optimizer.param_groups) == 4


def test_merged_groups_give_every_parameter_its_own_setting():
    model = TinySegmentor()
    model.backbone[0].weight.requires_grad = False
    optimizer_cfg = cfg(bias_lr_mult=2.0, norm_decay_mult=0.0, custom_keys={"decode_head": dict(lr_mult=10.0),
                                                                          "psp_modules": dict(decay_mult=0.0)})
    settings = param_settings(model, optimizer_cfg)
    optimizer = build_optimizer(model, optimizer_cfg)
    distinct = {(s.lr, s.weight_decay) for s in settings}
    assert len(optimizer.param_groups) == len(distinct) < len(settings)
    per_param = {id(p): (g["lr"], g["weight_decay"]) for g in optimizer.param_groups for p in g["params"]}
    assert len(per_param) == len(settings)
    for s in settings:
        assert per_param[id(s.param)] == (s.lr, s.weight_decay), s.name
    assert all(g["initial_lr"] == g["lr"] for g in optimizer.param_groups)
    assert optimizer.param_groups[0]["params"][0] is model.backbone[0].weight  # first group: first parameter
    assert optimizer.defaults["momentum"] == 0.9


def test_unmatched_custom_keys_are_reported_and_logged():
    model = TinySegmentor()
    optimizer_cfg = cfg(custom_keys={"head": dict(lr_mult=10.0), "decod_head": dict(lr_mult=2.0),
                                     "bakbone": dict(lr_mult=0.1)})
    assert unmatched_custom_keys(model, optimizer_cfg) == ["decod_head", "bakbone"]
    records: list[logging.LogRecord] = []
    handler = logging.Handler()
    handler.emit = records.append
    logger = logging.getLogger("seglab")
    logger.addHandler(handler)
    try:
        build_optimizer(model, optimizer_cfg)
    finally:
        logger.removeHandler(handler)
    messages = [r.getMessage() for r in records if r.levelno == logging.WARNING]
    assert len(messages) == 2 and "'decod_head' matches no parameter name" in messages[0]


@pytest.mark.parametrize("optimizer_cfg, message", [
    (dict(type="SDG", lr=0.1), r"optimizer.type: unknown optimizer type 'SDG'. Did you mean 'SGD'"),
    (dict(type="SGD", lr=0.1, momentun=0.9), r"optimizer: SGD does not take the key 'momentun'. Did you mean 'momentum'"),
    (dict(type="SGD", lr=0.1, paramwise_cfg=dict(bias_lr_mul=2.0)),
     r"paramwise_cfg: unknown key 'bias_lr_mul'. Did you mean 'bias_lr_mult'"),
    (dict(type="SGD", lr=0.1, paramwise_cfg=dict(custom_keys={"head": dict(lr_mul=10.0)})),
     r"custom_keys\['head'\]: unknown key 'lr_mul'. Did you mean 'lr_mult'"),
    (dict(type="SGD", lr=0.1, paramwise_cfg=dict(custom_keys=["head"])), r"custom_keys must be a dict"),
    (dict(type="SGD", lr="0.1"), r"optimizer.lr must be a number, got '0.1'"),
    (dict(type="SGD", lr=-1.0), r"optimizer: SGD rejected the config .*Invalid learning rate"),
    (dict(lr=0.1), r"optimizer: the config has no 'type' key"),
    (dict(type="SGD", lr=0.1, constructor="LayerDecayOptimizerConstructor"), r"constructor=.* is not supported"),
])
def test_config_errors_name_the_key_and_the_fix(optimizer_cfg, message):
    with pytest.raises(ConfigError, match=message):
        build_optimizer(TinySegmentor(), optimizer_cfg)


def test_any_torch_optimizer_is_buildable_by_name():
    optimizer = build_optimizer(nn.Linear(2, 2), dict(type="Adam", lr=1e-3, betas=(0.8, 0.99)))
    assert isinstance(optimizer, torch.optim.Adam) and optimizer.defaults["betas"] == (0.8, 0.99)
    assert "weight_decay" in optimizer.param_groups[0] and optimizer.param_groups[0]["weight_decay"] == 0


def test_rule_summary_has_one_line_per_rule():
    settings = param_settings(TinySegmentor(), cfg(norm_decay_mult=0.0, custom_keys={"head": dict(lr_mult=10.0)}))
    lines = format_rule_summary(settings).splitlines()
    assert lines[0].split() == ["rule", "params", "lr", "weight_decay"]
    rows = {line.split()[0]: line.split()[1:] for line in lines[1:]}
    assert rows == {"default": ["3", "0.01", "0.0005"], "norm_decay_mult": ["4", "0.01", "0"],
                    "custom_keys['head']": ["13", "0.1", "0.0005"]}


def test_sgd_uses_the_fused_kernel_with_the_same_updates():
    torch.manual_seed(0)
    models = [nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4)) for _ in range(2)]
    models[1].load_state_dict(models[0].state_dict())
    cfg = dict(type="SGD", lr=0.1, momentum=0.9, weight_decay=5e-4)
    fused = build_optimizer(models[0], cfg)
    loop = build_optimizer(models[1], dict(cfg, foreach=False))
    assert isinstance(fused, FusedSGD) and fused.defaults["fused"] and not loop.defaults.get("fused")
    for _ in range(3):
        for model, opt in zip(models, (fused, loop)):
            for p in model.parameters():
                p.grad = torch.ones_like(p) * p.detach().sum()
            opt.step()
    for a, b in zip(models[0].parameters(), models[1].parameters()):
        torch.testing.assert_close(a, b, rtol=1e-6, atol=1e-7)


def _channels_last_model() -> nn.Module:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(3, 8, 3), nn.BatchNorm2d(8), nn.Conv2d(8, 8, 1), nn.Conv2d(8, 2, 1))
    return model.to(memory_format=torch.channels_last)


def _give_gradients(model: nn.Module, step: int, late: bool = False) -> None:
    for i, p in enumerate(model.parameters()):
        if late and i >= 6 and step == 0:  # the last conv gets its first gradient a step later
            continue
        p.grad = torch.empty_like(p).copy_(torch.sin(p.detach() * (step + 1)) + 0.1)  # as autograd lays it out


def _train(model: nn.Module, optimizer: torch.optim.Optimizer, late: bool = False) -> None:
    for step in range(3):
        _give_gradients(model, step, late)
        optimizer.step()


def test_fused_sgd_updates_channels_last_weights_like_torch_without_copying_them():
    """seglab's SGD hands torch's fused kernel flat views of channels-last tensors: the same
    update bit for bit (with weight decay, dampening, nesterov, maximize, no momentum), and no copy
    inside the step, where torch's own fused SGD copies every weight."""
    for options in (dict(momentum=0.9, weight_decay=5e-4), dict(momentum=0.9, dampening=0.1),
                    dict(momentum=0.9, nesterov=True, maximize=True), dict()):
        ours, torchs = _channels_last_model(), _channels_last_model()
        assert ours[0].weight.is_contiguous(memory_format=torch.channels_last) and not ours[0].weight.is_contiguous()
        opt = build_optimizer(ours, dict(type="SGD", lr=0.1, **options))
        reference = torch.optim.SGD(torchs.parameters(), lr=0.1, fused=True, **options)
        assert isinstance(opt, FusedSGD)
        _train(ours, opt)
        _train(torchs, reference)
        for a, b in zip(ours.parameters(), torchs.parameters()):
            assert torch.equal(a, b) and a.stride() == b.stride(), options
    counts = {}
    for name, optimizer in (("seglab", opt), ("torch", reference)):
        with torch.profiler.profile() as prof:
            optimizer.step()
        counts[name] = sum(e.count for e in prof.key_averages() if e.key in ("aten::copy_", "aten::clone"))
    assert counts["seglab"] == 0 and counts["torch"] > 0, counts


def test_fused_sgd_takes_a_parameter_whose_first_gradient_comes_late():
    """torch's fused SGD fails on it (no momentum buffer); seglab's starts that buffer as torch's
    per-parameter loop does."""
    ours, loops = _channels_last_model(), _channels_last_model()
    _train(ours, build_optimizer(ours, dict(type="SGD", lr=0.1, momentum=0.9, weight_decay=5e-4)), late=True)
    _train(loops, torch.optim.SGD(loops.parameters(), lr=0.1, momentum=0.9, weight_decay=5e-4, foreach=False),
           late=True)
    for a, b in zip(ours.parameters(), loops.parameters()):
        torch.testing.assert_close(a, b, rtol=1e-6, atol=1e-7)


def test_fused_sgd_state_dict_is_torch_sgds():
    ours, torchs = _channels_last_model(), _channels_last_model()
    assert ours[0].weight.is_contiguous(memory_format=torch.channels_last) and not ours[0].weight.is_contiguous()
    opt = build_optimizer(ours, dict(type="SGD", lr=0.1, momentum=0.9))
    _give_gradients(ours, 1)
    opt.step()
    reference = torch.optim.SGD(torchs.parameters(), lr=0.1, momentum=0.9)
    reference.load_state_dict(opt.state_dict())
    for p in torchs.parameters():
        buffer = reference.state[p]["momentum_buffer"]
        assert buffer.shape == p.shape and buffer.stride() == p.stride()
    opt.load_state_dict(reference.state_dict())
    _give_gradients(ours, 2)
    opt.step()
