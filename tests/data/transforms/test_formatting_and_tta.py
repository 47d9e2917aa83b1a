"""DefaultFormatBundle, ImageToTensor, Collect, MultiScaleFlipAug and Compose."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from seglab.data.transforms import (Collect, Compose, DefaultFormatBundle, ImageToTensor, MultiScaleFlipAug)
from seglab.errors import ConfigError

META_KEYS_0X = ["filename", "ori_filename", "ori_shape", "img_shape", "pad_shape", "scale_factor", "flip",
                "flip_direction", "img_norm_cfg"]


def test_default_format_bundle_types_and_layout():
    img = np.arange(2 * 3 * 3, dtype=np.uint8).reshape(2, 3, 3)
    label = np.array([[0, 1, 255], [1, 0, 1]], dtype=np.uint8)
    r = DefaultFormatBundle()({"img": img, "gt_semantic_seg": label})
    assert r["img"].dtype == torch.float32 and r["img"].shape == (3, 2, 3)
    np.testing.assert_array_equal(r["img"].numpy(), img.transpose(2, 0, 1))
    assert r["gt_semantic_seg"].dtype == torch.int64 and r["gt_semantic_seg"].shape == (1, 2, 3)
    np.testing.assert_array_equal(r["gt_semantic_seg"][0].numpy(), label)
    # a cropped (non-contiguous) label works too
    r = DefaultFormatBundle()({"gt_semantic_seg": label[:, 1:]})
    assert r["gt_semantic_seg"].shape == (1, 2, 2)
    assert DefaultFormatBundle()({"img": np.zeros((2, 3), np.float32)})["img"].shape == (1, 2, 3)


def test_image_to_tensor_keeps_dtype():
    img = np.ones((2, 3, 3), dtype=np.float32)
    r = ImageToTensor(keys=["img"])({"img": img})
    assert r["img"].shape == (3, 2, 3) and r["img"].dtype == torch.float32
    with pytest.raises(ConfigError, match="list"):
        ImageToTensor(keys="img")


def _full_results() -> dict:
    r = {k: f"v_{k}" for k in META_KEYS_0X}
    r.update(img=torch.zeros(3, 2, 2), gt_semantic_seg=torch.zeros(1, 2, 2), extra="dropped")
    return r


def test_collect_keeps_keys_and_0x_meta_keys():
    c = Collect(keys=["img", "gt_semantic_seg"])
    assert c.meta_keys == META_KEYS_0X
    out = c(_full_results())
    assert set(out) == {"img", "gt_semantic_seg", "img_metas"}
    assert out["img_metas"] == {k: f"v_{k}" for k in META_KEYS_0X}
    out = Collect(keys=["img"], meta_keys=["filename"])(_full_results())
    assert set(out) == {"img", "img_metas"} and out["img_metas"] == {"filename": "v_filename"}


def test_collect_missing_key_is_named():
    r = _full_results()
    del r["flip"]
    with pytest.raises(ConfigError, match="'flip' not in the pipeline's results"):
        Collect(keys=["img"])(r)


def _tta(**kw) -> MultiScaleFlipAug:
    return MultiScaleFlipAug(transforms=[dict(type="Resize", keep_ratio=False), dict(type="RandomFlip"),
                                         dict(type="ImageToTensor", keys=["img"]),
                                         dict(type="Collect", keys=["img"],
                                              meta_keys=["scale", "flip", "flip_direction"])],
                             **kw)


def _image_results(h: int = 4, w: int = 6) -> dict:
    img = np.arange(h * w * 3, dtype=np.uint8).reshape(h, w, 3)
    return {"img": img, "img_shape": img.shape, "seg_fields": []}


def test_multi_scale_flip_aug_returns_one_entry_per_augmentation():
    res = _image_results()
    out = _tta(img_scale=(6, 4), img_ratios=[0.5, 1.0], flip=True)(res)
    assert set(out) == {"img", "img_metas"} and len(out["img"]) == len(out["img_metas"]) == 4
    assert [m["scale"] for m in out["img_metas"]] == [(3, 2), (3, 2), (6, 4), (6, 4)]
    assert [m["flip"] for m in out["img_metas"]] == [False, True, False, True]
    assert [tuple(t.shape) for t in out["img"]] == [(3, 2, 3), (3, 2, 3), (3, 4, 6), (3, 4, 6)]
    np.testing.assert_array_equal(out["img"][3].numpy(), res["img"][:, ::-1].transpose(2, 0, 1))
    np.testing.assert_array_equal(out["img"][2].numpy(), res["img"].transpose(2, 0, 1))  # input untouched


def test_multi_scale_flip_aug_ratios_of_the_image_and_directions():
    out = _tta(img_scale=None, img_ratios=[1.0, 2.0])(_image_results(4, 6))
    assert [m["scale"] for m in out["img_metas"]] == [(6, 4), (12, 8)]
    out = _tta(img_scale=[(6, 4)], flip=True, flip_direction=["horizontal", "vertical"])(_image_results())
    assert [(m["flip"], m["flip_direction"]) for m in out["img_metas"]] == [
        (False, "horizontal"), (False, "vertical"), (True, "horizontal"), (True, "vertical")]


def test_multi_scale_flip_aug_config_errors():
    with pytest.raises(ConfigError, match="Pad must come after RandomFlip"):
        MultiScaleFlipAug(transforms=[dict(type="Pad", size_divisor=2), dict(type="RandomFlip")],
                          img_scale=(4, 4), flip=True)
    with pytest.raises(ConfigError, match=r"transforms\.0\.type.*Did you mean 'Resize'"):
        MultiScaleFlipAug(transforms=[dict(type="Resise")], img_scale=(4, 4))
    with pytest.raises(ConfigError, match="needs img_scale, img_ratios"):
        MultiScaleFlipAug(transforms=[], img_scale=None)


def test_compose_runs_in_order_and_names_unknown_types():
    seen = []
    pipe = Compose([lambda r: seen.append(1) or r, lambda r: None, lambda r: seen.append(3) or r])
    assert pipe({}) is None and seen == [1]  # None drops the sample
    with pytest.raises(ConfigError, match=r"pipeline\.1\.type: unknown transform type 'RandomFlp'\. "
                                          r"Did you mean 'RandomFlip'"):
        Compose([dict(type="LoadImageFromFile"), dict(type="RandomFlp")])
    with pytest.raises(ConfigError, match=r"pipeline\.0: RandomFlip does not take the key 'probability'"):
        Compose([dict(type="RandomFlip", probability=0.5)])
    with pytest.raises(ConfigError, match="pipeline must be a list"):
        Compose(dict(type="RandomFlip"))
