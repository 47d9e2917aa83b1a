"""Argument and config handling shared by the subcommands that take a CONFIG."""
from __future__ import annotations

import argparse
from collections.abc import MutableMapping
from typing import Any

from seglab.config import Config, DictAction


def add_config_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("config", help="config file (Python, MMSegmentation 0.x style)")
    parser.add_argument("--cfg-options", nargs="+", action=DictAction, default=None, metavar="KEY=VALUE",
                        help="override config values, e.g. optimizer.lr=0.02 'model.backbone.dilations=(1,1,2,4)'")
    parser.add_argument("--data-root", default=None, metavar="DIR",
                        help="data_root of every data split (train, val, test)")


def load_config(args: argparse.Namespace) -> Config:
    """The config of ``args.config`` with ``--cfg-options`` and ``--data-root`` applied.

    Overriding the top-level ``data_root`` also moves every split whose ``data_root`` was the old
    value: in a Python config the splits copied it when the file ran, and the user means them too.
    """
    cfg = Config.fromfile(args.config)
    options = dict(args.cfg_options or {})
    old_root = cfg.get("data_root")
    if options:
        cfg.merge_from_dict(options)
    if "data_root" in options and "data" in cfg:
        _replace_data_root(cfg.data, options["data_root"], only_if=old_root)
    if getattr(args, "data_root", None):
        cfg.data_root = args.data_root
        if "data" in cfg:
            _replace_data_root(cfg.data, args.data_root)
    return cfg


def _replace_data_root(node: Any, root: str, only_if: Any = ...) -> None:
    if isinstance(node, MutableMapping):
        if "data_root" in node and (only_if is ... or node["data_root"] == only_if):
            node["data_root"] = root
        for value in node.values():
            _replace_data_root(value, root, only_if)
    elif isinstance(node, (list, tuple)):
        for value in node:
            _replace_data_root(value, root, only_if)
