"""LoadImageFromFile and LoadAnnotations: decoding, 0.x results keys, label maps and data errors."""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from seglab.data.transforms import LoadAnnotations, LoadImageFromFile
from seglab.errors import ConfigError, DataError


def _write_img(path: Path, h: int = 4, w: int = 5) -> np.ndarray:
    img = np.random.default_rng(0).integers(0, 256, (h, w, 3), dtype=np.uint8)
    cv2.imwrite(str(path), img)
    return img


def test_load_image_gives_bgr_and_0x_keys(tmp_path):
    img = _write_img(tmp_path / "x.png")
    r = LoadImageFromFile()({"img_info": {"filename": "x.png"}, "img_prefix": str(tmp_path)})
    np.testing.assert_array_equal(r["img"], img)  # same channel order OpenCV wrote
    assert r["filename"] == str(tmp_path / "x.png") and r["ori_filename"] == "x.png"
    assert r["img_shape"] == r["ori_shape"] == r["pad_shape"] == (4, 5, 3)
    assert r["scale_factor"] == 1.0
    np.testing.assert_array_equal(r["img_norm_cfg"]["mean"], [0, 0, 0])
    assert r["img_norm_cfg"]["to_rgb"] is False
    r = LoadImageFromFile(to_float32=True, imdecode_backend="pillow")(
        {"img_info": {"filename": str(tmp_path / "x.png")}, "img_prefix": None})
    assert r["img"].dtype == np.float32
    np.testing.assert_array_equal(r["img"], img)  # Pillow path also gives BGR
    gray = LoadImageFromFile(color_type="grayscale")({"img_info": {"filename": str(tmp_path / "x.png")}})
    assert gray["img"].shape == (4, 5)


def test_load_image_errors_name_the_file(tmp_path):
    with pytest.raises(DataError, match="missing.png"):
        LoadImageFromFile()({"img_info": {"filename": "missing.png"}, "img_prefix": str(tmp_path)})
    (tmp_path / "broken.png").write_bytes(b"not an image")
    for backend in ("cv2", "pillow"):
        with pytest.raises(DataError, match="broken.png"):
            LoadImageFromFile(imdecode_backend=backend)({"img_info": {"filename": str(tmp_path / "broken.png")}})
    with pytest.raises(ConfigError, match="imdecode_backend"):
        LoadImageFromFile(imdecode_backend="turbojpeg")
    with pytest.raises(ConfigError, match="local files only"):
        LoadImageFromFile(file_client_args=dict(backend="petrel"))
    LoadImageFromFile(file_client_args=dict(backend="disk"))  # 0.x configs may say this


def _ann(tmp_path: Path, label: np.ndarray, name: str = "x_seg.png", **extra) -> dict:
    cv2.imwrite(str(tmp_path / name), label)
    return {"ann_info": {"seg_map": name}, "seg_prefix": str(tmp_path), "seg_fields": [], **extra}


def test_load_annotations_reads_labels_unchanged(tmp_path):
    label = np.array([[0, 1], [2, 255]], dtype=np.uint8)
    r = LoadAnnotations()(_ann(tmp_path, label))
    np.testing.assert_array_equal(r["gt_semantic_seg"], label)
    assert r["gt_semantic_seg"].dtype == np.uint8 and r["seg_fields"] == ["gt_semantic_seg"]
    r = LoadAnnotations(imdecode_backend="cv2")(_ann(tmp_path, label))
    np.testing.assert_array_equal(r["gt_semantic_seg"], label)
    # a 16-bit PNG with small ids is accepted
    r = LoadAnnotations()(_ann(tmp_path, label.astype(np.uint16), "wide.png"))
    np.testing.assert_array_equal(r["gt_semantic_seg"], label)


