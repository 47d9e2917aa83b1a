"""Tests of the lr schedules: every policy and warmup against hand-computed values, per-group floors, resume."""
from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from seglab.engine.optimizer import build_optimizer
from seglab.engine.schedules import CosineAnnealing, LrScheduler, build_lr_schedule
from seglab.errors import CheckpointError, ConfigError


def sgd(lr: float = 1.0) -> torch.optim.Optimizer:
    return torch.optim.SGD(nn.Linear(2, 1).parameters(), lr=lr)


def lrs(lr_config: dict, iterations: list[int], lr: float = 1.0, max_iters: int = 100) -> list[float]:
    scheduler = LrScheduler(sgd(lr), build_lr_schedule(lr_config, max_iters))
    return [scheduler.lr_at(i, lr) for i in iterations]


@pytest.mark.parametrize("lr_config, iterations, expected", [
    (dict(policy="poly", power=1.0, min_lr=0.0, by_epoch=False), [0, 25, 100], [1.0, 0.75, 0.0]),
    (dict(policy="poly", power=2.0, min_lr=0.01), [0, 50, 100], [1.0, 0.99 * 0.25 + 0.01, 0.01]),
    (dict(policy="step", step=30), [0, 29, 30, 60, 95], [1.0, 1.0, 0.1, 0.01, 0.001]),
    (dict(policy="step", step=30, gamma=0.5, min_lr=0.2), [29, 30, 60, 95], [1.0, 0.5, 0.25, 0.2]),
    (dict(policy="step", step=[10, 20]), [9, 10, 19, 20, 99], [1.0, 0.1, 0.1, 0.01, 0.01]),
    (dict(policy="CosineAnnealing", min_lr=0.0), [0, 25, 50, 100], [1.0, 0.5 * (math.cos(math.pi / 4) + 1), 0.5, 0.0]),
    (dict(policy="cosine", min_lr_ratio=0.1), [0, 50, 100], [1.0, 0.55, 0.1]),
    (dict(policy="fixed"), [0, 50, 100], [1.0, 1.0, 1.0]),
])
def test_policies_against_hand_computed_values(lr_config, iterations, expected):
    assert lrs(lr_config, iterations) == pytest.approx(expected, rel=1e-12, abs=1e-15)


@pytest.mark.parametrize("kind, expected", [
    ("constant", [0.1, 0.1, 0.1, 1.0, 1.0]),
    ("linear", [0.1, 0.55, 1 - 0.1 * 0.9, 1.0, 1.0]),
    ("exp", [0.1, 0.1 ** 0.5, 0.1 ** 0.1, 1.0, 1.0]),
])
def test_warmup_kinds_scale_the_first_iterations(kind, expected):
    lr_config = dict(policy="fixed", warmup=kind, warmup_iters=10, warmup_ratio=0.1)
    assert lrs(lr_config, [0, 5, 9, 10, 50]) == pytest.approx(expected, rel=1e-12)


def test_warmup_scales_the_regular_lr_of_the_policy():
    lr_config = dict(policy="poly", power=1.0, min_lr=0.0, warmup="linear", warmup_iters=10, warmup_ratio=0.5)
    # iteration 4: poly gives 0.96, linear warmup keeps 1 - (1 - 4/10) * (1 - 0.5) = 0.7 of it.
    assert lrs(lr_config, [4, 10]) == pytest.approx([0.96 * 0.7, 0.9], rel=1e-12)


def test_min_lr_is_one_absolute_floor_and_each_group_keeps_its_multiplier():
    model = nn.Sequential(nn.Linear(2, 2), nn.Linear(2, 2), nn.Linear(2, 1))
    optimizer = build_optimizer(model, dict(type="SGD", lr=0.01, paramwise_cfg=dict(custom_keys={
        "0.": dict(lr_mult=0.0), "1.": dict(lr_mult=10.0)})))
    assert [g["lr"] for g in optimizer.param_groups] == [0.0, 0.1, 0.01]
    scheduler = LrScheduler(optimizer, build_lr_schedule(dict(policy="poly", power=0.9, min_lr=1e-4, by_epoch=False),
                                                         1000))
    decay = 0.5 ** 0.9
    scheduler.step(500)
    assert [g["lr"] for g in optimizer.param_groups] == pytest.approx(
        [(0.0 - 1e-4) * decay + 1e-4, (0.1 - 1e-4) * decay + 1e-4, (0.01 - 1e-4) * decay + 1e-4], rel=1e-12)
    scheduler.step(1000)
    assert [g["lr"] for g in optimizer.param_groups] == pytest.approx([1e-4] * 3, rel=1e-12)
    scheduler.step(0)  # the schedule always starts from each group's initial lr
    assert [g["lr"] for g in optimizer.param_groups] == pytest.approx([0.0, 0.1, 0.01], rel=1e-12)


