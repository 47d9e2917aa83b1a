"""Hooks through the public interface: users' own modules and hooks, EMA, and non-finite losses."""
from __future__ import annotations

import json
import sys
import textwrap
from pathlib import Path

import pytest
import torch

from seglab.cli import main
from seglab.config import Config
from seglab.engine import Trainer
from seglab.engine.hooks import HookBase, eta_seconds
from seglab.engine.trainer import TrainingDiverged
from seglab.errors import ConfigError
from seglab.registry import HOOKS

USER_HEAD = '''
from seglab.models.heads import FCNHead
from seglab.registry import HEADS


@HEADS.register
class UserHead(FCNHead):
    """A user's head: FCN with its logits halved."""

    def __init__(self, scale=0.5, **kwargs):
        super().__init__(**kwargs)
        self.scale = scale

    def forward(self, inputs):
        return super().forward(inputs) * self.scale
'''

USER_HOOK = '''
import json

from seglab.engine.hooks import HookBase
from seglab.registry import HOOKS


@HOOKS.register
class StepRecorder(HookBase):
    """Writes the iterations it saw, and the decode head's type, at the end of training."""

    def __init__(self, out):
        self.out, self.steps = out, []

    def after_step(self, trainer):
        self.steps.append(trainer.iter)

    def after_train(self, trainer):
        with open(self.out, "w") as f:
            json.dump({"steps": self.steps, "head": type(trainer.model.decode_head).__name__}, f)
'''


@pytest.fixture
def user_package(tmp_path, monkeypatch):
    """A package ``user_ext`` with a head and a hook, in a folder that becomes the working directory."""
    package = tmp_path / "project" / "user_ext"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "heads.py").write_text(USER_HEAD)
    (package / "hooks.py").write_text(USER_HOOK)
    monkeypatch.chdir(package.parent)
    monkeypatch.setattr(sys, "path", list(sys.path))  # custom_imports may add the working directory
    return package.parent


def test_custom_imports_register_a_users_head_and_hook(user_package, small_config, tmp_path):
    config = small_config(max_iters=3, eval_interval=0)
    record = tmp_path / "steps.json"
    assert main(["train", str(config), "--work-dir", str(tmp_path / "run"), "--no-progress", "--cfg-options",
                 "custom_imports={'imports': ['user_ext.heads', 'user_ext.hooks']}", "model.decode_head.type=UserHead",
                 f"custom_hooks=[{{'type': 'StepRecorder', 'out': '{record}', 'priority': 'HIGH'}}]"]) == 0
    assert json.loads(record.read_text()) == {"steps": [1, 2, 3], "head": "UserHead"}


def test_custom_imports_name_the_module_that_failed(user_package, small_config, tmp_path, capsys):
    options = ["custom_imports={'imports': ['user_ext.hedas']}"]
    assert main(["train", str(small_config()), "--work-dir", str(tmp_path / "a"), "--cfg-options", *options]) == 1
    assert "custom_imports: cannot import 'user_ext.hedas'" in capsys.readouterr().err
    allowed = ["custom_imports={'imports': ['user_ext.hedas'], 'allow_failed_imports': True}", "runner.max_iters=1"]
    assert main(["train", str(small_config()), "--work-dir", str(tmp_path / "b"), "--no-progress",
                 "--cfg-options", *allowed]) == 0
    assert "allow_failed_imports=True: continuing without it" in next((tmp_path / "b").glob("*.log")).read_text()


PROBE_CALLS: dict[str, list] = {}


@HOOKS.register
class _Probe(HookBase):
    """Test hook: records in ``PROBE_CALLS[log]`` when it was called and the weights at evaluation."""

    def __init__(self, log: str) -> None:
        self.calls = PROBE_CALLS.setdefault(log, [])

    def after_step(self, trainer):
        self.calls.append(("step", self.priority, trainer.iter))

    def before_eval(self, trainer):
        self.calls.append(("eval", {k: v.clone() for k, v in trainer.model.state_dict().items()}))