def test_palette_png_gives_indices_not_colours(tmp_path):
    pil = Image.fromarray(np.array([[0, 1], [2, 1]], dtype=np.uint8), mode="P")
    pil.putpalette([0, 0, 0, 255, 0, 0, 0, 255, 0] + [0] * 759)
    pil.save(tmp_path / "pal.png")
    r = LoadAnnotations()({"ann_info": {"seg_map": str(tmp_path / "pal.png")}, "seg_fields": []})
    np.testing.assert_array_equal(r["gt_semantic_seg"], [[0, 1], [2, 1]])


def test_reduce_zero_label_then_label_map(tmp_path):
    label = np.array([[0, 1, 2, 255]], dtype=np.uint8)
    r = LoadAnnotations(reduce_zero_label=True)(_ann(tmp_path, label))
    np.testing.assert_array_equal(r["gt_semantic_seg"], [[255, 0, 1, 255]])
    # label_map keys are ids after the reduction: 0 -> 255 (dropped class), 1 -> 0
    r = LoadAnnotations(reduce_zero_label=True)(_ann(tmp_path, label, label_map={0: 255, 1: 0}))
    np.testing.assert_array_equal(r["gt_semantic_seg"], [[255, 255, 0, 255]])


def test_label_value_map_comes_first(tmp_path):
    label = np.array([[0, 255, 1, 2]], dtype=np.uint8)
    r = LoadAnnotations()(_ann(tmp_path, label, label_value_map={255: 1}, num_classes=3, ignore_index=255))
    np.testing.assert_array_equal(r["gt_semantic_seg"], [[0, 1, 1, 2]])
    # saved values are mapped before reduce_zero_label and the classes map see them
    r = LoadAnnotations(reduce_zero_label=True)(_ann(tmp_path, label, label_value_map={255: 3, 0: 255},
                                                     label_map={2: 0}))
    np.testing.assert_array_equal(r["gt_semantic_seg"], [[255, 0, 0, 1]])


def test_label_errors_name_the_file(tmp_path):
    with pytest.raises(DataError, match="nothere_seg.png"):
        LoadAnnotations()({"ann_info": {"seg_map": "nothere_seg.png"}, "seg_prefix": str(tmp_path), "seg_fields": []})
    (tmp_path / "bad_seg.png").write_bytes(b"\x89PNG garbage")
    for backend in ("pillow", "cv2"):
        with pytest.raises(DataError, match="bad_seg.png"):
            LoadAnnotations(imdecode_backend=backend)(
                {"ann_info": {"seg_map": "bad_seg.png"}, "seg_prefix": str(tmp_path), "seg_fields": []})
    label = np.zeros((3, 4), dtype=np.uint8)
    with pytest.raises(DataError, match=r"x_seg.png is 4x3 .*img.png is 5x4"):
        LoadAnnotations()(_ann(tmp_path, label, img=np.zeros((4, 5, 3), np.uint8), filename="img.png"))
    label[0, 0], label[0, 1] = 7, 255
    with pytest.raises(DataError, match=r"ids_seg.png holds class id\(s\) 7 outside 0..1"):
        LoadAnnotations()(_ann(tmp_path, label, "ids_seg.png", num_classes=2, ignore_index=255))
    colour = np.zeros((2, 2, 3), np.uint8)
    colour[0, 0] = (0, 0, 255)
    with pytest.raises(DataError, match="rgb_seg.png is a 3-channel colour image"):
        LoadAnnotations()(_ann(tmp_path, colour, "rgb_seg.png"))
    with pytest.raises(DataError, match="big_seg.png holds values outside 0..255"):
        LoadAnnotations()(_ann(tmp_path, np.full((2, 2), 300, np.uint16), "big_seg.png"))


def test_ignore_index_and_in_range_ids_pass_the_check(tmp_path):
    label = np.array([[0, 1], [255, 1]], dtype=np.uint8)
    r = LoadAnnotations()(_ann(tmp_path, label, num_classes=2, ignore_index=255))
    np.testing.assert_array_equal(r["gt_semantic_seg"], label)
