"""``seglab class-weights`` on a tiny PNG dataset written here and on the real DRIVE labels."""
from __future__ import annotations

import json
import math
from pathlib import Path

import cv2
import numpy as np
import pytest

from seglab.cli import main

# Two 4x4 label maps, classes (sky, road, car); car never occurs; 255 is ignored.
LABEL_A = np.array([[0, 0, 0, 0], [0, 0, 0, 0], [0, 0, 1, 1], [1, 1, 255, 255]], dtype=np.uint8)  # 10 sky, 4 road
LABEL_B = np.array([[0, 0, 0, 0], [0, 0, 0, 0], [0, 0, 0, 0], [1, 1, 255, 255]], dtype=np.uint8)  # 12 sky, 2 road
SKY, ROAD = 22, 6  # of 28 counted pixels
F_SKY, F_ROAD = SKY / 28, ROAD / 28

CONFIG = """
data_root = {root!r}
dataset = dict(type='CustomDataset', data_root=data_root, img_dir='img', ann_dir='ann', img_suffix='.png',
               seg_map_suffix='.png', classes=('sky', 'road', 'car'),
               pipeline=[dict(type='LoadImageFromFile'), dict(type='LoadAnnotations')])
data = dict(
    samples_per_gpu=1,
    workers_per_gpu=0,
    train=dict(type='RepeatDataset', times=50, dataset=dataset),
    val=dataset,
)
"""

DRIVE_CONFIG = """
data = dict(
    samples_per_gpu=4,
    workers_per_gpu=0,
    train=dict(type='RepeatDataset', times=40000, dataset=dict(
        type='DRIVEDataset', data_root='data/DRIVE', img_dir='images/training', ann_dir='annotations/training',
        pipeline=[dict(type='LoadImageFromFile'), dict(type='LoadAnnotations')])),
)
"""


@pytest.fixture
def tiny_config(tmp_path: Path) -> Path:
    root = tmp_path / "data"
    for name, label in (("a", LABEL_A), ("b", LABEL_B)):
        for sub, array in (("img", np.zeros((4, 4, 3), np.uint8)), ("ann", label)):
            (root / sub).mkdir(parents=True, exist_ok=True)
            assert cv2.imwrite(str(root / sub / f"{name}.png"), array)
    path = tmp_path / "tiny.py"
    path.write_text(CONFIG.format(root=str(root)))
    return path


