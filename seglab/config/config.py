"""``Config``: a resolved config file, as a ``ConfigDict`` that also knows its file.

    cfg = Config.fromfile('configs/pspnet/pspnet_r50-d8_512x1024_40k_cityscapes.py')
    cfg.merge_from_dict({'model.decode_head.num_classes': 2, 'optimizer.lr': 0.02})
    cfg.model.decode_head.num_classes   # 2
    cfg.dump('work_dir/config.py')      # a loadable Python file of the resolved values
"""
from __future__ import annotations

import os
from collections.abc import Mapping, MutableMapping
from pathlib import Path
from typing import Any

from seglab.config.config_dict import ConfigDict
from seglab.config.loader import load_config_file
from seglab.config.merge import merge
from seglab.config.overrides import nest_overrides
from seglab.config.pretty import format_config


class Config(ConfigDict):
    """The top-level values of a config: every nested dict is a ``ConfigDict``.

    Args:
        cfg_dict: the values (a mapping from top-level key to value); empty when None.
        filename: the file the values came from, if any.
    """

    def __init__(self, cfg_dict: Mapping[str, Any] | None = None,
                 filename: str | os.PathLike | None = None) -> None:
        super().__init__(cfg_dict or {})
        # Stored outside the dict items so it never shows up as a config value.
        object.__setattr__(self, "_filename", None if filename is None else str(filename))

    @classmethod
    def fromfile(cls, filename: str | os.PathLike) -> Config:
        """Load a Python config file with its ``_base_`` files (see ``seglab.config.loader``)."""
        return cls(load_config_file(filename), filename=os.path.abspath(filename))

    @property
    def filename(self) -> str | None:
        """The absolute path of the file this config was loaded from (None if built in code)."""
        return self.__dict__.get("_filename")

    def merge_from_dict(self, options: Mapping[str, Any]) -> None:
        """Apply dotted overrides in place: ``{'model.decode_head.num_classes': 2, 'a.0.b': 1}``.

        They merge like a child config (dicts merge, other values replace, new keys are
        created, a dict over None replaces it) and may index into lists. A path that cannot be
        made (list index out of range, a key below a number or a string) is a ``ConfigError``
        naming it.
        """
        merged = merge(dict(self), nest_overrides(options), list_index=True)
        self.clear()
        self.update(merged)

    @property
    def pretty_text(self) -> str:
        """The resolved config as the text of a Python config file."""
        return format_config(self)

    def dump(self, path: str | os.PathLike | None = None) -> str | None:
        """Write ``pretty_text`` to ``path`` (parent folders are created); without a path, return it."""
        text = self.pretty_text
        if path is None:
            return text
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        Path(path).write_text(text, encoding="utf-8")
        return None

    def __repr__(self) -> str:
        return f"Config(filename={self.filename!r}): {dict.__repr__(self)}"


def load_config(path: str | os.PathLike, cfg_options: Mapping[str, Any] | None = None,
                data_root: str | None = None) -> Config:
    """The config file ``path`` with dotted overrides (``--cfg-options``) and a data root applied.

    Overriding the top-level ``data_root`` also moves every split whose ``data_root`` was the old
    value: in a Python config the splits copied it when the file ran, and the user means them too.
    """
    cfg = Config.fromfile(path)
    options = dict(cfg_options or {})
    old_root = cfg.get("data_root")
    if options:
        cfg.merge_from_dict(options)
    # the dataset sections of either dialect
    sections = [cfg[k] for k in ("data", "train_dataloader", "val_dataloader", "test_dataloader") if k in cfg]
    if "data_root" in options:
        _replace_data_root(sections, options["data_root"], only_if=old_root)
    if data_root:
        cfg.data_root = data_root
        _replace_data_root(sections, data_root)
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
