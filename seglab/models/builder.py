"""MMSegmentation 0.x's ``mmseg.models.builder``: the model registries and ``build_*`` functions.

seglab has one model registry (``seglab.registry.MODELS``); these names exist so that code
written against 0.x (``from mmseg.models.builder import HEADS, build_loss``) ports by changing
the import only. Each function is ``MODELS.build``; ``build_segmentor`` keeps 0.x's rule for
``train_cfg`` / ``test_cfg`` given outside the model config.
"""
from __future__ import annotations

import warnings
from collections.abc import Mapping
from typing import Any

from torch import nn

from seglab.errors import ConfigError
from seglab.registry import BACKBONES, HEADS, LOSSES, MODELS, NECKS, SEGMENTORS

__all__ = ["BACKBONES", "HEADS", "LOSSES", "MODELS", "NECKS", "SEGMENTORS", "build_backbone", "build_head",
           "build_loss", "build_neck", "build_segmentor"]


def build_backbone(cfg: Mapping[str, Any]) -> nn.Module:
    """Build a backbone from its config."""
    return BACKBONES.build(cfg, key="backbone")


def build_neck(cfg: Mapping[str, Any]) -> nn.Module:
    """Build a neck from its config."""
    return NECKS.build(cfg, key="neck")


def build_head(cfg: Mapping[str, Any]) -> nn.Module:
    """Build a decode or auxiliary head from its config."""
    return HEADS.build(cfg, key="head")


def build_loss(cfg: Mapping[str, Any]) -> nn.Module:
    """Build a loss from its config."""
    return LOSSES.build(cfg, key="loss")


def build_segmentor(cfg: Mapping[str, Any], train_cfg: Mapping | None = None,
                    test_cfg: Mapping | None = None) -> nn.Module:
    """Build a segmentor; ``train_cfg`` / ``test_cfg`` given here are used where the model has none.

    As in 0.x, passing them here is deprecated (a warning says to put them in the model config),
    and giving one both here and in ``cfg`` is an error.

    Raises:
        ConfigError: ``train_cfg`` or ``test_cfg`` set in both places.
    """
    if train_cfg is not None or test_cfg is not None:
        warnings.warn("build_segmentor(train_cfg=..., test_cfg=...) is deprecated: set model.train_cfg and "
                      "model.test_cfg in the config instead", UserWarning, stacklevel=2)
    outside = {"train_cfg": train_cfg, "test_cfg": test_cfg}
    for name, value in outside.items():
        if value is not None and cfg.get(name) is not None:
            raise ConfigError(f"{name} is given both to build_segmentor and as model.{name}; keep only "
                              f"model.{name}")
    return SEGMENTORS.build(cfg, key="model", default_args={k: v for k, v in outside.items() if v is not None})