def _run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(["class-weights", *argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.mark.parametrize("method, expected", [
    ("inverse_log", [1 / math.log(1.02 + F_SKY), 1 / math.log(1.02 + F_ROAD), 0.0]),
    ("median_freq", [0.5 / F_SKY, 0.5 / F_ROAD, 0.0]),  # median of the two present frequencies = 0.5
    ("inverse", [(1 / F_SKY) / ((1 / F_SKY + 1 / F_ROAD) / 2), (1 / F_ROAD) / ((1 / F_SKY + 1 / F_ROAD) / 2), 0.0]),
])
def test_methods_on_tiny_dataset(tiny_config, tmp_path, capsys, method, expected):
    out_file = tmp_path / f"{method}.json"
    code, out, err = _run(capsys, str(tiny_config), "--method", method, "--out", str(out_file))
    assert code == 0, err
    weights = json.loads(out_file.read_text())
    assert weights == pytest.approx(expected)
    assert "warning" in err and "car" in err and "weight 0" in err and "sky" not in err
    lines = {line.split()[0]: line.split() for line in out.splitlines() if line.split()}
    assert lines["sky"][1] == "22" and lines["road"][1] == "6" and lines["car"][1] == "0"
    assert lines["road"][2] == f"{F_ROAD * 100:.4f}%"
    assert float(lines["road"][3]) == pytest.approx(expected[1], abs=1e-4)
    assert f"class_weight='{out_file.resolve()}'" in out


def test_inverse_weights_of_present_classes_average_one(tiny_config, tmp_path, capsys):
    out_file = tmp_path / "w.json"
    assert _run(capsys, str(tiny_config), "--method", "inverse", "--out", str(out_file))[0] == 0
    weights = json.loads(out_file.read_text())
    assert (weights[0] + weights[1]) / 2 == pytest.approx(1.0)


def test_class_weights_function_median_over_present_classes():
    from seglab.cli.class_weights import class_weights

    freqs, weights = class_weights([1, 2, 3, 0, 4], "median_freq")
    assert freqs.tolist() == pytest.approx([0.1, 0.2, 0.3, 0.0, 0.4])
    assert weights.tolist() == pytest.approx([2.5, 1.25, 0.25 / 0.3, 0.0, 0.625])


@pytest.mark.parametrize("suffix", [".npy", ".txt", ".json"])
def test_output_formats_load_in_the_loss(tiny_config, tmp_path, capsys, suffix):
    from seglab.models.losses.utils import load_class_weight

    out_file = tmp_path / "sub" / f"weights{suffix}"
    assert _run(capsys, str(tiny_config), "--out", str(out_file))[0] == 0
    loaded = load_class_weight(str(out_file))
    assert loaded == pytest.approx([1 / math.log(1.02 + F_SKY), 1 / math.log(1.02 + F_ROAD), 0.0])
    if suffix == ".txt":
        assert len(out_file.read_text().splitlines()) == 3
    if suffix == ".npy":
        assert np.load(out_file).dtype == np.float64


def test_default_out_and_split(tiny_config, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert _run(capsys, str(tiny_config), "--split", "val")[0] == 0
    assert len(json.loads((tmp_path / "class_weights.json").read_text())) == 3


def test_errors(tiny_config, tmp_path, capsys):
    code, _, err = _run(capsys, str(tiny_config), "--split", "trian")
    assert code == 1 and "data.trian" in err and "Did you mean 'train'" in err and "train, val" in err
    code, _, err = _run(capsys, str(tiny_config), "--out", str(tmp_path / "w.csv"))
    assert code == 1 and "'.csv'" in err and ".json, .npy, .txt" in err
    with pytest.raises(SystemExit):
        main(["class-weights", str(tiny_config), "--method", "log"])
    assert "invalid choice" in capsys.readouterr().err


def test_cfg_options_override(tiny_config, tmp_path, capsys):
    code, _, err = _run(capsys, str(tiny_config), "--cfg-options",
                        f"data.train.dataset.data_root={tmp_path / 'missing'}")
    assert code == 1 and str(tmp_path / "missing") in err


def test_drive_vessel_frequency(drive_root, tmp_path, capsys):
    config = tmp_path / "drive.py"
    config.write_text(DRIVE_CONFIG)
    out_file = tmp_path / "w.json"
    code, out, err = _run(capsys, str(config), "--out", str(out_file), "--method", "median_freq",
                          "--cfg-options", f"data.train.dataset.data_root={drive_root}")
    assert code == 0, err
    vessel = next(line.split() for line in out.splitlines() if line.startswith("vessel"))
    assert float(vessel[2].rstrip("%")) / 100 == pytest.approx(0.086, abs=0.001)
    weights = json.loads(out_file.read_text())
    # median of two frequencies is their mean, 0.5
    assert weights[1] == pytest.approx(0.5 / 0.0863, rel=0.01)
    assert "warning" not in err


def test_shipped_drive_config(drive_root, configs_dir, tmp_path, capsys):
    config = configs_dir / "_base_" / "datasets" / "drive.py"
    if not config.is_file():
        pytest.skip(f"{config} not present")
    out_file = tmp_path / "w.npy"
    code, out, err = _run(capsys, str(config), "--out", str(out_file),
                          "--cfg-options", f"data.train.dataset.data_root={drive_root}")
    assert code == 0, err
    f_vessel = float(next(line.split() for line in out.splitlines() if line.startswith("vessel"))[2].rstrip("%")) / 100
    assert np.load(out_file)[1] == pytest.approx(1 / math.log(1.02 + f_vessel), rel=1e-4)
