"""seglab.engine.checkpoint: reading local checkpoints, loading by name with a report, atomic saving."""
from __future__ import annotations

import logging
import os
import re

import pytest
import torch
from torch import nn

from seglab.engine.checkpoint import LoadReport, load_checkpoint, read_state_dict, save_atomic
from seglab.errors import CheckpointError


def tiny_model() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(3, 2), nn.BatchNorm1d(2))


# ---------------------------------------------------------------- read_state_dict
@pytest.mark.parametrize("wrapper", [None, "state_dict", "model"])
def test_read_state_dict_unwraps_and_strips_module_prefix(tmp_path, wrapper):
    state = {"module.0.weight": torch.ones(2, 3), "0.bias": torch.zeros(2)}
    obj = state if wrapper is None else {wrapper: state, "meta": {"iter": 3, "CLASSES": ("a", "b")}}
    torch.save(obj, tmp_path / "ckpt.pth")
    got = read_state_dict(str(tmp_path / "ckpt.pth"))
    assert sorted(got) == ["0.bias", "0.weight"]
    assert torch.equal(got["0.weight"], torch.ones(2, 3))


@pytest.mark.parametrize("source", ["open-mmlab://resnet50_v1c", "torchvision://resnet50",
                                    "https://example.com/r50.pth", "http://example.com/r50.pth"])
def test_read_state_dict_refuses_urls_with_instructions(source):
    with pytest.raises(CheckpointError) as err:
        read_state_dict(source)
    message = str(err.value)
    assert source in message
    assert "Download the file" in message and "local path" in message
    assert "--cfg-options model.pretrained=None" in message


def test_known_open_mmlab_name_gives_its_download_address():
    with pytest.raises(CheckpointError, match=r"download\.openmmlab\.com/pretrain/third_party/resnet50_v1c"):
        read_state_dict("open-mmlab://resnet50_v1c")


def test_read_state_dict_missing_and_unreadable_files_are_named(tmp_path):
    missing = tmp_path / "nope.pth"
    with pytest.raises(CheckpointError, match=re.escape(str(missing)) + ".*does not exist"):
        read_state_dict(missing)
    garbage = tmp_path / "garbage.pth"
    garbage.write_bytes(b"this is not a checkpoint")
    with pytest.raises(CheckpointError, match=re.escape(f"cannot read checkpoint file {garbage}")):
        read_state_dict(garbage)


def test_read_state_dict_rejects_non_state_dicts(tmp_path):
    torch.save({"weights": [1, 2, 3]}, tmp_path / "odd.pth")
    with pytest.raises(CheckpointError, match="not tensors: weights"):
        read_state_dict(tmp_path / "odd.pth")
    torch.save([torch.ones(1)], tmp_path / "list.pth")
    with pytest.raises(CheckpointError, match="holds a list, not a state dict"):
        read_state_dict(tmp_path / "list.pth")


# ---------------------------------------------------------------- load_checkpoint
def partial_checkpoint() -> dict[str, torch.Tensor]:
    """Fits 0.weight and the BN buffers; 0.bias missing; 1.weight the wrong shape; one extra key."""
    return {"0.weight": torch.full((2, 3), 7.0), "1.weight": torch.ones(5), "1.bias": torch.full((2,), 0.5),
            "1.running_mean": torch.full((2,), 2.0), "1.running_var": torch.full((2,), 3.0),
            "extra.weight": torch.zeros(1)}


def test_load_checkpoint_loads_what_fits_and_reports_the_rest(tmp_path, seglab_log):
    model = tiny_model()
    bias_before = model[0].bias.detach().clone()
    torch.save({"state_dict": partial_checkpoint()}, tmp_path / "ckpt.pth")
    report = load_checkpoint(model, str(tmp_path / "ckpt.pth"))
    assert isinstance(report, LoadReport)
    assert report.missing == ["0.bias"]  # 1.num_batches_tracked is not reported, as 0.x
    assert report.unexpected == ["extra.weight"]
    assert report.mismatched == [("1.weight", (5,), (2,))]
    assert not report.complete
    assert torch.equal(model[0].weight, torch.full((2, 3), 7.0))
    assert torch.equal(model[1].running_var, torch.full((2,), 3.0))
    assert torch.equal(model[0].bias, bias_before)
    assert torch.equal(model[1].weight, torch.ones(2))  # mismatched: untouched
    warnings = "\n".join(r.getMessage() for r in seglab_log.records if r.levelno == logging.WARNING)
    assert "0.bias" in warnings and "extra.weight" in warnings and "1.weight (checkpoint (5,), model (2,))" in warnings


def test_load_checkpoint_strict_raises_listing_keys_and_loads_nothing():
    model = tiny_model()
    weight_before = model[0].weight.detach().clone()
    with pytest.raises(CheckpointError) as err:
        load_checkpoint(model, partial_checkpoint(), strict=True)
    message = str(err.value)
    assert "0.bias" in message and "extra.weight" in message and "1.weight" in message
    assert torch.equal(model[0].weight, weight_before)


def test_load_checkpoint_strict_accepts_a_complete_dict_and_key_map():
    source, target = tiny_model(), tiny_model()
    with torch.no_grad():
        source[0].weight.fill_(3.0)
    renamed = {f"net.{k}": v for k, v in source.state_dict().items()}
    report = load_checkpoint(target, {"state_dict": renamed}, strict=True,
                             key_map=lambda sd: {k.removeprefix("net."): v for k, v in sd.items()})
    assert report.complete and len(report.loaded) == len(source.state_dict())
    assert torch.equal(target[0].weight, torch.full((2, 3), 3.0))


# ---------------------------------------------------------------- save_atomic
def test_save_atomic_writes_and_replaces_without_leftovers(tmp_path):
    path = tmp_path / "sub" / "iter_1.pth"
    save_atomic({"x": torch.arange(3)}, path)
    save_atomic({"x": torch.arange(4)}, path)
    assert os.listdir(path.parent) == ["iter_1.pth"]
    assert torch.equal(torch.load(path)["x"], torch.arange(4))


def test_save_atomic_failure_keeps_the_old_file_and_removes_the_temporary(tmp_path, monkeypatch):
    path = tmp_path / "latest.pth"
    save_atomic({"x": torch.ones(2)}, path)

    def broken_save(obj, f, *args, **kwargs):
        f.write(b"partial bytes")  # a crash halfway through writing
        raise OSError("disk full")

    monkeypatch.setattr(torch, "save", broken_save)
    with pytest.raises(OSError, match="disk full"):
        save_atomic({"x": torch.zeros(2)}, path)
    monkeypatch.undo()
    assert os.listdir(tmp_path) == ["latest.pth"]
    assert torch.equal(torch.load(path)["x"], torch.ones(2))
