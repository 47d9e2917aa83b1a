"""A backbone's pretrained weights: the ``pretrained`` / ``init_cfg`` keys, read at construction
and loaded by ``init_weights()``.

MMSegmentation 0.x accepts ``pretrained='path'`` or ``init_cfg=dict(type='Pretrained',
checkpoint='path', prefix=None)``. Construction only records the source, so a config naming
``open-mmlab://...`` builds; ``init_weights()`` reads the file (and fails there with the
download-it-yourself message from ``seglab.engine.checkpoint``).
"""
from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from torch import nn

from seglab.models.weights import LoadReport, StateDict, load_checkpoint
from seglab.errors import CheckpointError, ConfigError
from seglab.registry import current_build_path

logger = logging.getLogger("seglab")


@dataclass(frozen=True)
class PretrainedSource:
    """A checkpoint file and the key prefix to take from it.

    Args:
        checkpoint: local path (or a URL-like name, rejected when loaded).
        prefix: keep only the keys starting with this prefix, with the prefix removed
            (0.x's ``init_cfg.prefix``, e.g. ``'backbone.'``); ``None`` keeps every key.
    """

    checkpoint: str
    prefix: str | None = None

    def load_into(self, module: nn.Module, key_map: Callable[[StateDict], StateDict]) -> LoadReport:
        """Load the checkpoint into ``module`` by name after the prefix selection and ``key_map``."""
        logger.info("%s: loading pretrained weights from %s", type(module).__name__, self.checkpoint)
        return load_checkpoint(module, self.checkpoint, key_map=lambda state: key_map(self._select(state)))

    def _select(self, state: StateDict) -> StateDict:
        if not self.prefix:
            return state
        selected = {k[len(self.prefix):]: v for k, v in state.items() if k.startswith(self.prefix)}
        if not selected:
            raise CheckpointError(f"checkpoint {self.checkpoint} has no key starting with the init_cfg "
                                  f"prefix {self.prefix!r}")
        return selected


def pretrained_source(pretrained: str | None, init_cfg: Mapping[str, Any] | None,
                      owner: str) -> PretrainedSource | None:
    """Resolve a backbone's ``pretrained`` and ``init_cfg`` keys (0.x rules) without reading anything.

    Args:
        pretrained: checkpoint path or ``None``.
        init_cfg: ``None`` or ``dict(type='Pretrained', checkpoint=..., prefix=None)``.
        owner: the class name, for messages when not built from a config.
    """
    where = current_build_path() or owner
    if pretrained is not None and not isinstance(pretrained, str):
        raise ConfigError(f"{where}.pretrained must be a checkpoint path or None, got {pretrained!r}")
    if init_cfg is None:
        return PretrainedSource(pretrained) if pretrained else None
    if pretrained is not None:
        raise ConfigError(f"{where}: set either pretrained or init_cfg, not both "
                          f"(pretrained={pretrained!r}, init_cfg={dict(init_cfg)!r})")
    if not isinstance(init_cfg, Mapping) or init_cfg.get("type") != "Pretrained":
        raise ConfigError(f"{where}.init_cfg: only dict(type='Pretrained', checkpoint=PATH, prefix=None) "
                          f"is supported (the default initialisation is 0.x's Kaiming/constant one); "
                          f"got {init_cfg!r}")
    unknown = sorted(set(init_cfg) - {"type", "checkpoint", "prefix"})
    if unknown or not isinstance(init_cfg.get("checkpoint"), str):
        raise ConfigError(f"{where}.init_cfg: a Pretrained init_cfg takes checkpoint (a path) and "
                          f"optionally prefix; got {dict(init_cfg)!r}")
    return PretrainedSource(init_cfg["checkpoint"], init_cfg.get("prefix"))


def strip_segmentor_prefix(state: StateDict) -> StateDict:
    """A whole-segmentor checkpoint (``backbone.*``, ``decode_head.*``) gives its backbone part;
    any other state dict is returned unchanged."""
    if any(k.startswith("backbone.") for k in state):
        return {k[len("backbone."):]: v for k, v in state.items() if k.startswith("backbone.")}
    return state


def reject_unsupported(where: str, dcn: Any, plugins: Any) -> None:
    """``dcn`` and ``plugins`` need mmcv's custom ops; seglab has none."""
    for key, value in (("dcn", dcn), ("plugins", plugins)):
        if value is not None:
            raise ConfigError(f"{where}.{key}={value!r} is not supported (it needs mmcv's custom ops); "
                              f"set {key}=None")
