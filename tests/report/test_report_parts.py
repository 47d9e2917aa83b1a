"""The report's parts without a real run: a MMSegmentation 0.x work dir, the config comparison,
the confusion matrix and per-image scores, and the logger hooks' 0.x keys."""
from __future__ import annotations

import json
import shutil
import sys

import numpy as np
import pytest
import torch

from seglab.cli import main
from seglab.config import Config
from seglab.errors import ConfigError


def test_report_of_a_mmsegmentation_work_dir(tmp_path, fixtures_dir, configs_dir, capsys):
    """Only the 0.x JSON log and the dumped config: what is missing is left out with a note."""
    shutil.copy(fixtures_dir / "mmseg-0.30-drive.log.json", tmp_path / "20230101_120000.log.json")
    Config.fromfile(configs_dir / "unet/fcn_unet_s5-d16_64x64_40k_drive.py").dump(
        tmp_path / "fcn_unet_s5-d16_64x64_40k_drive.py")
    assert main(["report", str(tmp_path)]) == 0
    page = (tmp_path / "report.html").read_text()
    for section in ("summary", "losses", "lr", "ohem", "class-weights", "metrics", "confusion", "predictions",
                    "config"):
        assert f'<section id="{section}">' in page
    assert "0.30.0+9d2b4a0" in page and "4000" in page  # mmseg_version, iterations
    assert page.count("data:image/png;base64,") == 3  # losses, lr, metrics
    for missing in ("OHEM is not used in this run", "The classes are not known", "No confusion matrix",
                    "No prediction overlays", "differences from its _base_ chain are not marked"):
        assert missing in page
    assert "IoU.vessel" not in page.split('<section id="metrics">')[0]  # per-class values are in their section
    assert "57.29" in page  # IoU.vessel at the last evaluation, in %


def test_report_needs_a_log(tmp_path, capsys):
    assert main(["report", str(tmp_path)]) == 1
    assert "no JSON log in" in capsys.readouterr().err
    assert main(["report", str(tmp_path / "gone")]) == 1
    assert "does not exist" in capsys.readouterr().err


def test_config_rows_are_marked_by_who_set_them():
    from seglab.report.config_diff import MISSING, compare

    base = {"model": {"head": {"channels": 64, "loss": [{"type": "CE"}]}}, "lr": 0.01}
    own = {"model": {"head": {"channels": 32, "loss": [{"type": "CE"}]}}, "lr": 0.01}
    resolved = {"model": {"head": {"channels": 32, "loss": [{"type": "CE"}], "sampler": {"thresh": 0.7}}},
                "lr": 0.02, "crop": (64, 64)}
    rows = {r.key: (r.base, r.set_by) for r in compare(resolved, base, own)}
    assert rows == {"model.head.channels": (64, "config file"), "model.head.loss.0.type": ("CE", ""),
                    "model.head.sampler.thresh": (MISSING, "override"), "lr": (0.01, "override"),
                    "crop": (MISSING, "override")}
    assert all(r.set_by == "" for r in compare(resolved, None, None))  # no base chain: nothing marked


def test_base_values_are_the_bases_alone(tmp_path):
    from seglab.config.loader import load_base_values

    (tmp_path / "base.py").write_text("a = 1\nb = dict(c=2)\n")
    (tmp_path / "child.py").write_text("_base_ = './base.py'\nb = dict(c=3)\nd = 4\n")
    assert load_base_values(tmp_path / "child.py") == {"a": 1, "b": {"c": 2}}
    assert load_base_values(tmp_path / "base.py") == {}


def test_confusion_matrix_agrees_with_the_metric_areas():
    from seglab.evaluation import intersect_and_union
    from seglab.evaluation.details import confusion_matrix

    rng = np.random.default_rng(0)
    pred, label = rng.integers(0, 3, (40, 30)), rng.integers(0, 3, (40, 30))
    label[0] = 255
    matrix = confusion_matrix(pred, label, 3)
    inter, _, pred_area, label_area = intersect_and_union(pred, label, 3, 255)
    assert matrix.diag().tolist() == inter.tolist()
    assert matrix.sum(0).tolist() == pred_area.tolist() and matrix.sum(1).tolist() == label_area.tolist()
    assert torch.equal(confusion_matrix(torch.from_numpy(pred), torch.from_numpy(label), 3), matrix)


