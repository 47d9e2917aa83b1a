"""Command-line arguments shared by the subcommands (and benchmark scripts) that take a CONFIG."""
from __future__ import annotations

import argparse

from seglab.config import Config, DictAction, load_config


def add_config_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("config", help="config file (Python, MMSegmentation 0.x style)")
    parser.add_argument("--cfg-options", nargs="+", action=DictAction, default=None, metavar="KEY=VALUE",
                        help="override config values, e.g. optimizer.lr=0.02 'model.backbone.dilations=(1,1,2,4)'")
    parser.add_argument("--data-root", default=None, metavar="DIR",
                        help="data_root of every data split (train, val, test)")


def config_from_args(args: argparse.Namespace) -> Config:
    """The config of ``args.config`` with ``--cfg-options`` and ``--data-root`` applied."""
    return load_config(args.config, args.cfg_options, getattr(args, "data_root", None))
