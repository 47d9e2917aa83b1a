"""``seglab lr-table CONFIG [--cfg-options ...] [--iter K] [--json]``: every parameter's lr and weight decay.

Builds the config's model (no pretrained weights are loaded) and applies the optimizer's
``paramwise_cfg`` rules and the ``lr_config`` schedule, so a user can see which rule set each
parameter's lr and weight decay, and the lr at any iteration, before training. Custom keys that
match no parameter are warned about on stderr, with the closest module names.
"""
from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from torch import nn

from seglab.config import DictAction, load_config
from seglab.engine.optimizer import ParamSetting, format_rule_summary, param_settings, unmatched_custom_keys
from seglab.engine.param_schedulers import warn_outside_the_run
from seglab.engine.run_config import parse_run_config
from seglab.engine.schedules import LrSchedule, build_schedule
from seglab.errors import ConfigError
from seglab.registry import MODELS, did_you_mean

COMMAND = "lr-table"
HELP = "show the lr (at an iteration), weight decay and deciding rule of every model parameter"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("config", metavar="CONFIG", help="the config file (e.g. configs/pspnet/...py)")
    parser.add_argument("--cfg-options", nargs="+", action=DictAction, default={}, metavar="KEY=VALUE",
                        help="override config values, e.g. optimizer.lr=0.02 "
                             "\"optimizer.paramwise_cfg.custom_keys={'head': dict(lr_mult=10.)}\"")
    parser.add_argument("--iter", type=int, default=0, metavar="K",
                        help="show the lr at this 0-based iteration of the schedule (default: 0)")
    parser.add_argument("--json", action="store_true",
                        help="print a JSON list of {name, lr, weight_decay, rule} instead of the table")


def run(args: argparse.Namespace) -> int:
    cfg = load_config(args.config, args.cfg_options)
    run_cfg = parse_run_config(cfg)
    if run_cfg.optimizer is None:
        raise ConfigError(f"{args.config}: the config has no optimizer dict to show")
    schedule = build_schedule(run_cfg.lr_config, run_cfg.param_scheduler, run_cfg.max_iters)
    warn_outside_the_run(schedule)
    if not 0 <= args.iter <= schedule.max_iters:
        raise ConfigError(f"--iter {args.iter} is outside the schedule: it must be between 0 and "
                          f"runner.max_iters={schedule.max_iters}")
    model = MODELS.build(run_cfg.model, key="model")
    settings = param_settings(model, run_cfg.optimizer)
    for key in unmatched_custom_keys(model, run_cfg.optimizer):
        print(f"warning: optimizer.paramwise_cfg.custom_keys {key!r} matches no parameter name."
              f"{did_you_mean(key, name_parts(model))}", file=sys.stderr)
    if args.json:
        print(json.dumps(rows(settings, schedule, args.iter), indent=2))
    else:
        print(format_table(settings, schedule, args.iter, title=args.config))
    return 0


def name_parts(model: nn.Module) -> set[str]:
    """Module and parameter names, full and by each dotted part: what a custom key may have meant."""
    names = {name for name, _ in model.named_modules() if name}
    names |= {name for name, _ in model.named_parameters()}
    return names | {part for name in names for part in name.split(".")}


def rows(settings: list[ParamSetting], schedule: LrSchedule, iteration: int) -> list[dict[str, Any]]:
    """One dict per parameter: name, lr at ``iteration``, weight decay, rule."""
    return [{"name": s.name, "lr": schedule.lr_at(iteration, s.lr), "weight_decay": s.weight_decay,
             "rule": s.rule} for s in settings]


def format_table(settings: list[ParamSetting], schedule: LrSchedule, iteration: int, title: str = "") -> str:
    """The rule summary, then each rule's lr at ``iteration``, weight decay and parameter names."""
    groups: dict[tuple[str, float, float], list[str]] = {}
    for s in settings:
        groups.setdefault((s.rule, s.lr, s.weight_decay), []).append(s.name)
    lines = [f"{title}: {len(settings)} parameters, {type(schedule.policy).__name__} schedule over "
             f"{schedule.max_iters} iterations; lr shown at iteration {iteration}",
             "", "initial lr and weight decay by rule:", format_rule_summary(settings), ""]
    for (rule, lr, wd), names in groups.items():
        lines.append(f"{rule}: {len(names)} parameter{'s' if len(names) != 1 else ''}, lr {schedule.lr_at(iteration, lr):.6g} "
                     f"(initial {lr:.6g}), weight_decay {wd:.6g}")
        lines.extend(f"    {name}" for name in names)
    return "\n".join(lines)
