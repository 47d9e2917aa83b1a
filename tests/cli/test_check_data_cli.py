"""``seglab check-data`` on small generated data sets, each holding one fault: the fault is
named with its file, the exit code is 1, and no file is changed."""
from __future__ import annotations

import hashlib
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from seglab.cli import main

CONFIG = """
dataset = dict(type='CustomDataset', data_root={root!r}, img_dir='img', ann_dir='ann', img_suffix='.png',
               seg_map_suffix='.png', classes={classes!r}, palette={palette!r}{extra},
               pipeline=[dict(type='LoadImageFromFile'), dict(type='LoadAnnotations'{loader})])
data = dict(samples_per_gpu=1, workers_per_gpu=0, train=dataset,
            val=dict(dataset, pipeline=[dict(type='LoadImageFromFile')]))
"""
CLASSES = ("bg", "road", "car")
PALETTE = [[0, 0, 0], [128, 64, 128], [0, 0, 142]]


def ids(h: int = 6, w: int = 8, classes: int = 3, seed: int = 0) -> np.ndarray:
    """A label map holding every class id below ``classes``."""
    label = np.random.default_rng(seed).integers(0, classes, (h, w), dtype=np.uint8)
    label.ravel()[:classes] = np.arange(classes)
    return label


def write_tree(root: Path, labels: dict, *, classes=CLASSES, palette=PALETTE, extra: str = "", loader: str = "",
               images: dict | None = None) -> Path:
    """Images (random, the labels' sizes unless ``images`` says otherwise) and labels under
    ``root/img`` and ``root/ann``, and the config ``root/cfg.py``. A label of None: no label
    file; an image size of None: no image."""
    (root / "img").mkdir(parents=True)
    (root / "ann").mkdir()
    sizes = {name: label.shape[:2] for name, label in labels.items() if isinstance(label, np.ndarray)}
    sizes.update(images or {})
    for i, (name, size) in enumerate(sizes.items()):
        if size is not None:
            img = np.random.default_rng(i).integers(0, 256, (*size, 3), dtype=np.uint8)
            assert cv2.imwrite(str(root / "img" / f"{name}.png"), img)
    for name, label in labels.items():
        if isinstance(label, Image.Image):
            label.save(root / "ann" / f"{name}.png")
        elif isinstance(label, bytes):
            (root / "ann" / f"{name}.png").write_bytes(label)
        elif label is not None:  # colour arrays are given as RGB
            array = label[..., ::-1] if label.ndim == 3 else label
            assert cv2.imwrite(str(root / "ann" / f"{name}.png"), array)
    config = root / "cfg.py"
    config.write_text(CONFIG.format(root=str(root), classes=classes, palette=palette, extra=extra, loader=loader))
    return config


def snapshot(root: Path) -> dict:
    return {p: (hashlib.sha256(p.read_bytes()).hexdigest(), p.stat().st_mtime_ns)
            for p in sorted(root.rglob("*")) if p.is_file()}


def check(capsys, config: Path, *args: str) -> tuple[int, str]:
    before = snapshot(config.parent)
    code = main(["check-data", str(config), *args])
    out = capsys.readouterr().out
    assert snapshot(config.parent) == before, "check-data changed a file"
    return code, out


def lines_with(out: str, *words: str) -> list[str]:
    return [line for line in out.splitlines() if all(w in line for w in words)]


def test_clean_data_set_passes_with_frequencies_and_weights(tmp_path, capsys):
    config = write_tree(tmp_path, {"a": ids(seed=1), "b": ids(seed=2)})
    code, out = check(capsys, config)
    assert code == 0, out
    assert "images 2, labels 2, pairs 2, images without labels 0, labels without images 0, " \
           "pairs whose sizes differ 0" in out
    assert "image sizes (WxH): 8x6 (2)" in out and "label sizes (WxH): 8x6 (2)" in out
    assert "saved label values: 0, 1, 2 (grey): 2 file(s)" in out
    assert "inverse_log" in out and "class_weight=[" in out
    assert "0 error(s), 0 warning(s); no file was modified" in out