def test_hooks_run_in_priority_order_then_the_builtin_ones(small_config, tmp_path):
    calls = PROBE_CALLS["order"] = []
    cfg = Config.fromfile(str(small_config(max_iters=2, eval_interval=0)))
    cfg.custom_hooks = [dict(type="_Probe", log="order", priority=70), dict(type="_Probe", log="order", priority="HIGH")]
    trainer = Trainer(cfg, tmp_path / "run", progress=False)
    assert [type(h).__name__ for h in trainer.hooks] == ["_Probe", "_Probe", "TextLoggerHook", "CheckpointHook", "RunReportHook"]
    trainer.train()
    assert calls == [("step", 30, 1), ("step", 70, 1), ("step", 30, 2), ("step", 70, 2)]


def test_the_eta_counts_the_evaluations_still_due_at_the_last_ones_duration(small_config, tmp_path):
    cfg = Config.fromfile(str(small_config(max_iters=6, eval_interval=2, log_interval=1)))
    trainer = Trainer(cfg, tmp_path / "run", progress=False)
    assert eta_seconds(trainer, 1, 0.5) == 2.5  # no evaluation has run yet: none is counted
    trainer.train()
    assert trainer.last_eval_s > 0
    assert eta_seconds(trainer, 1, 0.5) == pytest.approx(2.5 + 3 * trainer.last_eval_s)  # at 2, 4 and 6
    # the log line of iteration 4 comes before the evaluation at 4
    assert eta_seconds(trainer, 4, 0.5) == pytest.approx(1.0 + 2 * trainer.last_eval_s)
    assert eta_seconds(trainer, 5, 0.5) == pytest.approx(0.5 + trainer.last_eval_s)
    assert eta_seconds(trainer, 6, 0.5) == pytest.approx(trainer.last_eval_s)
    [log] = (tmp_path / "run").glob("*.log")
    assert f"evaluating on {len(trainer.val_dataset)} validation images at iteration 2\n" in log.read_text()
    assert "evaluation at iteration 6 (" in log.read_text()


def _ema_config(small_config, max_iters: int) -> Config:
    cfg = Config.fromfile(str(small_config(max_iters=max_iters, ckpt_interval=2, eval_interval=2, log_interval=2)))
    cfg.custom_hooks = [dict(type="EMAHook", momentum=0.3, warm_up=1)]
    return cfg


def test_ema_hook_averages_evaluates_and_checkpoints_the_average(small_config, tmp_path):
    cfg = _ema_config(small_config, 2)
    calls = PROBE_CALLS["ema"] = []
    cfg.custom_hooks.append(dict(type="_Probe", log="ema", priority="LOW"))  # after EMA's swap
    trainer = Trainer(cfg, tmp_path / "run", progress=False)
    weights = [{k: v.clone() for k, v in trainer.model.state_dict().items()}]
    record = HookBase()
    record.after_step = lambda t: weights.append({k: v.clone() for k, v in t.model.state_dict().items()})
    trainer.hooks.insert(0, record)
    trainer.train()
    # ema = (1 - m) ema + m w after each step, m = min(0.3, (1 + i) / (1 + i)) = 0.3
    name = "decode_head.conv_seg.weight"
    expected = weights[0][name]
    for w in weights[1:]:
        expected = 0.7 * expected + 0.3 * w[name]
    [evaluated] = [c[1] for c in calls if c[0] == "eval"]
    assert torch.allclose(evaluated[name], expected, atol=1e-6)
    ckpt = torch.load(tmp_path / "run" / "iter_2.pth", weights_only=True)
    assert torch.allclose(ckpt["state_dict"][name], expected, atol=1e-6)
    assert torch.equal(ckpt["ema_state_dict"][name], weights[-1][name])  # the training weights
    assert torch.equal(trainer.model.state_dict()[name], weights[-1][name])  # swapped back after evaluation


def test_ema_hook_resumes_to_the_unbroken_run(small_config, tmp_path):
    Trainer(_ema_config(small_config, 4), tmp_path / "straight", progress=False).train()
    Trainer(_ema_config(small_config, 4), tmp_path / "second", progress=False,
            resume_from=str(tmp_path / "straight" / "iter_2.pth")).train()
    straight = torch.load(tmp_path / "straight" / "iter_4.pth", weights_only=True)
    resumed = torch.load(tmp_path / "second" / "iter_4.pth", weights_only=True)
    for key in ("state_dict", "ema_state_dict"):
        assert all(torch.equal(straight[key][k], resumed[key][k]) for k in straight[key]), key


