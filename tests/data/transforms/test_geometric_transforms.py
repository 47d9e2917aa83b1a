"""Resize, RandomCrop, RandomFlip and Pad on small hand-made arrays."""
from __future__ import annotations

import numpy as np
import pytest

from seglab.data.transforms import Pad, RandomCrop, RandomFlip, Resize
from seglab.data.transforms.geometric import rescale_size
from seglab.errors import ConfigError
from seglab.registry import TRANSFORMS


def _results(h: int = 20, w: int = 40, label: np.ndarray | None = None) -> dict:
    img = np.arange(h * w * 3, dtype=np.uint32).reshape(h, w, 3).astype(np.uint8)
    label = label if label is not None else (np.arange(h * w).reshape(h, w) % 3).astype(np.uint8)
    return dict(img=img, gt_semantic_seg=label, seg_fields=["gt_semantic_seg"], img_shape=img.shape,
                ori_shape=img.shape, pad_shape=img.shape)


# ----- Resize --------------------------------------------------------------------------------
def test_rescale_rule_bounds_long_and_short_edge():
    # 40x20 image, scale (30, 100): long edge allows 100/40 = 2.5, short edge 30/20 = 1.5 -> 1.5
    assert rescale_size(40, 20, (30, 100)) == ((60, 30), 1.5)
    assert rescale_size(40, 20, (100, 30)) == ((60, 30), 1.5)  # order of the pair does not matter
    # long edge is the tighter bound: 2048x1024 scale for a 565x584 DRIVE image
    (w, h), f = rescale_size(565, 584, (2048, 1024))
    assert f == pytest.approx(min(2048 / 584, 1024 / 565)) and (w, h) == (1024, int(584 * f + 0.5))
    assert rescale_size(3, 3, 0.5)[0] == (2, 2)  # 1.5 rounds half up


def test_resize_keep_ratio_sets_shapes_and_scale_factor():
    r = Resize(img_scale=(30, 100), keep_ratio=True)(_results())
    assert r["img"].shape == (30, 60, 3) and r["gt_semantic_seg"].shape == (30, 60)
    assert r["img_shape"] == r["pad_shape"] == (30, 60, 3)
    np.testing.assert_allclose(r["scale_factor"], [1.5, 1.5, 1.5, 1.5])
    assert r["scale"] == (30, 100) and r["keep_ratio"] is True


def test_resize_without_keep_ratio_gives_exact_w_h():
    r = Resize(img_scale=(50, 10), keep_ratio=False)(_results())
    assert r["img"].shape == (10, 50, 3) and r["gt_semantic_seg"].shape == (10, 50)
    np.testing.assert_allclose(r["scale_factor"], [50 / 40, 10 / 20, 50 / 40, 10 / 20])


def test_resize_uses_nearest_for_labels():
    label = np.array([[0, 1], [2, 255]], dtype=np.uint8)
    r = Resize(img_scale=(4, 4), keep_ratio=False)(_results(2, 2, label))
    expected = np.array([[0, 0, 1, 1], [0, 0, 1, 1], [2, 2, 255, 255], [2, 2, 255, 255]], dtype=np.uint8)
    np.testing.assert_array_equal(r["gt_semantic_seg"], expected)
    # a non-integer factor still only produces existing label values
    r = Resize(img_scale=(7, 7), keep_ratio=False)(_results(2, 2, label))
    assert set(np.unique(r["gt_semantic_seg"])) == {0, 1, 2, 255}


