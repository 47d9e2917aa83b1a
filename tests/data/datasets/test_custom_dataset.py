"""CustomDataset on tiny PNG trees: file discovery, splits, classes/palette, pipeline and data errors."""
from __future__ import annotations

import numpy as np
import pytest

from seglab.data import build_dataset
from seglab.data.datasets import PascalVOCDataset
from seglab.errors import ConfigError, DataError


def test_files_found_recursively_and_sorted(tiny_tree, helpers):
    ds = build_dataset(helpers.tiny_cfg(tiny_tree))
    assert len(ds) == 3
    assert ds.img_infos == [
        {"filename": "a.png", "ann": {"seg_map": "a_seg.png"}},
        {"filename": "b.png", "ann": {"seg_map": "b_seg.png"}},
        {"filename": "sub/c.png", "ann": {"seg_map": "sub/c_seg.png"}},
    ]
    assert ds.img_dir == str(tiny_tree / "img_dir") and ds.ann_dir == str(tiny_tree / "ann_dir")
    assert ds.CLASSES == ("bg", "fg") and ds.ignore_index == 255 and ds.reduce_zero_label is False
    assert len(ds.PALETTE) == 2 and all(len(c) == 3 for c in ds.PALETTE)


def test_split_file_selects_and_orders_images(tiny_tree, helpers):
    (tiny_tree / "val.txt").write_text("sub/c\n\nb\n")
    ds = build_dataset(helpers.tiny_cfg(tiny_tree, split="val.txt"))
    assert [i["filename"] for i in ds.img_infos] == ["sub/c.png", "b.png"]


def test_getitem_train_and_test_mode(tiny_tree, helpers):
    pipe = [dict(type="LoadImageFromFile"), dict(type="LoadAnnotations"), dict(type="DefaultFormatBundle"),
            dict(type="Collect", keys=["img", "gt_semantic_seg"], meta_keys=["filename", "ori_filename"])]
    ds = build_dataset(helpers.tiny_cfg(tiny_tree, pipe))
    sample = ds[2]
    assert set(sample) == {"img", "gt_semantic_seg", "img_metas"}
    assert sample["img"].shape == (3, 8, 10) and sample["gt_semantic_seg"].shape == (1, 8, 10)
    assert sample["img_metas"] == {"filename": str(tiny_tree / "img_dir" / "sub/c.png"), "ori_filename": "sub/c.png"}
    test = build_dataset(helpers.tiny_cfg(tiny_tree, helpers.test_pipeline(img_scale=(20, 16))),
                         default_args={"test_mode": True})
    sample = test[0]
    assert set(sample) == {"img", "img_metas"} and len(sample["img"]) == 1
    assert sample["img"][0].shape == (3, 16, 20)  # 10x8 image scaled by 2 (short edge 16)
    assert sample["img_metas"][0]["ori_shape"] == (8, 10, 3)


def test_gt_seg_maps_are_the_label_files(tiny_tree, helpers):
    import cv2

    ds = build_dataset(helpers.tiny_cfg(tiny_tree))
    for i, info in enumerate(ds.img_infos):
        expected = cv2.imread(str(tiny_tree / "ann_dir" / info["ann"]["seg_map"]), cv2.IMREAD_UNCHANGED)
        np.testing.assert_array_equal(ds.get_gt_seg_map_by_idx(i), expected)
    maps = list(ds.get_gt_seg_maps())
    assert len(maps) == 3 and all(m.shape == (8, 10) for m in maps)


# ----- data errors name the file or folder -----------------------------------------------------
def test_no_images_names_directory_and_suffix(tiny_tree, helpers):
    with pytest.raises(DataError, match=rf"no images ending in '\.jpg' found under {tiny_tree / 'img_dir'}"):
        build_dataset(helpers.tiny_cfg(tiny_tree, img_suffix=".jpg"))
    with pytest.raises(DataError, match="image directory .*nowhere does not exist"):
        build_dataset(helpers.tiny_cfg(tiny_tree, img_dir="nowhere"))


