"""Checkpoints are read with the weights-only unpickler: 0.x and seglab files load, a pickle that
would run code is refused without running it (and loads only with the explicit opt-in), and the
RNG state seglab stores survives the weights-only loader."""
from __future__ import annotations

import builtins
import io
import os
import random
import time
import zipfile
from collections import OrderedDict
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from seglab.cli import main
from seglab.config import Config
from seglab.engine.checkpoint import (capture_rng_state, load_checkpoint, read_checkpoint, read_state_dict,
                                      restore_rng_state, unsafe_load_allowed)
from seglab.engine.inference import init_segmentor
from seglab.errors import CheckpointError
from seglab.registry import MODELS


# ---------------------------------------------------------------- 0.x checkpoints
def tiny_model() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4))


def mmcv_style_checkpoint(model: nn.Module, **meta_extra) -> dict:
    """What mmcv 1.x's ``save_checkpoint`` writes for MMSegmentation 0.30's ``IterBasedRunner``:
    ``meta`` (the runner's meta updated with epoch/iter, mmcv_version and time), ``state_dict``
    (an OrderedDict of CPU tensors carrying the module's ``_metadata``), ``optimizer``."""
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, weight_decay=5e-4)
    model(torch.randn(2, 3, 8, 8)).sum().backward()
    optimizer.step()
    state = model.state_dict()
    cpu_state = OrderedDict((k, v.cpu()) for k, v in state.items())
    cpu_state._metadata = getattr(state, "_metadata", OrderedDict())
    meta = {
        "env_info": "sys.platform: linux\nPython: 3.8.13\nCUDA available: True\nPyTorch: 1.11.0",
        "seed": 1234567, "exp_name": "pspnet_r50-d8_512x1024_40k_cityscapes.py",
        "mmseg_version": "0.30.0+abc1234", "config": "norm_cfg = dict(type='SyncBN', requires_grad=True)\n",
        "CLASSES": ("road", "sidewalk", "building"),
        "PALETTE": [[128, 64, 128], [244, 35, 232], [70, 70, 70]],
        "epoch": 1, "iter": 40000, "mmcv_version": "1.7.1", "time": time.asctime(),
        **meta_extra,
    }
    return {"meta": meta, "state_dict": cpu_state, "optimizer": optimizer.state_dict()}


def test_mmseg_030_checkpoint_loads_with_the_plain_weights_only_loader(tmp_path):
    model = tiny_model()
    ckpt = mmcv_style_checkpoint(model)
    torch.save(ckpt, tmp_path / "iter_40000.pth")
    # as it is: PyTorch's own weights-only loader needs nothing added
    plain = torch.load(tmp_path / "iter_40000.pth", weights_only=True)
    assert plain["meta"]["CLASSES"] == ("road", "sidewalk", "building")
    got = read_checkpoint(tmp_path / "iter_40000.pth")
    assert got["meta"] == ckpt["meta"] and got["optimizer"]["param_groups"][0]["momentum"] == 0.9
    target = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4))
    report = load_checkpoint(target, tmp_path / "iter_40000.pth", strict=True)
    assert report.complete
    for key, value in model.state_dict().items():
        assert torch.equal(target.state_dict()[key], value), key


def test_mmseg_checkpoint_with_numpy_values_in_meta_loads(tmp_path):
    """A dataset without a PALETTE gets a random numpy one in 0.x, and ``save_best`` stores the
    metric as a numpy float: both are data, read by the numpy rebuilders seglab accepts."""
    palette = np.random.default_rng(42).integers(0, 255, size=(3, 3))
    ckpt = mmcv_style_checkpoint(tiny_model(), PALETTE=palette,
                                 hook_msgs={"last_ckpt": "iter_40000.pth", "best_score": np.float64(0.7712),
                                            "best_ckpt": "best_mIoU_iter_40000.pth"})
    torch.save(ckpt, tmp_path / "best.pth")
    got = read_checkpoint(tmp_path / "best.pth")
    assert np.array_equal(got["meta"]["PALETTE"], palette)
    assert got["meta"]["hook_msgs"]["best_score"] == np.float64(0.7712)


