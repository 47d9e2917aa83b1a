"""The trainer through its public interface: `seglab train` writes what it promises."""
from __future__ import annotations

import json
import math
import warnings
from pathlib import Path

import pytest
import torch

from seglab.cli import main
from seglab.config import Config
from seglab.engine import Trainer
from seglab.engine.amp import resolve_amp
from seglab.engine.run_config import parse_run_config
from seglab.errors import ConfigError


def read_log(work_dir: Path) -> list[dict]:
    [log] = sorted(work_dir.glob("*.log.json"))
    return [json.loads(line) for line in log.read_text().splitlines()]


def test_train_writes_logs_checkpoints_and_metrics(small_config, tmp_path, capsys):
    config = small_config(max_iters=4, ckpt_interval=2, eval_interval=4, log_interval=2)
    work_dir = tmp_path / "run"
    assert main(["train", str(config), "--work-dir", str(work_dir), "--no-progress"]) == 0
    assert (work_dir / "small_unet.py").is_file()
    assert Config.fromfile(str(work_dir / "small_unet.py")).runner.max_iters == 4
    assert sorted(p.name for p in work_dir.glob("*.pth")) == ["iter_2.pth", "iter_4.pth", "latest.pth"]
    assert (work_dir / "latest.pth").resolve().name == "iter_4.pth"
    records = read_log(work_dir)
    train = [r for r in records if r.get("mode") == "train"]
    assert [r["iter"] for r in train] == [2, 4]
    for r in train:
        for key in ("lr", "decode.loss_ce", "decode.acc_seg", "aux.loss_ce", "aux.acc_seg", "loss",
                    "time", "data_time", "memory"):
            assert key in r, key
        assert r["loss"] == pytest.approx(r["decode.loss_ce"] + r["aux.loss_ce"], rel=1e-4)
    assert train[1]["lr"] < train[0]["lr"]  # poly decay
    [val] = [r for r in records if r.get("mode") == "val"]
    assert val["iter"] == 4 and 0 <= val["mIoU"] <= 1 and "IoU.vessel" in val and "aAcc" in val
    human = next(work_dir.glob("*.log")).read_text()
    assert "Iter [4/4]" in human and "decode.loss_ce" in human and "mIoU" in human
    ckpt = torch.load(work_dir / "iter_4.pth", weights_only=True)
    assert ckpt["meta"]["iter"] == 4 and ckpt["meta"]["CLASSES"] == ("background", "vessel")
    assert {"state_dict", "optimizer", "scheduler", "rng"} <= set(ckpt)


def test_lr_table_summary_printed_at_start(small_config, tmp_path, caplog):
    config = small_config(max_iters=2, eval_interval=0)
    cfg = Config.fromfile(str(config))
    cfg.optimizer.paramwise_cfg = dict(custom_keys={"head": dict(lr_mult=10.0)})
    trainer = Trainer(cfg, tmp_path / "run", progress=False)
    trainer.train()
    text = next((tmp_path / "run").glob("*.log")).read_text()
    assert "custom_keys['head']" in text


def test_unknown_top_level_key_warns_with_suggestion(small_config, tmp_path):
    config = small_config(max_iters=1, eval_interval=0)
    cfg = Config.fromfile(str(config))
    cfg.optimzer = dict(lr=1.0)
    Trainer(cfg, tmp_path / "run", progress=False)
    text = next((tmp_path / "run").glob("*.log")).read_text()
    assert "'optimzer' is not used by seglab. Did you mean 'optimizer'" in text


def test_more_workers_than_cpus_is_one_warning_that_names_the_key(small_config, tmp_path):
    from seglab.data.loader import usable_cpus

    cpus = usable_cpus()
    if cpus > 8:
        pytest.skip(f"starting {cpus + 1} loader processes to oversubscribe {cpus} CPUs is too many for a test")
    config = small_config(max_iters=2, eval_interval=0, workers=cpus + 1)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert main(["train", str(config), "--work-dir", str(tmp_path / "run"), "--no-progress"]) == 0
    text = next((tmp_path / "run").glob("*.log")).read_text()
    assert text.count(f"data.workers_per_gpu={cpus + 1} starts {cpus + 1} loader processes on {cpus} usable") == 1
    assert f"--cfg-options data.workers_per_gpu={cpus}" in text
    assert not [w for w in caught if "worker processes" in str(w.message)]  # PyTorch's repeated warning


def test_bfloat16_autocast_and_channels_last_train(small_config, tmp_path, monkeypatch):
    # bf16 kernels exist on AVX-512/AMX CPUs; pretend so here to run the bf16 path on any CPU.
    monkeypatch.setattr("seglab.engine.amp.cpu_has_fast_bfloat16", lambda: True)
    config = small_config(max_iters=2, eval_interval=2, log_interval=1)
    work_dir = tmp_path / "bf16"
    assert main(["train", str(config), "--work-dir", str(work_dir), "--no-progress", "--cfg-options",
                 "amp.dtype=bfloat16", "channels_last=True"]) == 0
    train = [r for r in read_log(work_dir) if r.get("mode") == "train"]
    assert len(train) == 2 and all(math.isfinite(r["loss"]) for r in train)
    assert "amp torch.bfloat16, channels_last True" in next(work_dir.glob("*.log")).read_text()


