"""``seglab print-config CONFIG [--cfg-options KEY=VALUE ...]``: the fully resolved config.

Prints every value after ``_base_`` inheritance, ``{{_base_.x}}`` references and the overrides,
as a Python config file that loads back to the same values (redirect it to a file to get a
standalone config). The run settings are checked first, as ``seglab train`` checks them.
"""
from __future__ import annotations

import argparse

from seglab.config import DictAction, load_config

COMMAND = "print-config"
HELP = "print a config with its _base_ files and overrides resolved, as a loadable Python file"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("config", metavar="CONFIG", help="the config file (e.g. configs/pspnet/...py)")
    parser.add_argument("--cfg-options", nargs="+", action=DictAction, default={}, metavar="KEY=VALUE",
                        help="override config values, e.g. model.decode_head.num_classes=2 "
                             "optimizer.lr=0.02 'model.backbone.dilations=(1,1,2,4)' "
                             "train_pipeline.2.img_scale=(1024,512)")


def run(args: argparse.Namespace) -> int:
    from seglab.engine.run_config import parse_run_config

    cfg = load_config(args.config, args.cfg_options)
    parse_run_config(cfg, need_max_iters=False)  # a misspelled run setting fails here, not at training
    print(cfg.pretty_text, end="")
    return 0