def test_binary_0_255_masks_in_a_two_class_config(tmp_path, capsys):
    mask = (ids(classes=2) * 255).astype(np.uint8)
    config = write_tree(tmp_path, {"a": mask, "b": mask}, classes=("background", "vessel"), palette=PALETTE[:2])
    code, out = check(capsys, config)
    assert code == 1
    assert len(lines_with(out, "error:", "a.png", "binary 0/255", "holds only 0 and 255")) == 1
    [fix] = lines_with(out, "fix (binary 0/255)")
    assert "'vessel' is never learned" in fix and "'data.train.label_value_map={255: 1}'" in fix
    assert "'data.val.label_value_map={255: 1}'" in fix and "tools/convert_masks.py" in fix and "--binary" in fix
    # the suggested fix works: with the map, the same files pass
    code, out = check(capsys, config, "--cfg-options", "data.train.label_value_map={255: 1}")
    assert code == 0, out
    assert "label_value_map: saved 255 -> 1" in out and "values as read: 0, 1: 2 file(s)" in out


def test_some_masks_saved_0_255_among_0_1_masks_are_a_warning(tmp_path, capsys):
    mask = ids(classes=2)
    config = write_tree(tmp_path, {"a": mask, "b": mask * 255}, classes=("background", "vessel"), palette=PALETTE[:2])
    code, out = check(capsys, config)
    assert code == 0 and lines_with(out, "warning:", "b.png", "binary 0/255")
    [fix] = lines_with(out, "fix (binary 0/255)")
    assert "save them with 1 instead" in fix and "label_value_map" not in fix


def test_label_size_differs_from_image(tmp_path, capsys):
    config = write_tree(tmp_path, {"a": ids(), "b": ids()}, images={"b": (6, 9)})
    code, out = check(capsys, config)
    assert code == 1
    [line] = lines_with(out, "error:", "b.png", "size mismatch")
    assert "is 8x6 (WxH) but its image" in line and "is 9x6" in line
    assert "pairs whose sizes differ 1" in out and "image sizes (WxH): 8x6 (1); 9x6 (1)" in out


def test_ids_outside_the_classes(tmp_path, capsys):
    bad = ids()
    bad[0, 0] = 7
    config = write_tree(tmp_path, {"a": ids(), "b": bad})
    code, out = check(capsys, config)
    assert code == 1
    assert lines_with(out, "error:", "b.png", "ids out of range", "holds id(s) 7 outside 0..2")
    assert not lines_with(out, "error:", "a.png")


def test_grey_codes_get_a_label_value_map(tmp_path, capsys):
    codes = np.choose(ids(), [0, 100, 200]).astype(np.uint8)
    config = write_tree(tmp_path, {"a": codes})
    code, out = check(capsys, config)
    assert code == 1 and lines_with(out, "a.png", "ids out of range", "100, 200")
    assert lines_with(out, "fix (ids out of range)", "label_value_map={0: 0, 100: 1, 200: 2}")


def test_colour_masks_saved_as_grey_match_the_palette(tmp_path, capsys):
    grey = cv2.cvtColor(np.asarray(PALETTE, np.uint8)[ids()][..., ::-1], cv2.COLOR_BGR2GRAY)  # 0, 90, 16
    config = write_tree(tmp_path, {"a": grey})
    code, out = check(capsys, config)
    assert code == 1 and lines_with(out, "a.png", "ids out of range", "16, 90")
    [fix] = lines_with(out, "fix (ids out of range)", "grey levels of the classes' palette colours")
    assert "label_value_map={0: 0, 90: 1, 16: 2}" in fix  # palette order, not sorted order
    code, out = check(capsys, config, "--cfg-options", "data.train.label_value_map={0: 0, 90: 1, 16: 2}")
    assert code == 0, out


def test_one_based_ids_suggest_reduce_zero_label(tmp_path, capsys):
    config = write_tree(tmp_path, {"a": ids(classes=4)})  # 0 = unlabelled, 1..3 = classes
    code, out = check(capsys, config)
    assert code == 1 and lines_with(out, "fix (ids out of range)", "reduce_zero_label=True")
    config.write_text(config.read_text().replace("LoadAnnotations'", "LoadAnnotations', reduce_zero_label=True")
                      .replace("palette=", "reduce_zero_label=True, palette="))
    code, out = check(capsys, config)
    assert code == 0, out
    assert "reduce_zero_label=True: 0 becomes 255 (ignored, never learned); the other ids shift down by one: " \
           "1 -> 0 'bg', 2 -> 1 'road', 3 -> 2 'car'" in out