def test_state_dict_round_trip_restores_initial_lrs_and_the_current_lr():
    def make() -> tuple[torch.optim.Optimizer, LrScheduler]:
        model = nn.Sequential(nn.Linear(2, 2), nn.Linear(2, 1))
        optimizer = build_optimizer(model, dict(type="SGD", lr=0.1, paramwise_cfg=dict(
            custom_keys={"1.": dict(lr_mult=3.0)})))
        return optimizer, LrScheduler(optimizer, build_lr_schedule(
            dict(policy="poly", power=0.9, warmup="exp", warmup_iters=5), 50))

    optimizer, scheduler = make()
    scheduler.step(3)
    state = scheduler.state_dict()
    assert state["last_iteration"] == 3 and state["initial_lrs"] == pytest.approx([0.1, 0.3])
    fresh_optimizer, fresh = make()
    fresh.load_state_dict(state)
    assert fresh.last_iteration == 3
    assert [g["lr"] for g in fresh_optimizer.param_groups] == [g["lr"] for g in optimizer.param_groups]
    assert [g["initial_lr"] for g in fresh_optimizer.param_groups] == pytest.approx([0.1, 0.3])

    one_group = LrScheduler(sgd(), build_lr_schedule(dict(policy="fixed"), 50))
    with pytest.raises(CheckpointError, match="2 param groups, the optimizer has 1"):
        one_group.load_state_dict(state)


def test_policy_names_follow_mmcv_and_aliases():
    poly = LrScheduler(sgd(), build_lr_schedule(dict(policy="Poly"), 10))  # mmcv title-cases lower-case names
    assert poly.lr_at(5, 1.0) == pytest.approx(0.5)
    assert isinstance(build_lr_schedule(dict(policy="cosine", min_lr=0.0), 10).policy, CosineAnnealing)


def test_lr_at_rejects_iterations_outside_the_schedule():
    scheduler = LrScheduler(sgd(), build_lr_schedule(dict(policy="poly"), 10))
    with pytest.raises(ValueError, match=r"iteration 11 is outside the schedule \[0, 10\]"):
        scheduler.lr_at(11, 1.0)


@pytest.mark.parametrize("lr_config, message", [
    (dict(policy="ploy"), r"lr_config.policy: unknown lr schedule type 'ploy'. Did you mean 'poly'"),
    (dict(power=0.9), r"lr_config has no 'policy'"),
    (dict(policy="poly", by_epoch=True), r"by_epoch=True is not supported.*set lr_config.by_epoch=False"),
    (dict(policy="poly", powr=0.9), r"'poly' policy does not take the key 'powr'. Did you mean 'power'"),
    (dict(policy="poly", warmup_ratoi=0.1), r"does not take the key 'warmup_ratoi'. Did you mean 'warmup_ratio'"),
    (dict(policy="poly", warmup="lin", warmup_iters=5), r"unknown warmup 'lin'. Did you mean 'linear'"),
    (dict(policy="poly", warmup="linear"), r"warmup_iters must be a positive int when warmup is set"),
    (dict(policy="poly", warmup="linear", warmup_iters=5, warmup_ratio=0.0), r"warmup_ratio must be in \(0, 1\]"),
    (dict(policy="poly", warmup="linear", warmup_iters=5, warmup_by_epoch=True), r"warmup_by_epoch=True"),
    (dict(policy="step"), r"Step needs the key\(s\) 'step'"),
    (dict(policy="step", step=[20, 10]), r"increasing order"),
    (dict(policy="step", step=0), r"positive int or a list of positive ints"),
    (dict(policy="CosineAnnealing", min_lr=0.0, min_lr_ratio=0.1), r"exactly one of min_lr"),
    (dict(policy="poly", power="0.9"), r"lr_config.power must be a number"),
])
def test_config_errors(lr_config, message):
    with pytest.raises(ConfigError, match=message):
        LrScheduler(sgd(), build_lr_schedule(lr_config, 100))


def test_max_iters_must_be_positive():
    with pytest.raises(ConfigError, match="runner.max_iters must be a positive integer"):
        LrScheduler(sgd(), build_lr_schedule(dict(policy="poly"), 0))
