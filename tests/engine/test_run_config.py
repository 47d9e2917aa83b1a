"""The run settings schema: every runtime section is checked once, before anything is built."""
from __future__ import annotations

import ast
import logging
from pathlib import Path

import pytest

from seglab.cli import main
from seglab.config import Config
from seglab.engine import Trainer
from seglab.engine.run_config import SECTIONS, parse_run_config
from seglab.errors import ConfigError

MISSPELLED = [
    ("evaluation.intervall=5", "evaluation: EvaluationConfig does not take the key 'intervall'. Did you mean 'interval'"),
    ("checkpoint_config.max_keep_ckpt=2",
     "checkpoint_config: CheckpointConfig does not take the key 'max_keep_ckpt'. Did you mean 'max_keep_ckpts'"),
    ("data.samples_per_gpus=2", "data: DataConfig does not take the key 'samples_per_gpus'. Did you mean 'samples_per_gpu'"),
    ("log_config.intervals=5", "log_config: LogConfig does not take the key 'intervals'. Did you mean 'interval'"),
    ("runner.max_iter=5", "runner: Runner does not take the key 'max_iter'. Did you mean 'max_iters'"),
    ("optimizer_config.grad_clp=1", "optimizer_config: OptimizerHookConfig does not take the key 'grad_clp'. "
                                    "Did you mean 'grad_clip'"),
    ("lr_config.powr=1", "lr_config: the 'poly' policy does not take the key 'powr'. Did you mean 'power'"),
    ("optimizer.paramwise_cfg.custom_key=1", "optimizer.paramwise_cfg: unknown key 'custom_key'. Did you mean 'custom_keys'"),
    ("dist_params.backnd=gloo", "dist_params: DistParams does not take the key 'backnd'. Did you mean 'backend'"),
    ("data.train_dataloader.worker_per_gpu=1", "data.train_dataloader: LoaderOptions does not take the key "
                                               "'worker_per_gpu'. Did you mean 'workers_per_gpu'"),
    ("custom_hooks=[{'type':'EMAHok'}]", "custom_hooks.0.type: unknown hook type 'EMAHok'. Did you mean 'EMAHook'"),
    ("custom_hooks=[{'type':'EMAHook','momentom':0.1}]", "custom_hooks.0: EMAHook does not take the key 'momentom'. "
                                                         "Did you mean 'momentum'"),
    ("evaluation.metric=mIOU", "evaluation.metric: 'mIOU' is not supported. Did you mean 'mIoU'"),
    ("evaluation.interval='5'", "evaluation.interval must be an integer, got '5'"),
    ("runner.type=EpochBasedRunner", "runner.type must be one of 'IterBasedRunner', got 'EpochBasedRunner'. "
                                     "seglab trains by iterations"),
]


@pytest.mark.parametrize("option,message", MISSPELLED, ids=[m[0].split("=")[0] for m in MISSPELLED])
def test_a_misspelled_run_setting_fails_before_the_model_is_built(option, message, small_config, tmp_path, capsys):
    # model.type is wrong too: if the model were built first, that would be the error reported
    code = main(["train", str(small_config()), "--work-dir", str(tmp_path / "run"), "--no-progress",
                 "--cfg-options", option, "model.type=NotAModel"])
    err = capsys.readouterr().err
    assert code == 1 and message in err and "NotAModel" not in err, err
    assert len(err.strip().splitlines()) == 1 and not list((tmp_path / "run").glob("*.pth"))


def test_1x_keys_over_a_0x_config_fail_with_one_line_naming_the_keys_of_each(small_config, tmp_path, capsys):
    code = main(["train", str(small_config()), "--work-dir", str(tmp_path / "run"), "--cfg-options",
                 "optim_wrapper.optimizer.lr=0.1", "train_cfg.max_iters=20"])
    err = capsys.readouterr().err.strip()
    assert code == 1 and len(err.splitlines()) == 1
    assert ("the config mixes the MMSegmentation dialects: 1.x keys optim_wrapper, train_cfg and 0.x keys runner, "
            "lr_config, optimizer_config, data, evaluation, checkpoint_config, log_config") in err