def test_resuming_an_ema_checkpoint_without_the_hook_says_so(small_config, tmp_path):
    Trainer(_ema_config(small_config, 2), tmp_path / "ema", progress=False).train()
    cfg = Config.fromfile(str(small_config(max_iters=3, eval_interval=0)))
    Trainer(cfg, tmp_path / "plain", progress=False, resume_from=str(tmp_path / "ema" / "iter_2.pth"))
    assert "holds ema_state_dict, which no part of this run restores" in \
        next((tmp_path / "plain").glob("*.log")).read_text()


@HOOKS.register
class _Poison(HookBase):
    """Test hook: makes every weight NaN after iteration ``at``, as a diverging step would."""

    def __init__(self, at: int) -> None:
        self.at = at

    def after_step(self, trainer):
        if trainer.iter == self.at:
            with torch.no_grad():
                for p in trainer.model.parameters():
                    p.fill_(float("nan"))


def test_no_checkpoint_is_written_after_a_non_finite_loss_between_log_lines(small_config, tmp_path):
    cfg = Config.fromfile(str(small_config(max_iters=8, ckpt_interval=2, eval_interval=0, log_interval=8)))
    cfg.custom_hooks = [dict(type="_Poison", at=3)]  # iteration 4's loss is NaN
    with pytest.raises(TrainingDiverged, match=r"not finite at iteration 4 \(noticed at iteration 4\).*"
                                               r"the last one written is iter_2.pth"):
        Trainer(cfg, tmp_path / "run", progress=False).train()
    assert sorted(p.name for p in (tmp_path / "run").glob("*.pth")) == ["iter_2.pth", "latest.pth"]
    assert (tmp_path / "run" / "latest.pth").resolve().name == "iter_2.pth"


def test_logger_hook_rejects_epochs():
    from seglab.engine.hooks import TextLoggerHook

    with pytest.raises(ConfigError, match=r"by_epoch=True\) is not supported"):
        TextLoggerHook(by_epoch=True)


def test_checkpoint_out_dir_and_no_symlink(small_config, tmp_path):
    cfg = Config.fromfile(str(small_config(max_iters=2, eval_interval=0)))
    cfg.checkpoint_config = dict(interval=2, out_dir=str(tmp_path / "store"), create_symlink=False)
    Trainer(cfg, tmp_path / "run", progress=False).train()
    assert sorted(p.name for p in (tmp_path / "store" / "run").iterdir()) == ["iter_2.pth"]
    assert not list(Path(tmp_path / "run").glob("*.pth"))


def test_report_is_refreshed_at_each_evaluation(small_config, tmp_path):
    cfg = Config.fromfile(str(small_config(max_iters=4, eval_interval=2, ckpt_interval=0, log_interval=2)))
    trainer = Trainer(cfg, tmp_path / "run", progress=False, command="seglab train small_unet.py")
    seen = []
    probe = HookBase()
    probe.after_step = lambda t: seen.append((t.iter, (t.work_dir / "report.html").is_file()))
    trainer.hooks.append(probe)  # after the report hook
    trainer.train()
    assert seen == [(1, False), (2, True), (3, True), (4, True)]
    run = json.loads((tmp_path / "run/report/run.json").read_text())
    assert run["command"] == "seglab train small_unet.py" and run["last_iter"] == 4 and run["finished"]
    assert run["config_dump"] == "small_unet.py" and (tmp_path / "run/small_unet.py").is_file()
    assert json.loads((tmp_path / "run/report/picks.json").read_text())[0]["iter"] == 4


def test_a_report_that_cannot_be_written_does_not_stop_training(small_config, tmp_path, monkeypatch, caplog):
    import seglab.report.page

    def broken(work_dir):
        raise OSError("disk full")

    monkeypatch.setattr(seglab.report.page, "render_report", broken)
    cfg = Config.fromfile(str(small_config(max_iters=2, eval_interval=0, ckpt_interval=0)))
    trainer = Trainer(cfg, tmp_path / "run", progress=False)
    trainer.logger.addHandler(caplog.handler)  # the trainer's logger does not propagate
    try:
        trainer.train()
    finally:
        trainer.logger.removeHandler(caplog.handler)
    assert trainer.iter == 2
    assert "run report: could not write the page: OSError: disk full" in caplog.text
