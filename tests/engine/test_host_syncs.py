"""No host synchronisation inside a training step: values reach Python only at log intervals.

On a GPU, reading a tensor's value on the host (``.item()``, ``bool(t)``, ``.tolist()``), a
boolean-mask index or an op whose output size depends on the data (``nonzero``, ``unique``)
waits for every queued kernel. The CPU has no queue, but the same calls are visible to a
dispatch mode, so this test catches them on any machine.
"""
from __future__ import annotations

from collections import Counter

import pytest
import torch
from torch.overrides import TorchFunctionMode
from torch.utils._python_dispatch import TorchDispatchMode

from seglab.config import Config
from seglab.engine import Trainer

# aten ops that read a value on the host, or whose output size depends on values
DATA_DEPENDENT_OPS = {"_local_scalar_dense", "nonzero", "masked_select", "_unique", "_unique2", "unique_dim",
                      "unique_consecutive", "is_nonzero", "equal", "repeat_interleave"}
HOST_READS = {"tolist", "numpy", "__array__"}  # read memory directly on CPU, copy to host on a GPU


def _bool_mask_index(name: str, args: tuple) -> bool:
    if name not in ("index", "index_put", "index_put_"):
        return False
    indices = args[1] if len(args) > 1 else ()
    return any(isinstance(i, torch.Tensor) and i.dtype in (torch.bool, torch.uint8) for i in indices)


class HostSyncs(TorchDispatchMode):
    """Counts the calls in its block that would make the host wait for a GPU."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: Counter[str] = Counter()
        self._reads = _HostReads(self.calls)

    def __enter__(self):
        self._reads.__enter__()
        return super().__enter__()

    def __exit__(self, *exc):
        super().__exit__(*exc)
        self._reads.__exit__(*exc)

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        name = func.overloadpacket.__name__
        if name in DATA_DEPENDENT_OPS or _bool_mask_index(name, args):
            self.calls[name] += 1
        return func(*args, **(kwargs or {}))


class _HostReads(TorchFunctionMode):
    def __init__(self, calls: Counter) -> None:
        super().__init__()
        self.calls = calls

    def __torch_function__(self, func, types, args=(), kwargs=None):
        name = getattr(func, "__name__", "")
        if name in HOST_READS:
            self.calls[name] += 1
        return func(*args, **(kwargs or {}))


def test_the_sync_counter_sees_each_kind_of_host_sync():
    x = torch.randn(6, requires_grad=True)
    with HostSyncs() as syncs:
        loss = (x * 2).sum()
        loss.backward()
        loss.item(), bool(loss > 0), x[x > 0], torch.unique(x), x.detach().tolist()
    assert set(syncs.calls) == {"_local_scalar_dense", "index", "_unique2", "tolist"}
    assert syncs.calls["_local_scalar_dense"] == 2


OHEM = {"type": "OHEMPixelSampler", "min_kept": 100}
TRICKS = {
    "cross-entropy": {},
    "OHEM with thresh": {"model.decode_head.sampler": dict(OHEM, thresh=0.7)},
    "OHEM top-k": {"model.decode_head.sampler": OHEM},
    "class-weighted CE": {"model.decode_head.loss_decode.class_weight": [1.0, 3.0]},
    "CE + Dice": {"model.decode_head.loss_decode": [
        {"type": "CrossEntropyLoss", "loss_name": "loss_ce"},
        {"type": "DiceLoss", "loss_name": "loss_dice", "loss_weight": 3.0}]},
    "1.x class-weighted CE": {"model.decode_head.loss_decode.type": "CrossEntropyLoss1x",
                              "model.decode_head.loss_decode.class_weight": [1.0, 3.0]},
    "CE + 1.x Dice with OHEM": {"model.decode_head.sampler": dict(OHEM, thresh=0.7),
                                "model.decode_head.loss_decode": [
                                    {"type": "CrossEntropyLoss1x", "loss_name": "loss_ce"},
                                    {"type": "DiceLoss1x", "loss_name": "loss_dice", "loss_weight": 3.0}]},
    "one-channel sigmoid head": {"model.decode_head.out_channels": 1,
                                 "model.decode_head.loss_decode.use_sigmoid": True},
    "focal": {"model.decode_head.loss_decode": {"_delete_": True, "type": "FocalLoss"}},
    "Lovasz": {"model.decode_head.loss_decode": {"_delete_": True, "type": "LovaszLoss", "reduction": "none"}},
    "grad clip": {"optimizer_config.grad_clip": {"max_norm": 1.0}},
    "per-module lr": {"optimizer.paramwise_cfg": {"custom_keys": {"head": {"lr_mult": 10.0}}}},
    "bf16 autocast + channels-last": {"amp": {"dtype": "bfloat16"}, "channels_last": True},
}


def build_trainer(config_path, work_dir, options: dict) -> Trainer:
    cfg = Config.fromfile(str(config_path))
    cfg.merge_from_dict(options)
    trainer = Trainer(cfg, work_dir, seed=0, progress=False)
    trainer.train_model.train()
    return trainer


@pytest.mark.parametrize("trick", list(TRICKS))
def test_a_training_step_never_syncs(trick, small_config, tmp_path, monkeypatch):
    monkeypatch.setattr("seglab.engine.amp.cpu_has_fast_bfloat16", lambda: True)  # bf16 path on any CPU
    trainer = build_trainer(small_config(max_iters=4, eval_interval=0, ckpt_interval=0), tmp_path, TRICKS[trick])
    batch = next(iter(trainer.train_loader))
    trainer.run_step(0, batch)  # first-call work (lazy init) is not the steady state
    with HostSyncs() as syncs:
        log_vars = trainer.run_step(1, batch)
    assert not syncs.calls, f"{trick}: host syncs in a training step: {dict(syncs.calls)}"
    assert all(isinstance(v, torch.Tensor) for v in log_vars.values())


def test_a_training_run_syncs_per_log_interval_not_per_iteration(small_config, tmp_path):
    def syncs_in_run(max_iters: int) -> Counter:
        config = small_config(f"run{max_iters}.py", max_iters=max_iters, eval_interval=0, ckpt_interval=0,
                              log_interval=max_iters)
        trainer = build_trainer(config, tmp_path / str(max_iters), {})
        with HostSyncs() as syncs:
            trainer.train()
        return syncs.calls

    # one log line each, both within the first pass over the 8 images: 3 more iterations add no sync
    assert syncs_in_run(1) == syncs_in_run(4)
