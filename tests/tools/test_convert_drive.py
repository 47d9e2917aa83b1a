"""tools/convert_drive.py on a tiny fake DRIVE archive (tif images, gif labels), as a folder and as zips."""
from __future__ import annotations

import importlib.util
import zipfile
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from seglab.data import build_dataset

TOOL = Path(__file__).resolve().parents[2] / "tools" / "convert_drive.py"


@pytest.fixture(scope="module")
def tool():
    spec = importlib.util.spec_from_file_location("convert_drive_tool", TOOL)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _fake_drive(root: Path) -> dict[str, np.ndarray]:
    """Two training and one test image, 6x5, with gif labels (0/255) and masks."""
    rng = np.random.default_rng(0)
    written = {}
    for split, ids in (("training", ["21", "22"]), ("test", ["01"])):
        for sub in ("images", "1st_manual", "mask"):
            (root / split / sub).mkdir(parents=True, exist_ok=True)
        for nn in ids:
            img = rng.integers(0, 256, (6, 5, 3), dtype=np.uint8)
            assert cv2.imwrite(str(root / split / "images" / f"{nn}_{split}.tif"), img)
            vessels = rng.integers(0, 2, (6, 5)).astype(np.uint8) * 255
            Image.fromarray(vessels, mode="L").save(root / split / "1st_manual" / f"{nn}_manual1.gif")
            mask = Image.fromarray(np.full((6, 5), 255, np.uint8), mode="L")
            mask.save(root / split / "mask" / f"{nn}_{split}_mask.gif")
            written[nn] = (img, vessels)
    return written


def _check_output(out: Path, written: dict) -> None:
    for split, nn in (("training", "21"), ("training", "22"), ("validation", "01")):
        img = cv2.imread(str(out / "images" / split / f"{nn}.png"), cv2.IMREAD_UNCHANGED)
        np.testing.assert_array_equal(img, written[nn][0])  # lossless, same channel order
        label = cv2.imread(str(out / "annotations" / split / f"{nn}_manual1.png"), cv2.IMREAD_UNCHANGED)
        np.testing.assert_array_equal(label, written[nn][1] // 255)
        mask = cv2.imread(str(out / "masks" / split / f"{nn}_mask.png"), cv2.IMREAD_UNCHANGED)
        assert (mask == 1).all()


def test_convert_extracted_folder(tool, tmp_path):
    written = _fake_drive(tmp_path / "DRIVE")
    assert tool.main([str(tmp_path / "DRIVE"), "-o", str(tmp_path / "out")]) == 0
    _check_output(tmp_path / "out", written)
    ds = build_dataset(dict(type="DRIVEDataset", data_root=str(tmp_path / "out"), img_dir="images/training",
                            ann_dir="annotations/training", pipeline=[]))
    assert [i["filename"] for i in ds.img_infos] == ["21.png", "22.png"]
    assert set(np.unique(ds.get_gt_seg_map_by_idx(0))) <= {0, 1}


def test_convert_zip_archives(tool, tmp_path):
    written = _fake_drive(tmp_path / "src")
    zips = []
    for split in ("training", "test"):
        path = tmp_path / f"{split}.zip"
        with zipfile.ZipFile(path, "w") as archive:
            for f in (tmp_path / "src" / split).rglob("*"):
                archive.write(f, f.relative_to(tmp_path / "src"))
        zips.append(str(path))
    assert tool.main([*zips, "--out-dir", str(tmp_path / "out")]) == 0
    _check_output(tmp_path / "out", written)


def test_errors_and_help(tool, tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    assert tool.main([str(tmp_path / "empty"), "-o", str(tmp_path / "out")]) == 1
    assert "no DRIVE 'training/images'" in capsys.readouterr().err
    (tmp_path / "notes.txt").write_text("x")
    assert tool.main([str(tmp_path / "notes.txt")]) == 1
    assert "neither a folder nor a zip" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_info:
        tool.main(["--help"])
    assert exit_info.value.code == 0 and "DRIVE" in capsys.readouterr().out
