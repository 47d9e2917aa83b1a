"""tools/convert_ade20k.py on a tiny fake ADEChallengeData2016 archive (jpg images, png labels 0..150),
as a zip and as a folder; the result is what the ADE20K configs read."""
from __future__ import annotations

import importlib.util
import zipfile
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from seglab.config import Config
from seglab.data import build_dataset

TOOL = Path(__file__).resolve().parents[2] / "tools" / "convert_ade20k.py"
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def tool():
    spec = importlib.util.spec_from_file_location("convert_ade20k_tool", TOOL)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def fake_ade(root: Path, with_extra_label: bool = False) -> dict[str, np.ndarray]:
    """ADEChallengeData2016 with two training and one validation image, 6x5, and its text files."""
    rng = np.random.default_rng(0)
    base = root / "ADEChallengeData2016"
    labels = {}
    for split, prefix, n in (("training", "ADE_train", 2), ("validation", "ADE_val", 1)):
        (base / "images" / split).mkdir(parents=True)
        (base / "annotations" / split).mkdir(parents=True)
        for i in range(1, n + 1):
            name = f"{prefix}_{i:08d}"
            assert cv2.imwrite(str(base / "images" / split / f"{name}.jpg"), rng.integers(0, 256, (6, 5, 3), np.uint8))
            label = rng.integers(0, 151, (6, 5)).astype(np.uint8)
            Image.fromarray(label).save(base / "annotations" / split / f"{name}.png")
            labels[name] = label
    if with_extra_label:
        Image.fromarray(np.zeros((6, 5), np.uint8)).save(base / "annotations" / "training" / "ADE_train_00000009.png")
    (base / "objectInfo150.txt").write_text("Idx\tRatio\tTrain\tVal\tName\n")
    (base / "sceneCategories.txt").write_text("ADE_train_00000001 airport_terminal\n")
    return labels


def zip_folder(folder: Path, path: Path) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        for f in sorted(folder.rglob("*")):
            archive.write(f, f.relative_to(folder))
    return path


def test_zip_lands_where_the_ade20k_config_reads_it(tool, tmp_path):
    labels = fake_ade(tmp_path / "src")
    archive = zip_folder(tmp_path / "src", tmp_path / "ADEChallengeData2016.zip")
    assert tool.main([str(archive), "-o", str(tmp_path / "ade"), "--check-labels"]) == 0
    cfg = Config.fromfile(REPO / "configs/_base_/datasets/ade20k.py")
    data_root = tmp_path / "ade" / "ADEChallengeData2016"
    assert Path(cfg.data_root).name == data_root.name
    train = build_dataset({**cfg.data.train, "data_root": str(data_root), "pipeline": []})
    assert [i["filename"] for i in train.img_infos] == ["ADE_train_00000001.jpg", "ADE_train_00000002.jpg"]
    label = np.asarray(Image.open(data_root / "annotations/training/ADE_train_00000002.png"))
    np.testing.assert_array_equal(label, labels["ADE_train_00000002"])  # copied unchanged
    val = build_dataset({**cfg.data.val, "data_root": str(data_root), "pipeline": []})
    assert len(val) == 1 and val.reduce_zero_label
    assert not (data_root / "objectInfo150.txt").exists()


def test_extracted_folder_works_too(tool, tmp_path):
    fake_ade(tmp_path / "src")
    assert tool.main([str(tmp_path / "src"), "-o", str(tmp_path / "ade")]) == 0
    assert len(list((tmp_path / "ade/ADEChallengeData2016/images/training").iterdir())) == 2


def test_errors(tool, tmp_path, capsys):
    fake_ade(tmp_path / "src", with_extra_label=True)
    assert tool.main([str(tmp_path / "src"), "-o", str(tmp_path / "out")]) == 1
    assert "1 training label(s) have no image, e.g. ADE_train_00000009.png" in capsys.readouterr().err
    (tmp_path / "empty").mkdir()
    assert tool.main([str(tmp_path / "empty"), "-o", str(tmp_path / "out2")]) == 1
    assert "no images/{training,validation}/*.jpg" in capsys.readouterr().err
    bad = tmp_path / "bad" / "ADEChallengeData2016" / "annotations" / "training"
    fake_ade(tmp_path / "bad")
    Image.fromarray(np.full((6, 5), 200, np.uint8)).save(bad / "ADE_train_00000001.png")
    assert tool.main([str(tmp_path / "bad"), "-o", str(tmp_path / "out3"), "--check-labels"]) == 1
    assert "holds the value 200" in capsys.readouterr().err
