"""tools/convert_masks.py: colour, palette-PNG and 0/255 masks become class-id PNGs that
check-data accepts; the originals stay untouched."""
from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from seglab.cli import main as seglab

TOOL = Path(__file__).resolve().parents[2] / "tools" / "convert_masks.py"
PALETTE = [[0, 0, 0], [128, 64, 128], [0, 0, 142]]
IDS = np.array([[0, 1, 2, 1], [2, 2, 0, 1], [1, 0, 0, 2]], dtype=np.uint8)


@pytest.fixture(scope="module")
def tool():
    spec = importlib.util.spec_from_file_location("convert_masks_tool", TOOL)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def write_rgb(path: Path, ids: np.ndarray, palette=PALETTE) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    assert cv2.imwrite(str(path), np.asarray(palette, np.uint8)[ids][..., ::-1])


def read(path: Path) -> np.ndarray:
    return cv2.imread(str(path), cv2.IMREAD_UNCHANGED)


def test_colour_masks_with_an_inline_palette(tool, tmp_path, capsys):
    write_rgb(tmp_path / "src" / "sub" / "a.png", IDS)
    odd = np.asarray(PALETTE, np.uint8)[IDS]
    odd[0, 0] = (1, 2, 3)  # an anti-aliased edge, say
    Image.fromarray(odd).save(tmp_path / "src" / "b.png")
    before = (tmp_path / "src" / "b.png").read_bytes()
    assert tool.main([str(tmp_path / "src"), str(tmp_path / "out"), "--palette", json.dumps(PALETTE)]) == 0
    np.testing.assert_array_equal(read(tmp_path / "out" / "sub" / "a.png"), IDS)
    expected = IDS.copy()
    expected[0, 0] = 255
    np.testing.assert_array_equal(read(tmp_path / "out" / "b.png"), expected)
    err = capsys.readouterr().err
    assert "1 pixels of 1 colours not in the palette became 255" in err and "(1, 2, 3)" in err
    assert (tmp_path / "src" / "b.png").read_bytes() == before


def test_palette_json_forms_and_palette_pngs(tool, tmp_path):
    assert tool.parse_palette(json.dumps({"bg": [0, 0, 0], "road": [1, 2, 3]})) == [(0, 0, 0), (1, 2, 3)]
    (tmp_path / "p.json").write_text(json.dumps({"classes": ["bg", "x"], "palette": [[0, 0, 0], [9, 9, 9]]}))
    assert tool.parse_palette(str(tmp_path / "p.json")) == [(0, 0, 0), (9, 9, 9)]
    for bad in ("[[0, 0]]", "[[0, 0, 0], [0, 0, 0]]", "nonsense"):
        with pytest.raises(tool.ConversionError):
            tool.parse_palette(bad)
    # a palette PNG whose indices are not the class ids: its colours decide
    pil = Image.fromarray((2 - IDS).astype(np.uint8), mode="P")
    pil.putpalette([v for c in reversed(PALETTE) for v in c])
    (tmp_path / "src").mkdir()
    pil.save(tmp_path / "src" / "p.png")
    assert tool.main([str(tmp_path / "src"), str(tmp_path / "out"), "--palette", json.dumps(PALETTE)]) == 0
    np.testing.assert_array_equal(read(tmp_path / "out" / "p.png"), IDS)


def test_binary_masks_to_0_1(tool, tmp_path):
    (tmp_path / "src").mkdir()
    assert cv2.imwrite(str(tmp_path / "src" / "m_mask.png"), (IDS > 0).astype(np.uint8) * 255)
    assert tool.main([str(tmp_path / "src"), str(tmp_path / "out"), "--binary", "--suffix", "_mask.png"]) == 0
    np.testing.assert_array_equal(read(tmp_path / "out" / "m_mask.png"), (IDS > 0).astype(np.uint8))


def test_palette_of_a_config_fixes_what_check_data_found(tool, tmp_path, capsys):
    for name in ("a", "b"):
        write_rgb(tmp_path / "ann" / f"{name}.png", IDS)
        (tmp_path / "img").mkdir(exist_ok=True)
        assert cv2.imwrite(str(tmp_path / "img" / f"{name}.png"), np.zeros((3, 4, 3), np.uint8))
    config = tmp_path / "cfg.py"
    config.write_text(f"""
data = dict(train=dict(type='CustomDataset', data_root={str(tmp_path)!r}, img_dir='img', ann_dir='ann',
                       img_suffix='.png', seg_map_suffix='.png', classes=('bg', 'road', 'car'), palette={PALETTE!r},
                       pipeline=[dict(type='LoadImageFromFile'), dict(type='LoadAnnotations')]))
""")
    assert seglab(["check-data", str(config)]) == 1
    assert f"--config {config}" in capsys.readouterr().out
    assert tool.main([str(tmp_path / "ann"), str(tmp_path / "ann_ids"), "--config", str(config)]) == 0
    np.testing.assert_array_equal(read(tmp_path / "ann_ids" / "a.png"), IDS)
    assert seglab(["check-data", str(config), "--cfg-options", "data.train.ann_dir=ann_ids"]) == 0


def test_dataset_palette_and_refusals(tool, tmp_path, capsys):
    cityscapes = tool.palette_of_dataset("CityscapesDataset")
    assert len(cityscapes) == 19 and cityscapes[0] == (128, 64, 128)
    write_rgb(tmp_path / "src" / "a.png", IDS)
    assert tool.main([str(tmp_path / "src"), str(tmp_path / "src" / "out"), "--binary"]) == 1
    assert "inside it" in capsys.readouterr().err
    assert tool.main([str(tmp_path / "src"), str(tmp_path / "out"), "--dataset", "CustomDataset"]) == 1
    assert "no fixed palette" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()
