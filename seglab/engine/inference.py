"""Inference API: build a model from a config + checkpoint and segment images.

    model = init_segmentor(Config.fromfile(cfg_path), 'iter_40000.pth')
    mask = inference_segmentor(model, 'image.png')      # (H, W) class ids
"""
from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch

from seglab.engine.checkpoint import load_checkpoint, read_checkpoint
from seglab.engine.host_memory import apply_reuse_freed_memory
from seglab.engine.run_config import RunConfig, parse_run_config
from seglab.errors import ConfigError
from seglab.registry import MODELS

AUG_TEST_RATIOS = [0.5, 0.75, 1.0, 1.25, 1.5, 1.75]


def init_segmentor(cfg: Mapping, checkpoint: str | None = None, device: str | torch.device | None = None, *,
                   unsafe_load: bool = False, run: RunConfig | None = None) -> torch.nn.Module:
    """The config's model with the checkpoint's weights, in eval mode, with ``CLASSES``/``PALETTE``
    (from the checkpoint's meta, 0.x's ``CLASSES``/``PALETTE`` or 1.x's ``dataset_meta``, else from
    the test dataset type) and ``cfg`` attached.

    The checkpoint is read with the weights-only loader (``seglab.engine.checkpoint``);
    ``unsafe_load=True`` (or the config's ``checkpoint_unsafe_load=True``) reads it in full, for a
    trusted file that imports more (``--unsafe-load``).

    Like the trainer, it applies ``channels_last`` and ``reuse_freed_memory`` (default True,
    process-wide; ``seglab test`` also takes the config's ``amp`` dtype): slide
    inference allocates all windows' activations at once, and without it glibc faults them in
    afresh for every image.

    ``run`` is ``cfg``'s parsed run settings when the caller has them already (parsing twice would
    log the config's warnings twice).
    """
    run = run or parse_run_config(cfg, need_max_iters=False)
    apply_reuse_freed_memory(run.reuse_freed_memory)
    model_cfg = dict(run.model or {})
    model_cfg["pretrained"] = None  # the checkpoint supplies every weight
    model = MODELS.build(model_cfg, key="model")
    meta: dict[str, Any] = {}
    if checkpoint is not None:
        ckpt = read_checkpoint(checkpoint, unsafe_load=unsafe_load or run.checkpoint_unsafe_load)
        meta = ckpt.get("meta", {}) if isinstance(ckpt, dict) else {}
        load_checkpoint(model, ckpt, name=str(checkpoint))
    dataset_meta = meta.get("dataset_meta") or {}  # where 1.x checkpoints keep them
    model.CLASSES = meta.get("CLASSES") or _tuple(dataset_meta.get("classes")) or _dataset_attr(run, "CLASSES")
    model.PALETTE = meta.get("PALETTE") or dataset_meta.get("palette") or _dataset_attr(run, "PALETTE")
    model.cfg = cfg
    model.test_pipeline = list(run.data.test["pipeline"]) if run.data.test else None
    device = torch.device(device) if device else torch.device("cuda" if torch.cuda.is_available() else "cpu")
    model.to(device).eval()
    if run.channels_last:  # slide inference then feeds its windows channels-last too
        model.to(memory_format=torch.channels_last)
    return model


def _tuple(value: Any) -> tuple | None:
    return tuple(value) if value is not None else None


def _dataset_attr(run: RunConfig, name: str) -> Any:
    from seglab.registry import DATASETS

    dataset_type = (run.data.test or {}).get("type")
    if dataset_type is None or dataset_type not in DATASETS:
        return None
    return getattr(DATASETS.get(dataset_type), name, None)


def use_aug_test(dataset_cfg: Mapping, split: str = "test") -> None:
    """Switch the ``MultiScaleFlipAug`` of ``data.<split>``'s config to 0.x's ``--aug-test`` setting
    (6 scales + flip)."""
    for step in dataset_cfg["pipeline"]:
        if step.get("type") == "MultiScaleFlipAug":
            step["img_ratios"] = AUG_TEST_RATIOS
            step["flip"] = True
            return
    raise ConfigError(f"--aug-test needs a MultiScaleFlipAug step in data.{split}.pipeline")


@torch.no_grad()
def inference_segmentor(model: torch.nn.Module, image: str | Path | np.ndarray) -> np.ndarray:
    """Class ids (H, W) of one image (a file path, or a BGR uint8 array as OpenCV loads it)."""
    from seglab.data import collate
    from seglab.data.transforms import Compose
    from seglab.engine.evaluator import predict

    if model.test_pipeline is None:
        raise ConfigError("data.test is not set: inference runs images through the test split's pipeline")
    steps = list(model.test_pipeline)
    if isinstance(image, np.ndarray):  # already loaded: run what follows the loading step
        if steps and steps[0].get("type") == "LoadImageFromFile":
            steps = steps[1:]
        results = _loaded_image_results(image)
    else:
        results = {"img_info": {"filename": str(image)}, "img_prefix": None}
    sample = collate([Compose(steps)(results)])
    device = next(model.parameters()).device
    return predict(model, sample, device)[0]


def _loaded_image_results(image: np.ndarray) -> dict[str, Any]:
    """The results ``LoadImageFromFile`` would produce for an in-memory image."""
    if image.ndim != 3 or image.shape[2] != 3:
        raise ConfigError(f"inference_segmentor expects an (H, W, 3) BGR image array, got shape {image.shape}")
    return {"filename": None, "ori_filename": None, "img": image, "img_shape": image.shape,
            "ori_shape": image.shape, "pad_shape": image.shape, "scale_factor": 1.0,
            "img_norm_cfg": {"mean": np.zeros(3, np.float32), "std": np.ones(3, np.float32), "to_rgb": False}}