def test_colour_masks_in_the_dataset_palette(tmp_path, capsys):
    colour = np.asarray(PALETTE, np.uint8)[ids()]
    config = write_tree(tmp_path, {"a": colour, "b": ids()})
    code, out = check(capsys, config)
    assert code == 1
    assert lines_with(out, "error:", "a.png", "colour mask", "3 colours")
    [fix] = lines_with(out, "fix (colour mask)")
    assert "the dataset's palette" in fix and f"tools/convert_masks.py {tmp_path / 'ann'}" in fix
    assert f"--config {config}" in fix


def test_colour_masks_in_other_colours(tmp_path, capsys):
    colour = np.asarray([[10, 20, 30], [200, 0, 0], [0, 200, 0]], np.uint8)[ids()]
    config = write_tree(tmp_path, {"a": colour})
    code, out = check(capsys, config)
    assert code == 1 and lines_with(out, "fix (colour mask)", "--palette palette.json", "(10, 20, 30)")


def test_palette_png_read_by_opencv(tmp_path, capsys):
    pil = Image.fromarray(ids(), mode="P")
    pil.putpalette([v for c in PALETTE for v in c])
    config = write_tree(tmp_path, {"a": pil}, images={"a": (6, 8)})
    assert check(capsys, config)[0] == 0  # Pillow, the default, reads the indices
    config = write_tree(tmp_path / "cv2", {"a": pil}, images={"a": (6, 8)}, loader=", imdecode_backend='cv2'")
    code, out = check(capsys, config)
    assert code == 1 and lines_with(out, "error:", "a.png", "palette PNG read as colours", "imdecode_backend='pillow'")


def test_images_without_labels_and_labels_without_images(tmp_path, capsys):
    config = write_tree(tmp_path, {"a": ids(), "nolabel": None, "orphan": ids()}, images={"orphan": None,
                                                                                        "nolabel": (6, 8)})
    code, out = check(capsys, config)
    assert code == 1
    assert lines_with(out, "error:", "nolabel.png", "image without label", str(tmp_path / "ann" / "nolabel.png"))
    assert lines_with(out, "error:", "orphan.png", "label without image", str(tmp_path / "img" / "orphan.png"))
    assert "images 2, labels 2, pairs 1, images without labels 1, labels without images 1" in out


def test_unreadable_files(tmp_path, capsys):
    config = write_tree(tmp_path, {"a": ids(), "b": b"\x89PNG broken"}, images={"b": (6, 8)})
    (tmp_path / "img" / "a.png").write_bytes(b"not an image")
    code, out = check(capsys, config)
    assert code == 1
    assert lines_with(out, "error:", "img/a.png", "unreadable image")
    assert lines_with(out, "error:", "ann/b.png", "unreadable label", "cannot be decoded")


def test_class_that_never_appears(tmp_path, capsys):
    config = write_tree(tmp_path, {"a": ids(classes=2), "b": ids(classes=2)})
    code, out = check(capsys, config)
    assert code == 1 and lines_with(out, "error:", "data.train", "class never appears", "2 'car'")
    # in the validation split it is a warning: metrics of the class are NaN
    code, out = check(capsys, config, "--split", "val")
    assert code == 0 and lines_with(out, "warning:", "data.val", "class never appears")


def test_summary_table_and_split_all(tmp_path, capsys):
    bad = ids()
    bad[0, 0] = 9
    config = write_tree(tmp_path, {"a": bad, "b": ids()})
    code, out = check(capsys, config, "--split", "all")
    assert code == 1
    summary = out[out.index("summary:"):]
    assert lines_with(summary, "data.train", "2", "1", "ids out of range (1)")
    assert "data.val: the same files as data.train, not read again" in out


def test_config_errors_are_one_line(tmp_path, capsys):
    config = write_tree(tmp_path, {"a": ids()})
    assert main(["check-data", str(config), "--split", "test"]) == 1
    assert "data.test" in capsys.readouterr().err
    code, out = check(capsys, config, "--cfg-options", "data.train.img_dir=nothere")
    assert code == 1 and lines_with(out, "error:", "data.train", "cannot list files", "nothere")