def test_missing_label_found_at_construction(tiny_tree, helpers):
    (tiny_tree / "ann_dir" / "b_seg.png").unlink()
    with pytest.raises(DataError, match=r"1 of 3 label files are missing: .*ann_dir/b_seg\.png"):
        build_dataset(helpers.tiny_cfg(tiny_tree))
    with pytest.raises(DataError, match="label directory .*labels does not exist"):
        build_dataset(helpers.tiny_cfg(tiny_tree, ann_dir="labels"))


def test_split_errors(tiny_tree, helpers):
    with pytest.raises(DataError, match="split file .*nosplit.txt does not exist"):
        build_dataset(helpers.tiny_cfg(tiny_tree, split="nosplit.txt"))
    (tiny_tree / "s.txt").write_text("a\nzz\n")
    with pytest.raises(DataError, match=r"image files are missing: .*img_dir/zz\.png listed in split file"):
        build_dataset(helpers.tiny_cfg(tiny_tree, split="s.txt"))


def test_bad_label_content_raises_when_loaded(tiny_tree, helpers):
    import cv2

    pipe = [dict(type="LoadImageFromFile"), dict(type="LoadAnnotations")]
    ds = build_dataset(helpers.tiny_cfg(tiny_tree, pipe))  # construction does not read labels
    cv2.imwrite(str(tiny_tree / "ann_dir" / "a_seg.png"), np.full((8, 10), 5, np.uint8))
    with pytest.raises(DataError, match=r"a_seg\.png holds class id\(s\) 5 outside 0\.\.1"):
        ds[0]
    with pytest.raises(DataError, match=r"a_seg\.png holds class id"):
        ds.get_gt_seg_map_by_idx(0)
    cv2.imwrite(str(tiny_tree / "ann_dir" / "b_seg.png"), np.zeros((4, 4), np.uint8))
    with pytest.raises(DataError, match=r"b_seg\.png is 4x4 .* but its image .*b\.png is 10x8"):
        ds[1]
    (tiny_tree / "ann_dir" / "sub" / "c_seg.png").write_bytes(b"garbage")
    with pytest.raises(DataError, match=r"c_seg\.png could not be decoded"):
        ds[2]


def test_config_errors(tiny_tree, helpers):
    with pytest.raises(ConfigError, match="needs ann_dir"):
        build_dataset(helpers.tiny_cfg(tiny_tree, ann_dir=None))
    cfg = helpers.tiny_cfg(tiny_tree)
    del cfg["classes"]
    with pytest.raises(ConfigError, match="CustomDataset needs classes"):
        build_dataset(cfg)
    with pytest.raises(ConfigError, match=r"data\.train: CustomDataset does not take the key 'img_dirs'.*"
                                          r"Did you mean 'img_dir'"):
        build_dataset({**helpers.tiny_cfg(tiny_tree), "img_dirs": "x"}, key="data.train")
    with pytest.raises(ConfigError, match=r"data\.train\.pipeline\.1\.type: unknown transform type"):
        build_dataset(helpers.tiny_cfg(tiny_tree, [dict(type="LoadImageFromFile"), dict(type="Flip")]),
                      key="data.train")
    with pytest.raises(ConfigError, match="palette needs one"):
        build_dataset(helpers.tiny_cfg(tiny_tree, palette=[[1, 2, 3]]))
    with pytest.raises(ConfigError, match="local files only"):
        build_dataset(helpers.tiny_cfg(tiny_tree, file_client_args=dict(backend="http")))