def renamed_numpy_module(path: Path, old: bytes, new: bytes) -> None:
    """Rewrite the pickle inside a zip checkpoint so its globals name ``new`` instead of ``old``."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(path) as src, zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as dst:
        for item in src.infolist():
            data = src.read(item.filename)
            if item.filename.endswith("data.pkl"):
                data = data.replace(old, new)
            dst.writestr(item, data)
    path.write_bytes(buffer.getvalue())


def test_checkpoint_pickled_under_numpy_1_loads(tmp_path):
    """numpy 1.x names its rebuilders ``numpy.core.multiarray``, numpy 2 ``numpy._core.multiarray``."""
    torch.save({"meta": {"PALETTE": np.arange(6).reshape(2, 3), "best": np.float32(0.5)}}, tmp_path / "a.pth")
    for old, new in ((b"numpy._core.multiarray\n", b"numpy.core.multiarray\n"),
                     (b"numpy.core.multiarray\n", b"numpy._core.multiarray\n")):
        renamed_numpy_module(tmp_path / "a.pth", old, new)
        got = read_checkpoint(tmp_path / "a.pth")
        assert np.array_equal(got["meta"]["PALETTE"], np.arange(6).reshape(2, 3)) and got["meta"]["best"] == 0.5


# ---------------------------------------------------------------- files that would run code
class WritesMarker:
    """Unpickling this calls ``exec``, which writes the marker file."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (builtins.exec, (f"open({str(self.marker)!r}, 'w').write('ran')",))