def test_per_image_scores_and_picks():
    from seglab.evaluation.details import image_scores
    from seglab.report.data import pick_images

    # areas (intersect, union, pred, label) per class: image 0 perfect, image 1 half right, image 2 empty
    areas = np.array([[[4, 4], [4, 4], [4, 4], [4, 4]],
                      [[2, 0], [6, 4], [4, 2], [4, 2]],
                      [[0, 0], [0, 0], [0, 0], [0, 0]]], dtype=np.float64)
    dice = image_scores(areas, "Dice")
    assert dice[0] == 1.0 and dice[1] == pytest.approx((0.5 + 0.0) / 2) and np.isnan(dice[2])
    assert image_scores(areas, "IoU")[1] == pytest.approx((2 / 6) / 2)
    assert pick_images(np.array([0.2, 0.9, np.nan, 0.5, 0.1])) == [("best", 1), ("median", 3), ("worst", 4)]
    assert pick_images(np.array([0.3])) == [("best", 0)]
    assert pick_images(np.array([np.nan])) == []


# --------------------------------------------------------------------------- logger hooks
def test_logger_keys_of_mmcv_are_accepted_or_explained(seglab_log):
    from seglab.engine.hooks import TextLoggerHook

    TextLoggerHook(interval=50, ignore_last=True, reset_flag=False, by_epoch=False)
    assert seglab_log.text == ""
    TextLoggerHook(ignore_last=False, reset_flag=True)
    assert "TextLoggerHook(ignore_last=False) has no effect in seglab" in seglab_log.text
    assert "TextLoggerHook(reset_flag=True) has no effect in seglab" in seglab_log.text
    with pytest.raises(ConfigError, match="by_epoch=True"):
        TextLoggerHook(by_epoch=True)


def test_a_loggers_interval_must_be_log_config_interval():
    from seglab.engine.run_config import parse_run_config

    hooks = [{"type": "TextLoggerHook", "interval": 10}]
    parse_run_config({"runner": {"max_iters": 10}, "log_config": {"interval": 10, "hooks": hooks}})
    with pytest.raises(ConfigError, match=r"log_config.hooks.0.interval=50 differs from log_config.interval=10"):
        parse_run_config({"runner": {"max_iters": 10},
                          "log_config": {"interval": 10, "hooks": [{"type": "TensorboardLoggerHook", "interval": 50}]}})
    with pytest.raises(ConfigError, match="does not take the key 'log_dri'. Did you mean 'log_dir'"):
        parse_run_config({"runner": {"max_iters": 10},
                          "log_config": {"hooks": [{"type": "TensorboardLoggerHook", "log_dri": "x"}]}})


def test_missing_logger_package_names_the_install(monkeypatch):
    from seglab.engine.loggers import TensorboardLoggerHook, WandbLoggerHook

    monkeypatch.setitem(sys.modules, "tensorboard", None)  # import fails as if not installed
    monkeypatch.setitem(sys.modules, "wandb", None)
    with pytest.raises(ConfigError, match=r"pip install 'seglab\[tensorboard\]' \(or pip install tensorboard\)"):
        TensorboardLoggerHook()
    with pytest.raises(ConfigError, match=r"pip install 'seglab\[wandb\]'"):
        WandbLoggerHook()


def test_scalar_tags_follow_mmcv():
    from seglab.engine.loggers import scalar_tags

    train = {"mode": "train", "epoch": 1, "iter": 50, "lr": 0.01, "lr_default": 0.01, "lr_head": 0.1,
             "memory": 100, "data_time": 0.1, "time": 0.3, "decode.loss_ce": 0.5, "decode.ohem_kept": 0.4, "loss": 0.7}
    assert scalar_tags(train) == {"learning_rate": 0.01, "train/lr_default": 0.01, "train/lr_head": 0.1,
                                  "train/memory": 100.0, "train/decode.loss_ce": 0.5, "train/decode.ohem_kept": 0.4,
                                  "train/loss": 0.7}
    val = {"mode": "val", "epoch": 1, "iter": 50, "lr": 0.01, "lr_head": 0.1, "mIoU": 0.5, "IoU.vessel": 0.2}
    assert scalar_tags(val) == {"val/mIoU": 0.5, "val/IoU.vessel": 0.2}


def test_a_resumed_run_continues_its_earlier_log(tmp_path):
    from seglab.report.data import load_work_dir, write_json

    def log(name, iters):
        lines = [json.dumps({"env_info": "x"})] + [json.dumps({"mode": "train", "iter": i, "loss": 1.0 / i})
                                                   for i in iters]
        (tmp_path / name).write_text("\n".join(lines) + "\n")

    log("20240101_000000.log.json", [10, 20, 30, 40])  # killed after 40; the checkpoint was at 20
    log("20240101_010000.log.json", [30, 40, 50])
    log("20240102_000000.log.json", [10])  # an unrelated later run in the same work dir
    write_json(tmp_path / "report/run.json", {"logs": ["20240101_000000.log.json", "20240101_010000.log.json"]})
    assert [r["iter"] for r in load_work_dir(tmp_path).records] == [10, 20, 30, 40, 50]
