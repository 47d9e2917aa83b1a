"""Mixed precision: which autocast dtype a run uses on its device, and its gradient scaler.

``amp=dict(dtype='bfloat16')`` autocasts on CPU or GPU; ``dtype='float16'`` (GPU) adds a gradient
scaler, and so do 0.x's ``fp16=dict(loss_scale=...)`` and ``optimizer_config.type='Fp16OptimizerHook'``.
fp16 autocast on a CPU is slow and unscaled, so there it means bfloat16; a CPU without native
bfloat16 (AVX2 only) trains in fp32, with a warning.
"""
from __future__ import annotations

import logging

import torch

from seglab.engine.run_config import RunConfig
from seglab.registry import check_arguments

logger = logging.getLogger("seglab")

_DTYPES = {"bfloat16": torch.bfloat16, "bf16": torch.bfloat16, "float16": torch.float16, "fp16": torch.float16}


def cpu_has_fast_bfloat16() -> bool:
    """Whether oneDNN has bf16 kernels for this CPU (AVX-512 or AMX); without them autocast
    falls back to reference convolutions that are an order of magnitude slower than fp32."""
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):  # builds without oneDNN
        return False


def resolve_amp(run: RunConfig, device: torch.device) -> tuple[torch.dtype | None, bool]:
    """(autocast dtype or None, use a gradient scaler) of ``run`` on ``device``."""
    if run.amp is not None:
        if not run.amp.enabled:
            return None, False
        dtype = _DTYPES[run.amp.dtype]
    elif run.fp16 is not None or run.optimizer_config.type == "Fp16OptimizerHook":
        dtype = torch.float16
    else:
        return None, False
    if device.type == "cpu":
        if not cpu_has_fast_bfloat16():
            logger.warning(
                "amp: this CPU has no native bfloat16 support (oneDNN needs AVX-512 or AMX; "
                f"this one offers {torch.backends.cpu.get_cpu_capability()}), where bf16 autocast runs "
                "about 10x slower than fp32; training in fp32 instead. Remove `amp` to silence this.")
            return None, False
        return torch.bfloat16, False
    return dtype, dtype == torch.float16


def build_grad_scaler(run: RunConfig) -> torch.amp.GradScaler:
    """The fp16 gradient scaler; a number as ``loss_scale`` is its initial scale (then dynamic, as
    torch's scaler is), ``'dynamic'`` torch's default, a dict its arguments (``init_scale``,
    ``growth_factor``, ``backoff_factor``, ``growth_interval``)."""
    scale = run.fp16.loss_scale if run.fp16 is not None else run.optimizer_config.loss_scale
    if isinstance(scale, dict):
        check_arguments(torch.amp.GradScaler, scale, "fp16.loss_scale")
        return torch.amp.GradScaler("cuda", **scale)
    if scale == "dynamic":
        return torch.amp.GradScaler("cuda")
    return torch.amp.GradScaler("cuda", init_scale=float(scale))