def test_resize_ratio_range_multiplies_img_scale():
    np.random.seed(3)
    ratio = np.random.random_sample() * (2.0 - 0.5) + 0.5
    np.random.seed(3)
    r = Resize(img_scale=(584, 565), ratio_range=(0.5, 2.0))(_results(584 // 8, 565 // 8))
    assert r["scale"] == (int(584 * ratio), int(565 * ratio))
    expected, _ = rescale_size(565 // 8, 584 // 8, r["scale"])
    assert r["img"].shape[:2] == (expected[1], expected[0])


def test_resize_ratio_range_without_img_scale_uses_image_size():
    np.random.seed(0)
    ratio = np.random.random_sample() * 1.0 + 1.0
    np.random.seed(0)
    r = Resize(ratio_range=(1.0, 2.0))(_results(20, 40))
    assert r["scale"] == (int(40 * ratio), int(20 * ratio))


def test_resize_multiscale_modes():
    np.random.seed(0)
    for _ in range(10):
        r = Resize(img_scale=[(10, 20), (30, 40)], multiscale_mode="value")(_results())
        assert r["scale"] in [(10, 20), (30, 40)]
        r = Resize(img_scale=[(10, 20), (60, 40)], multiscale_mode="range")(_results())
        long_edge, short_edge = r["scale"]
        assert 20 <= long_edge <= 60 and 10 <= short_edge <= 40


def test_resize_min_size_and_preset_scale():
    r = Resize(img_scale=(8, 8), min_size=16)(_results(10, 20))
    assert r["img"].shape[:2] == (16, 32)
    res = _results()
    res["scale"] = (8, 4)  # as MultiScaleFlipAug sets it
    assert Resize(keep_ratio=False)(res)["img"].shape[:2] == (4, 8)


def test_resize_config_errors():
    with pytest.raises(ConfigError, match="ratio_range needs a single img_scale"):
        Resize(img_scale=[(1, 2), (3, 4)], ratio_range=(0.5, 2.0))
    with pytest.raises(ConfigError, match="multiscale_mode"):
        Resize(img_scale=(1, 2), multiscale_mode="random")
    with pytest.raises(ConfigError, match="no img_scale"):
        Resize()(_results())
    with pytest.raises(ConfigError, match="Did you mean 'img_scale'"):
        TRANSFORMS.build(dict(type="Resize", img_sacle=(2, 2)), key="pipeline.2")


# ----- RandomCrop ----------------------------------------------------------------------------
def test_random_crop_cuts_image_and_label_at_the_same_place():
    h, w = 12, 15
    res = _results(h, w, label=(np.arange(h * w).reshape(h, w) % 251).astype(np.uint8))
    res["img"] = np.stack([res["gt_semantic_seg"]] * 3, axis=-1)
    np.random.seed(0)
    r = RandomCrop(crop_size=(5, 7))(res)
    assert r["img"].shape == (5, 7, 3) and r["img_shape"] == (5, 7, 3)
    np.testing.assert_array_equal(r["img"][..., 0], r["gt_semantic_seg"])


def test_random_crop_larger_than_image_keeps_it_whole():
    r = RandomCrop(crop_size=(64, 64))(_results(20, 40))
    assert r["img"].shape == (20, 40, 3) and r["gt_semantic_seg"].shape == (20, 40)


def test_random_crop_balance_rule_ignores_ignore_index():
    crop = RandomCrop(crop_size=(2, 2), cat_max_ratio=0.75)
    assert crop._balanced(np.array([[0, 255], [1, 255]]))       # 1:1 without the ignored pixels
    assert not crop._balanced(np.array([[0, 0], [0, 1]]))        # 0.75 is not below 0.75
    assert not crop._balanced(np.array([[0, 255], [255, 255]]))  # a single class


@pytest.mark.parametrize("dtype", [np.uint8, np.int64])
def test_random_crop_balance_rule_same_for_histogram_and_unique(dtype):
    # uint8 labels take the bincount path, others np.unique; both must decide alike.
    rng = np.random.default_rng(0)
    crop = RandomCrop(crop_size=(8, 8), cat_max_ratio=0.6)
    for _ in range(200):
        label = rng.choice([0, 1, 2, 255], size=(8, 8), p=rng.dirichlet([1, 1, 1, 1])).astype(dtype)
        values, counts = np.unique(label, return_counts=True)
        counts = counts[values != 255]
        expected = len(counts) > 1 and counts.max() / counts.sum() < 0.6
        assert crop._balanced(label) == expected


def test_random_crop_cat_max_ratio_retries_until_balanced():
    # 5x5 label, 4x4 crops: only windows starting at row 0 are balanced (class 1 in rows 0-1).
    label = np.zeros((5, 5), dtype=np.uint8)
    label[0:2, 0:4] = 1
    starts_balanced, starts_free = set(), set()
    for seed in range(30):
        np.random.seed(seed)
        r = RandomCrop((4, 4), cat_max_ratio=0.75)(_results(5, 5, label.copy()))
        starts_balanced.add(int(r["gt_semantic_seg"].sum() >= 6))
        np.random.seed(seed)
        r = RandomCrop((4, 4))(_results(5, 5, label.copy()))
        starts_free.add(int(r["gt_semantic_seg"].sum() >= 6))
    assert starts_balanced == {1}
    assert starts_free == {0, 1}


# ----- RandomFlip ----------------------------------------------------------------------------
def test_flip_moves_image_and_label_together():
    res = _results(4, 6)
    img, label = res["img"].copy(), res["gt_semantic_seg"].copy()
    r = RandomFlip(prob=1.0)(res)
    assert r["flip"] is True and r["flip_direction"] == "horizontal"
    np.testing.assert_array_equal(r["img"], img[:, ::-1])
    np.testing.assert_array_equal(r["gt_semantic_seg"], label[:, ::-1])
    assert r["img"].flags.c_contiguous and r["gt_semantic_seg"].flags.c_contiguous
    r = RandomFlip(prob=1.0, direction="vertical")(_results(4, 6))
    np.testing.assert_array_equal(r["img"], img[::-1])
    np.testing.assert_array_equal(r["gt_semantic_seg"], label[::-1])


def test_flip_probability_and_preset_flag():
    r = RandomFlip(prob=0.0)(_results(4, 6))
    assert r["flip"] is False
    np.random.seed(0)
    flips = [RandomFlip(prob=0.5)(_results(2, 2))["flip"] for _ in range(200)]
    assert 70 < sum(flips) < 130
    res = _results(4, 6)
    img = res["img"].copy()
    res.update(flip=True, flip_direction="vertical")  # set by MultiScaleFlipAug
    np.testing.assert_array_equal(RandomFlip()(res)["img"], img[::-1])
    assert RandomFlip()(_results())["flip"] is False  # prob=None never flips on its own


def test_flip_config_errors():
    with pytest.raises(ConfigError, match="prob"):
        RandomFlip(prob=1.5)
    with pytest.raises(ConfigError, match="direction"):
        RandomFlip(prob=0.5, direction="diagonal")


# ----- Pad -----------------------------------------------------------------------------------
def test_pad_to_fixed_size_uses_pad_values():
    res = _results(4, 3)
    img, label = res["img"].copy(), res["gt_semantic_seg"].copy()
    r = Pad(size=(6, 5), pad_val=7, seg_pad_val=255)(res)
    assert r["img"].shape == (6, 5, 3) and r["pad_shape"] == (6, 5, 3) and r["gt_semantic_seg"].shape == (6, 5)
    np.testing.assert_array_equal(r["img"][:4, :3], img)
    assert (r["img"][4:] == 7).all() and (r["img"][:, 3:] == 7).all()  # every channel
    np.testing.assert_array_equal(r["gt_semantic_seg"][:4, :3], label)
    assert (r["gt_semantic_seg"][4:] == 255).all() and (r["gt_semantic_seg"][:, 3:] == 255).all()
    assert r["img_shape"] == (4, 3, 3)  # the unpadded size stays recorded


def test_pad_to_size_divisor():
    r = Pad(size_divisor=4)(_results(5, 6))
    assert r["img"].shape == (8, 8, 3) and r["gt_semantic_seg"].shape == (8, 8)
    r = Pad(size_divisor=4)(_results(8, 4))
    assert r["img"].shape == (8, 4, 3)


def test_pad_needs_exactly_one_of_size_and_divisor():
    with pytest.raises(ConfigError, match="exactly one"):
        Pad()
    with pytest.raises(ConfigError, match="exactly one"):
        Pad(size=(4, 4), size_divisor=2)