def test_parsed_sections_hold_checked_values(small_config):
    run = parse_run_config(Config.fromfile(str(small_config(max_iters=7, ckpt_interval=3))))
    assert run.max_iters == 7 and run.checkpoint_config.interval == 3 and run.evaluation.metric == "mIoU"
    assert run.data.loader("train").samples_per_gpu == 2 and run.data.loader("val").samples_per_gpu == 1
    assert run.workflow == [("train", 1)] and run.log_config.hooks == [{"type": "TextLoggerHook", "by_epoch": False}]
    with pytest.raises(Exception):
        run.seed = 3  # frozen


def test_total_iters_is_0x_older_max_iters():
    assert parse_run_config({"total_iters": 9}).max_iters == 9
    assert parse_run_config({"total_iters": 9, "runner": {"max_iters": 9}}).max_iters == 9
    with pytest.raises(ConfigError, match="total_iters=9 and runner.max_iters=5 disagree"):
        parse_run_config({"total_iters": 9, "runner": {"max_iters": 5}})
    with pytest.raises(ConfigError, match="runner.max_iters is not set"):
        parse_run_config({})
    assert parse_run_config({}, need_max_iters=False).runner.max_iters is None


def test_unknown_top_level_keys_warn_with_the_closest_section(caplog):
    with caplog.at_level(logging.WARNING, logger="seglab"):
        parse_run_config({"runner": {"max_iters": 1}, "evalution": {}, "crop_size": (4, 4)})
    assert "config key 'evalution' is not used by seglab. Did you mean 'evaluation'?" in caplog.text
    assert "crop_size" not in caplog.text  # a 0.x helper variable


def test_max_keep_ckpts_without_interval_keeps_the_newest(small_config, tmp_path):
    cfg = Config.fromfile(str(small_config(max_iters=4, eval_interval=0)))
    cfg.checkpoint_config = dict(max_keep_ckpts=1)
    Trainer(cfg, tmp_path / "a", progress=False).train()
    assert sorted(p.name for p in (tmp_path / "a").glob("*.pth")) == ["iter_4.pth", "latest.pth"]
    cfg.checkpoint_config = dict(interval=1, max_keep_ckpts=2)
    Trainer(cfg, tmp_path / "b", progress=False).train()
    assert sorted(p.name for p in (tmp_path / "b").glob("*.pth")) == ["iter_3.pth", "iter_4.pth", "latest.pth"]


def _reads_of_run_sections(path: Path) -> list[tuple[int, str]]:
    """``cfg.x``, ``cfg['x']`` and ``cfg.get('x')`` reads of run sections in one source file."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        key = None
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "get"
                and isinstance(node.func.value, ast.Name) and node.func.value.id == "cfg" and node.args
                and isinstance(node.args[0], ast.Constant)):
            key = node.args[0].value
        elif (isinstance(node, ast.Subscript) and isinstance(node.ctx, ast.Load) and isinstance(node.value, ast.Name)
              and node.value.id == "cfg" and isinstance(node.slice, ast.Constant)):
            key = node.slice.value
        elif (isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Load) and isinstance(node.value, ast.Name)
              and node.value.id == "cfg"):
            key = node.attr
        if key in SECTIONS:
            found.append((node.lineno, key))
    return found


def test_only_the_run_config_module_reads_run_sections_of_a_config():
    root = Path(__file__).resolve().parents[2]
    # load_config moves data roots (a rewrite of the config, not a run setting); the trainer needs
    # work_dir before the settings are read, to log their warnings into the work dir
    allowed = {("seglab/config/config.py", "data"), ("seglab/engine/trainer.py", "work_dir")}
    reads = [(str(p.relative_to(root)), line, key)
             for p in [*root.joinpath("seglab").rglob("*.py"), *root.joinpath("benchmarks").glob("*.py")]
             if p.name not in ("run_config.py", "dialect.py")  # the reader and its 1.x front end
             for line, key in _reads_of_run_sections(p)]
    assert [r for r in reads if (r[0], r[2]) not in allowed] == []


@pytest.mark.parametrize("interval,start", [(1, None), (2, None), (3, None), (5, 7), (4, 0), (10, 30), (0, None)])
def test_count_due_counts_the_evaluations_due_would_run(interval, start):
    from seglab.engine.run_config import EvaluationConfig

    evaluation = EvaluationConfig(interval=interval, start=start)
    for max_iters in (1, 2, 9, 20, 31):
        for done in range(max_iters + 1):
            expected = sum(evaluation.due(i, max_iters) for i in range(done + 1, max_iters + 1))
            assert evaluation.count_due(done, max_iters) == expected, (done, max_iters)
