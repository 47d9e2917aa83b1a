"""``seglab plot-log`` on JSON logs written here, run in-process."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from seglab.cli import main
from seglab.errors import DataError

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _write_log(path: Path, n_train: int = 4, with_val: bool = True) -> Path:
    lines = [json.dumps({"env_info": "seglab", "config": "model = dict()"})]
    for i in range(1, n_train + 1):
        lines.append(json.dumps({
            "mode": "train", "epoch": 1, "iter": 50 * i, "lr": 0.01 - 1e-4 * i, "lr_group1": 0.1 - 1e-3 * i,
            "decode.loss_ce": 1.0 / i, "decode.acc_seg": 60.0 + i, "aux.loss_ce": 0.4 / i,
            "aux.acc_seg": 55.0 + i, "loss": 1.4 / i, "time": 0.2, "data_time": 0.01, "memory": 1200}))
        if with_val and i % 2 == 0:
            lines.append(json.dumps({"mode": "val", "epoch": 1, "iter": 50 * i, "lr": 0.01, "aAcc": 0.9,
                                     "mIoU": 0.5 + 0.01 * i, "mAcc": 0.6, "mDice": 0.65,
                                     "IoU.background": 0.95, "IoU.vessel": 0.05 + 0.01 * i}))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")
    return path


def _is_png(path: Path) -> bool:
    return path.is_file() and path.read_bytes()[:8] == PNG_SIGNATURE


def test_default_figures_from_newest_log(tmp_path, capsys):
    _write_log(tmp_path / "20240101_000000.log.json", n_train=1, with_val=False)
    newest = _write_log(tmp_path / "20240102_000000.log.json")
    assert main(["plot-log", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert str(newest) in out
    for name in ("loss.png", "lr.png", "metrics.png", "acc.png"):
        path = tmp_path / "plots" / name
        assert _is_png(path), name
        assert str(path) in out


def test_series_selection(tmp_path):
    from seglab.evaluation.curves import _is_lr, _is_summary_metric, collect, read_log

    records = read_log(_write_log(tmp_path / "x.log.json"))
    assert len(records) == 6  # the header line is skipped
    assert set(collect(records, "train", lambda k: "loss" in k)) == {"decode.loss_ce", "aux.loss_ce", "loss"}
    assert set(collect(records, "train", _is_lr)) == {"lr", "lr_group1"}
    metrics = collect(records, "val", _is_summary_metric)
    assert set(metrics) == {"aAcc", "mIoU", "mAcc", "mDice"}
    assert metrics["mIoU"] == ([100, 200], [0.52, 0.54])


def test_out_dir_and_keys(tmp_path, capsys):
    _write_log(tmp_path / "run" / "20240101_000000.log.json")
    out = tmp_path / "figs"
    assert main(["plot-log", str(tmp_path / "run"), "--out", str(out), "--keys", "IoU.vessel", "decode.loss_ce"]) == 0
    assert _is_png(out / "IoU.vessel.png") and _is_png(out / "decode.loss_ce.png")
    assert not (out / "loss.png").exists()
    assert "IoU.vessel.png" in capsys.readouterr().out


def test_explicit_log_and_train_only_log(tmp_path, capsys):
    _write_log(tmp_path / "a.log.json", with_val=False)
    assert main(["plot-log", str(tmp_path), "--log", "a.log.json"]) == 0
    assert _is_png(tmp_path / "plots" / "loss.png")
    assert not (tmp_path / "plots" / "metrics.png").exists()  # no evaluations in this log


def test_unknown_key_suggests(tmp_path, capsys):
    _write_log(tmp_path / "a.log.json")
    assert main(["plot-log", str(tmp_path), "--keys", "mIOU"]) == 1
    err = capsys.readouterr().err
    assert "seglab plot-log: error:" in err and "'mIOU'" in err and "Did you mean 'mIoU'" in err


def test_work_dir_without_logs(tmp_path, capsys):
    (tmp_path / "20240101_000000.log").write_text("a human log, not JSON\n")
    assert main(["plot-log", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert f"no JSON log in {tmp_path}" in err and "<timestamp>.log.json" in err


def test_missing_work_dir_and_missing_log_file(tmp_path, capsys):
    assert main(["plot-log", str(tmp_path / "nope")]) == 1
    assert "work directory" in capsys.readouterr().err
    assert main(["plot-log", str(tmp_path), "--log", "gone.log.json"]) == 1
    assert "--log gone.log.json: no such file" in capsys.readouterr().err


def test_log_without_records_and_cut_lines(tmp_path, capsys):
    path = tmp_path / "a.log.json"
    path.write_text('{"env_info": "x"}\n{"mode": "train", "it\n')
    assert main(["plot-log", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert "skipped 1 line(s)" in err and "holds no log records" in err


def test_debug_shows_the_exception(tmp_path):
    with pytest.raises(DataError, match="no JSON log"):
        main(["plot-log", "--debug", str(tmp_path)])


def test_mmsegmentation_log(tmp_path, fixtures_dir, capsys):
    """A log as MMSegmentation 0.30 writes it: a header line (env_info, config, seed, exp_name,
    mmseg_version), train records with epoch, memory and data_time, and a val record."""
    import shutil

    from seglab.evaluation.curves import _is_summary_metric, collect, read_log

    log = tmp_path / "20230101_120000.log.json"
    shutil.copy(fixtures_dir / "mmseg-0.30-drive.log.json", log)
    records = read_log(log)
    assert len(records) == 13 - 1 and records[-1]["mode"] == "val"
    assert main(["plot-log", str(tmp_path)]) == 0
    assert str(log) in capsys.readouterr().out
    for name in ("loss.png", "lr.png", "metrics.png", "acc.png"):
        assert _is_png(tmp_path / "plots" / name), name
    assert set(collect(records, "train", lambda k: "loss" in k)) == {"decode.loss_ce", "aux.loss_ce", "loss"}
    assert collect(records, "val", _is_summary_metric)["mIoU"] == ([4000], [0.7623])