def test_bfloat16_falls_back_to_fp32_on_cpus_without_bf16(monkeypatch, caplog):
    monkeypatch.setattr("seglab.engine.amp.cpu_has_fast_bfloat16", lambda: False)
    with caplog.at_level("WARNING", logger="seglab"):
        assert amp_of({"amp": {"dtype": "bfloat16"}}, torch.device("cpu")) == (None, False)
    assert "no native bfloat16 support" in caplog.text


def amp_of(cfg: dict, device: torch.device) -> tuple:
    return resolve_amp(parse_run_config(cfg, need_max_iters=False), device)


def test_amp_settings_resolve_like_0x(monkeypatch):
    monkeypatch.setattr("seglab.engine.amp.cpu_has_fast_bfloat16", lambda: True)
    cpu, cuda = torch.device("cpu"), torch.device("cuda")
    assert amp_of({}, cpu) == (None, False)
    assert amp_of({"fp16": {"loss_scale": 512.0}}, cpu) == (torch.bfloat16, False)
    assert amp_of({"fp16": {"loss_scale": 512.0}}, cuda) == (torch.float16, True)
    assert amp_of({"optimizer_config": {"type": "Fp16OptimizerHook", "loss_scale": 512.0}}, cuda) == (torch.float16, True)
    assert amp_of({"amp": {"dtype": "bfloat16"}}, cuda) == (torch.bfloat16, False)
    assert amp_of({"amp": {"dtype": "float16", "enabled": False}}, cuda) == (None, False)
    with pytest.raises(ConfigError, match="amp: AmpConfig does not take the key 'dtyp'. Did you mean 'dtype'"):
        amp_of({"amp": {"dtyp": "bfloat16"}}, cpu)


def test_diverging_loss_stops_with_the_values(small_config, tmp_path, capsys):
    config = small_config(max_iters=4, eval_interval=0, log_interval=1)
    code = main(["train", str(config), "--work-dir", str(tmp_path / "nan"), "--no-progress",
                 "--cfg-options", "optimizer.lr=1e30"])
    err = capsys.readouterr().err
    assert code == 1 and "loss was not finite at iteration 2 (noticed at iteration 2)" in err and "decode.loss_ce=" in err


def test_bad_runtime_config_is_a_clear_error(small_config, tmp_path, capsys):
    config = small_config()
    code = main(["train", str(config), "--work-dir", str(tmp_path / "x"), "--cfg-options",
                 "optimizer_config.grad_clp=1"])
    err = capsys.readouterr().err
    assert code == 1 and "grad_clp" in err and "Did you mean 'grad_clip'" in err and "Traceback" not in err


def test_runtime_settings_without_effect_are_reported(small_config, tmp_path):
    cfg = Config.fromfile(str(small_config(max_iters=1, eval_interval=0)))
    cfg.workflow = [("train", 1), ("val", 1)]
    cfg.evaluation.gpu_collect = True
    Trainer(cfg, tmp_path / "run", progress=False)
    text = next((tmp_path / "run").glob("*.log")).read_text()
    assert "the ('val', n) phase has no effect in seglab" in text
    assert "evaluation.gpu_collect=True has no effect in seglab: the per-class areas are summed" in text


def test_a_model_without_loss_names_is_a_config_error(small_config, tmp_path, capsys):
    config = small_config(max_iters=1, eval_interval=0)
    code = main(["train", str(config), "--work-dir", str(tmp_path / "x"), "--no-progress", "--cfg-options",
                 "model.auxiliary_head=None", "model.decode_head.loss_decode.loss_name=ce"])
    assert code == 1 and "nothing to optimise" in capsys.readouterr().err


def test_save_best_keeps_only_the_best_checkpoint(small_config, tmp_path):
    config = small_config(max_iters=4, ckpt_interval=2, eval_interval=2, log_interval=2)
    work_dir = tmp_path / "best"
    assert main(["train", str(config), "--work-dir", str(work_dir), "--no-progress", "--cfg-options",
                 "evaluation.save_best=mIoU"]) == 0
    [best] = list(work_dir.glob("best_mIoU_iter_*.pth"))
    it = int(best.stem.rsplit("_", 1)[1])
    val = {r["iter"]: r["mIoU"] for r in read_log(work_dir) if r.get("mode") == "val"}
    assert val[it] == max(val.values())
    best_state = torch.load(best, weights_only=True)["state_dict"]
    same_iter = torch.load(work_dir / f"iter_{it}.pth", weights_only=True)["state_dict"]
    assert all(torch.equal(best_state[k], same_iter[k]) for k in best_state)


def test_gradient_accumulation_steps_every_n_iterations(small_config, tmp_path):
    from seglab.engine import Trainer
    from seglab.engine.hooks import HookBase

    cfg = Config.fromfile(str(small_config(max_iters=5, eval_interval=0, log_interval=1)))
    cfg.optimizer_config = dict(type="GradientCumulativeOptimizerHook", cumulative_iters=2)
    trainer = Trainer(cfg, tmp_path / "run", progress=False)
    weights = [trainer.model.decode_head.conv_seg.weight.detach().clone()]
    probe = HookBase()
    probe.after_step = lambda t: weights.append(t.model.decode_head.conv_seg.weight.detach().clone())
    trainer.hooks.insert(0, probe)
    trainer.train()
    changed = [not torch.equal(a, b) for a, b in zip(weights, weights[1:])]
    assert changed == [False, True, False, True, True]  # windows [1, 2], [3, 4], then [5] alone