class RunsShell:
    """Unpickling this calls ``os.system``, which touches the marker file."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch '{self.marker}'",))


@pytest.fixture(params=[WritesMarker, RunsShell], ids=["exec", "os.system"])
def evil_checkpoint(request, tmp_path):
    """(checkpoint path, marker path, the global it imports): a real state dict plus a payload in meta."""
    marker = tmp_path / "code_ran"
    payload = request.param(marker)
    wanted = f"{payload.__reduce__()[0].__module__}.{payload.__reduce__()[0].__name__}"
    path = tmp_path / "downloaded.pth"
    torch.save({"meta": {"note": payload}, "state_dict": tiny_model().state_dict()}, path)
    assert not marker.exists()
    return path, marker, wanted


def test_code_in_a_checkpoint_is_refused_without_running(evil_checkpoint):
    path, marker, wanted = evil_checkpoint
    for read in (read_checkpoint, read_state_dict, lambda p: load_checkpoint(tiny_model(), p)):
        with pytest.raises(CheckpointError) as err:
            read(path)
        message = str(err.value)
        assert str(path) in message and f"imports {wanted}" in message
        assert "--unsafe-load" in message and "checkpoint_unsafe_load=True" in message
    assert not marker.exists()


def test_the_opt_in_loads_a_trusted_file_in_full(evil_checkpoint):
    path, marker, _ = evil_checkpoint
    ckpt = read_checkpoint(path, unsafe_load=True)
    assert marker.exists()  # full unpickling really ran the file's code: hence the opt-in
    assert set(ckpt["state_dict"]) == set(tiny_model().state_dict())
    marker.unlink()
    with unsafe_load_allowed():
        assert load_checkpoint(tiny_model(), path, strict=True).complete
    assert marker.exists()
    marker.unlink()
    with unsafe_load_allowed(False), pytest.raises(CheckpointError):
        read_checkpoint(path)
    assert not marker.exists()


def test_pretrained_backbone_checkpoint_is_read_safely(evil_checkpoint):
    path, marker, wanted = evil_checkpoint
    backbone = MODELS.build(dict(type="ResNetV1c", depth=18, init_cfg=dict(type="Pretrained", checkpoint=str(path))))
    with pytest.raises(CheckpointError, match=f"imports {wanted}"):
        backbone.init_weights()
    assert not marker.exists()


def test_resume_and_load_from_refuse_code(evil_checkpoint, small_config, tmp_path):
    from seglab.engine import Trainer

    path, marker, wanted = evil_checkpoint
    cfg = Config.fromfile(str(small_config(max_iters=1, eval_interval=0)))
    for option in ("resume_from", "load_from"):
        with pytest.raises(CheckpointError, match=f"imports {wanted}"):
            Trainer(cfg, tmp_path / option, progress=False, **{option: str(path)})
    assert not marker.exists()


def test_seglab_test_and_infer_refuse_code_unless_unsafe_load(small_config, tiny_dataset, tmp_path, capsys):
    config = small_config(max_iters=1, eval_interval=0)
    cfg = Config.fromfile(str(config))
    model = MODELS.build(cfg.model)
    marker = tmp_path / "code_ran"
    path = tmp_path / "downloaded.pth"
    torch.save({"meta": {"note": WritesMarker(marker)}, "state_dict": model.state_dict()}, path)
    image = next((tiny_dataset / "img_dir" / "val").glob("*.png"))
    commands = {"test": ["test", str(config), str(path), "--no-progress"],
                "infer": ["infer", str(config), str(path), str(image), "--out", str(tmp_path / "out")]}
    for name, argv in commands.items():
        assert main(argv) == 1
        err = capsys.readouterr().err
        assert f"seglab {name}: error: checkpoint file {path} was not loaded: it imports builtins.exec" in err
        assert "--unsafe-load" in err
        assert not marker.exists()
        assert main([*argv, "--unsafe-load"]) == 0
        assert marker.exists()
        marker.unlink()
    assert (tmp_path / "out" / f"{image.stem}_mask.png").is_file()


def test_init_segmentor_unsafe_load(small_config, tmp_path):
    cfg = Config.fromfile(str(small_config(max_iters=1, eval_interval=0)))
    model = MODELS.build(cfg.model)
    path = tmp_path / "trusted.pth"
    torch.save({"meta": {"CLASSES": ("a", "b"), "note": WritesMarker(tmp_path / "ran")},
                "state_dict": model.state_dict()}, path)
    with pytest.raises(CheckpointError, match="builtins.exec"):
        init_segmentor(cfg, str(path), device="cpu")
    loaded = init_segmentor(cfg, str(path), device="cpu", unsafe_load=True)
    assert loaded.CLASSES == ("a", "b")
    for key, value in model.state_dict().items():
        assert torch.equal(loaded.state_dict()[key], value), key


# ---------------------------------------------------------------- RNG state
def draws() -> tuple:
    return (random.random(), random.getrandbits(64), np.random.rand(3).tolist(), np.random.normal(),
            torch.rand(3).tolist(), torch.randint(0, 1000, (4,)).tolist())


def test_rng_state_round_trips_through_the_weights_only_loader(tmp_path):
    random.seed(1)
    np.random.seed(2)
    torch.manual_seed(3)
    draws()
    np.random.normal()  # leaves numpy with a cached Gaussian, part of its state
    random.gauss(0, 1)  # and Python's
    torch.save({"rng": capture_rng_state()}, tmp_path / "rng.pth")
    expected = draws()
    draws()  # move every stream on
    restore_rng_state(torch.load(tmp_path / "rng.pth", weights_only=True)["rng"])
    assert draws() == expected


def test_legacy_rng_entry_written_by_older_seglab_restores(tmp_path):
    """Before capture_rng_state, the trainer stored random.getstate() and np.random.get_state() as is."""
    random.seed(5)
    np.random.seed(6)
    torch.manual_seed(7)
    legacy = {"python": random.getstate(), "numpy": np.random.get_state(), "torch": torch.random.get_rng_state(),
              "cuda": None}
    torch.save({"rng": legacy}, tmp_path / "old.pth")
    expected = draws()
    restore_rng_state(read_checkpoint(tmp_path / "old.pth")["rng"])
    assert draws() == expected


def test_rng_entry_that_lacks_a_stream_is_named():
    state = capture_rng_state()
    del state["numpy"]
    with pytest.raises(CheckpointError, match="lacks numpy"):
        restore_rng_state(state)


def test_trainer_checkpoint_with_captured_rng_loads_with_the_plain_weights_only_loader(small_config, tmp_path):
    """Everything the trainer writes (meta, optimizer, schedule, RNG streams) is weights-only data:
    torch's own loader reads it with nothing added."""
    from seglab.engine import Trainer

    trainer = Trainer(Config.fromfile(str(small_config(max_iters=1, eval_interval=0))), tmp_path / "run",
                      progress=False)
    trainer.train()
    loaded = torch.load(tmp_path / "run" / "iter_1.pth", weights_only=True)
    assert loaded["meta"]["iter"] == 1 and loaded["meta"]["CLASSES"] == ("background", "vessel")
    assert loaded["optimizer"]["param_groups"][0]["lr"] == trainer.optimizer.param_groups[0]["lr"]
