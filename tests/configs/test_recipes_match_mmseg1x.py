"""The SegFormer, UPerNet and Swin configs (0.x dialect) carry exactly the model and recipe of
MMSegmentation's 1.x configs of the same models, as 1.x resolves them
(tests/fixtures/mmseg1x/resolved-configs.json, copied from ../shared/docs/mmseg1x): the model dict,
AdamW/SGD and paramwise rules, warm-up and poly decay, iterations, intervals, batch, workers, data
layout, normalisation and the augmentation parameters, each translated from its 1.x key."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from seglab.config import Config

PAIRS = {
    "segformer/segformer_mit-b0_512x512_160k_ade20k.py": "segformer/segformer_mit-b0_8xb2-160k_ade20k-512x512.py",
    "segformer/segformer_mit-b5_512x512_160k_ade20k.py": "segformer/segformer_mit-b5_8xb2-160k_ade20k-512x512.py",
    "upernet/upernet_r50_512x1024_40k_cityscapes.py": "upernet/upernet_r50_4xb2-40k_cityscapes-512x1024.py",
    "swin/upernet_swin_tiny_patch4_window7_512x512_160k_ade20k_pretrain_224x224_1K.py":
        "swin/swin-tiny-patch4-window7-in1k-pre_upernet_8xb2-160k_ade20k-512x512.py",
}


def plain(value: Any) -> Any:
    """Lists for tuples, dicts for ConfigDicts: 1.x's JSON and our config compare equal."""
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    return value


def by_type(pipeline: list[dict], type_: str) -> dict:
    [step] = [s for s in pipeline if s["type"] == type_]
    return step


def lr_config_of(schedulers: list[dict], max_iters: int) -> dict:
    """1.x's param_scheduler as the equivalent 0.x lr_config (an optional LinearLR warm-up, then PolyLR)."""
    *warmup, poly = schedulers
    assert poly["type"] == "PolyLR" and poly["end"] == max_iters and not poly["by_epoch"]
    lr_config = dict(policy="poly", power=poly["power"], min_lr=poly["eta_min"], by_epoch=False)
    if warmup:
        [linear] = warmup
        assert linear["type"] == "LinearLR" and linear["begin"] == 0 and linear["end"] == poly["begin"]
        lr_config.update(warmup="linear", warmup_iters=linear["end"], warmup_ratio=linear["start_factor"])
    return lr_config


FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "mmseg1x" / "resolved-configs.json"


@pytest.fixture(scope="module")
def resolved() -> dict[str, dict]:
    return json.loads(FIXTURE.read_text())


@pytest.mark.parametrize("ours", sorted(PAIRS))
def test_model_and_recipe_equal_the_resolved_1x_config(ours, configs_dir, resolved):
    cfg = plain(Config.fromfile(configs_dir / ours).to_dict())
    ref = resolved[PAIRS[ours]]

    model = {k: v for k, v in ref["model"].items() if k != "data_preprocessor"}
    assert cfg["model"] == model

    optimizer = {**ref["optim_wrapper"]["optimizer"]}
    if "paramwise_cfg" in ref["optim_wrapper"]:
        optimizer["paramwise_cfg"] = ref["optim_wrapper"]["paramwise_cfg"]
    assert cfg["optimizer"] == optimizer
    max_iters = ref["train_cfg"]["max_iters"]
    assert cfg["runner"] == dict(type="IterBasedRunner", max_iters=max_iters)
    assert cfg["lr_config"] == lr_config_of(ref["param_scheduler"], max_iters)
    assert cfg["checkpoint_config"]["interval"] == ref["default_hooks"]["checkpoint"]["interval"]
    assert cfg["evaluation"]["interval"] == ref["train_cfg"]["val_interval"]
    assert cfg["evaluation"]["metric"] == "mIoU" and ref["val_evaluator"]["iou_metrics"] == ["mIoU"]

    loader = ref["train_dataloader"]
    assert (cfg["data"]["samples_per_gpu"], cfg["data"]["workers_per_gpu"]) == (loader["batch_size"],
                                                                                loader["num_workers"])
    for split, ref_split in (("train", loader["dataset"]), ("val", ref["val_dataloader"]["dataset"]),
                             ("test", ref["test_dataloader"]["dataset"])):
        ours_split = cfg["data"][split]
        assert ours_split["type"] == ref_split["type"] and ours_split["data_root"] == ref_split["data_root"]
        assert (ours_split["img_dir"], ours_split["ann_dir"]) == (ref_split["data_prefix"]["img_path"],
                                                                  ref_split["data_prefix"]["seg_map_path"])

    preprocessor = ref["model"]["data_preprocessor"]
    assert cfg["img_norm_cfg"] == dict(mean=preprocessor["mean"], std=preprocessor["std"],
                                       to_rgb=preprocessor["bgr_to_rgb"])
    assert cfg["crop_size"] == ref["crop_size"] == preprocessor["size"]

    train, ref_train = cfg["train_pipeline"], ref["train_pipeline"]
    resize, ref_resize = by_type(train, "Resize"), by_type(ref_train, "RandomResize")
    assert (resize["img_scale"], resize["ratio_range"]) == (ref_resize["scale"], ref_resize["ratio_range"])
    crop = by_type(train, "RandomCrop")
    assert crop == by_type(ref_train, "RandomCrop")
    assert by_type(train, "RandomFlip")["prob"] == by_type(ref_train, "RandomFlip")["prob"]
    assert (by_type(train, "LoadAnnotations").get("reduce_zero_label", False)
            == by_type(ref_train, "LoadAnnotations").get("reduce_zero_label", False))
    assert by_type(train, "Pad")["size"] == ref["crop_size"]
    test_scale = by_type(cfg["test_pipeline"], "MultiScaleFlipAug")["img_scale"]
    assert test_scale == by_type(ref["test_pipeline"], "Resize")["scale"]


def test_the_four_pairs_are_the_fixtures_transformer_and_upernet_configs(resolved):
    assert set(PAIRS.values()) == {k for k in resolved if k.split("/")[0] in ("segformer", "swin", "upernet")}
