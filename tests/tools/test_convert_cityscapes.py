"""tools/convert_cityscapes.py on a tiny fake gtFine/leftImg8bit tree."""
from __future__ import annotations

import importlib.util
from pathlib import Path

import cv2
import numpy as np
import pytest

TOOL = Path(__file__).resolve().parents[2] / "tools" / "convert_cityscapes.py"


@pytest.fixture(scope="module")
def tool():
    spec = importlib.util.spec_from_file_location("convert_cityscapes_tool", TOOL)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _fake_cityscapes(root: Path) -> np.ndarray:
    label_ids = np.array([[0, 7, 8, 11], [24, 26, 33, 34], [9, 29, 255, 23]], dtype=np.uint8)
    for split, city, name in (("train", "aachen", "aachen_000000_000019"), ("val", "lindau", "lindau_000001_000019")):
        (root / "gtFine" / split / city).mkdir(parents=True)
        (root / "leftImg8bit" / split / city).mkdir(parents=True)
        cv2.imwrite(str(root / "gtFine" / split / city / f"{name}_gtFine_labelIds.png"), label_ids)
        cv2.imwrite(str(root / "leftImg8bit" / split / city / f"{name}_leftImg8bit.png"),
                    np.zeros((3, 4, 3), np.uint8))
    return label_ids


def test_train_ids_and_split_lists(tool, tmp_path):
    _fake_cityscapes(tmp_path)
    assert tool.main([str(tmp_path), "--nproc", "2"]) == 0
    out = cv2.imread(str(tmp_path / "gtFine/train/aachen/aachen_000000_000019_gtFine_labelTrainIds.png"),
                     cv2.IMREAD_UNCHANGED)
    # unlabeled->255, road 0, sidewalk 1, building 2 / person 11, car 13, bicycle 18, 34->255 /
    # parking (void) 255, caravan (not evaluated) 255, 255 stays 255, sky 10
    np.testing.assert_array_equal(out, [[255, 0, 1, 2], [11, 13, 18, 255], [255, 255, 255, 10]])
    assert (tmp_path / "gtFine/val/lindau/lindau_000001_000019_gtFine_labelTrainIds.png").is_file()
    assert (tmp_path / "train.txt").read_text() == "aachen/aachen_000000_000019\n"
    assert (tmp_path / "val.txt").read_text() == "lindau/lindau_000001_000019\n"
    assert not (tmp_path / "test.txt").exists()


def test_the_table_has_19_classes_in_order(tool):
    lut = tool.lookup_table()
    assert sorted(tool.LABEL_TO_TRAIN_ID.values()) == list(range(19))
    assert (lut != 255).sum() == 19


def test_converted_tree_loads_as_cityscapes_dataset(tool, tmp_path):
    from seglab.data import build_dataset

    _fake_cityscapes(tmp_path)
    tool.main([str(tmp_path)])
    ds = build_dataset(dict(type="CityscapesDataset", data_root=str(tmp_path), img_dir="leftImg8bit/train",
                            ann_dir="gtFine/train", split="train.txt", pipeline=[]))
    assert ds.get_gt_seg_map_by_idx(0)[0, 1] == 0  # road


def test_errors_and_help(tool, tmp_path, capsys):
    assert tool.main([str(tmp_path)]) == 1
    assert "no *_gtFine_labelIds.png files" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_info:
        tool.main(["--help"])
    assert exit_info.value.code == 0 and "labelTrainIds" in capsys.readouterr().out