def test_classes_and_palette_from_text_files(tiny_tree, helpers):
    (tiny_tree / "classes.txt").write_text("road\nsky\n")
    (tiny_tree / "palette.txt").write_text("1 2 3\n4,5,6\n")
    ds = build_dataset(helpers.tiny_cfg(tiny_tree, classes=str(tiny_tree / "classes.txt"),
                                        palette=str(tiny_tree / "palette.txt")))
    assert ds.CLASSES == ("road", "sky") and ds.PALETTE == [[1, 2, 3], [4, 5, 6]]
    # no palette given: a fixed pseudo-random one (0.x draws it from seed 42)
    a = build_dataset(helpers.tiny_cfg(tiny_tree)).PALETTE
    assert a == build_dataset(helpers.tiny_cfg(tiny_tree)).PALETTE


def _voc_tree(tmp_path, helpers):
    label = np.array([[0, 8, 15, 255], [8, 8, 0, 15]], dtype=np.uint8)  # background, cat, person
    helpers.write_pair(tmp_path, "2007_000001", label, img_suffix=".jpg", seg_suffix=".png")
    (tmp_path / "train.txt").write_text("2007_000001\n")
    return dict(type="PascalVOCDataset", data_root=str(tmp_path), img_dir="img_dir", ann_dir="ann_dir",
                split="train.txt", pipeline=[])


def test_class_subset_remaps_labels_like_0x_label_map(tmp_path, helpers):
    cfg = _voc_tree(tmp_path, helpers)
    full = build_dataset(cfg)
    assert len(full.CLASSES) == 21 and full.label_map is None
    ds = build_dataset({**cfg, "classes": ("background", "cat")})
    assert ds.CLASSES == ("background", "cat")
    assert ds.label_map[0] == 0 and ds.label_map[8] == 1 and ds.label_map[15] == 255
    assert ds.PALETTE == [PascalVOCDataset.PALETTE[0], PascalVOCDataset.PALETTE[8]]
    np.testing.assert_array_equal(ds.get_gt_seg_map_by_idx(0), [[0, 1, 255, 255], [1, 1, 0, 255]])
    with pytest.raises(ConfigError, match="not classes of PascalVOCDataset. Did you mean 'person'"):
        build_dataset({**cfg, "classes": ("background", "persn")})


def test_label_value_map_applies_in_training_and_evaluation(tmp_path, helpers):
    label = np.array([[0, 255, 255, 0], [0, 0, 255, 0]], dtype=np.uint8)
    helpers.write_pair(tmp_path, "a", label)
    pipeline = [dict(type="LoadImageFromFile"), dict(type="LoadAnnotations")]
    ds = build_dataset(helpers.tiny_cfg(tmp_path, pipeline, label_value_map={255: 1}))
    expected = (label == 255).astype(np.uint8)
    np.testing.assert_array_equal(ds[0]["gt_semantic_seg"], expected)
    np.testing.assert_array_equal(ds.get_gt_seg_map_by_idx(0), expected)
    assert ds.evaluate([expected], logger="silent")["IoU.fg"] == 1.0
    for bad in ([255, 1], {255: 256}, {"255": 1}):
        with pytest.raises(ConfigError, match=r"label_value_map.*\{255: 1\}"):
            build_dataset(helpers.tiny_cfg(tmp_path, pipeline, label_value_map=bad))


def test_label_value_map_from_cfg_options_survives_the_config_dump(tmp_path):
    from seglab.config import Config
    from seglab.config.overrides import parse_value

    path = tmp_path / "c.py"
    path.write_text("data = dict(train=dict(type='CustomDataset'))\n")
    cfg = Config.fromfile(str(path))
    cfg.merge_from_dict({"data.train.label_value_map": parse_value("{255: 1}")})
    assert cfg.data.train.label_value_map == {255: 1}
    cfg.dump(tmp_path / "dumped.py")
    assert Config.fromfile(str(tmp_path / "dumped.py")).data.train.label_value_map == {255: 1}


def test_voc_requires_split(tmp_path, helpers):
    cfg = _voc_tree(tmp_path, helpers)
    del cfg["split"]
    with pytest.raises(ConfigError, match="PascalVOCDataset needs split"):
        build_dataset(cfg)

