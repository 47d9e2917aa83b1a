"""Every shipped config resolves to exactly the MMSegmentation 0.30 values in reference-configs.md,
and the tutorial's trick variants change only what their snippet says (semantics.md)."""
from __future__ import annotations

import ast
import re
from pathlib import Path
from typing import Any

import pytest
import torch

from seglab.config import Config
from seglab.data.transforms import Compose
from seglab.registry import MODELS

PSPNET = "configs/pspnet/pspnet_r50-d8_512x1024_40k_cityscapes.py"
UNET = "configs/unet/fcn_unet_s5-d16_64x64_40k_drive.py"
# Blocks listing only model.*: the rest equals this block.
REST_FROM = {
    "configs/deeplabv3/deeplabv3_r50-d8_512x1024_40k_cityscapes.py": PSPNET,
    "configs/deeplabv3plus/deeplabv3plus_r50-d8_512x1024_40k_cityscapes.py": PSPNET,
    "configs/unet/fcn_unet_s5-d16_ce-1.0-dice-3.0_64x64_40k_drive.py": UNET,
}
CE_DICE = [dict(type="CrossEntropyLoss", loss_name="loss_ce", loss_weight=1.0),
           dict(type="DiceLoss", loss_name="loss_dice", loss_weight=3.0)]
CLASS_WEIGHT = [0.8373, 0.9180, 0.8660, 1.0345, 1.0166, 0.9969, 0.9754, 1.0489, 0.8786, 1.0023,
                0.9539, 0.9843, 1.1116, 0.9037, 1.0865, 1.0955, 1.0865, 1.1529, 1.0507]
PIPELINES = {"data.train.pipeline": "train_pipeline", "data.train.dataset.pipeline": "train_pipeline",
             "data.val.pipeline": "test_pipeline", "data.test.pipeline": "test_pipeline"}


def parse_reference(text: str) -> dict[str, dict[str, Any]]:
    """``{'configs/...py': {'model.backbone.depth': 50, 'train_pipeline[0].type': ..., ...}}``."""
    blocks = {}
    for name, body in re.findall(r"^## (configs/\S+\.py)\s*\n+```\n(.*?)\n```", text, flags=re.M | re.S):
        leaves = {}
        for line in body.splitlines():
            path, value = line.split(" = ", 1)
            leaves[path] = normalize(ast.literal_eval(value))
        blocks[name] = leaves
    return blocks


def normalize(value: Any) -> Any:
    """Tuples and lists are interchangeable in the reference."""
    if isinstance(value, dict):
        return {k: normalize(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [normalize(v) for v in value]
    return value


def leaves(value: Any, path: str = "") -> dict[str, Any]:
    """The reference's leaf rule: dicts recurse (an empty one is a leaf), so do lists of dicts."""
    if path in PIPELINES:
        return {}
    if isinstance(value, dict) and value:
        out = {}
        for k, v in value.items():
            out.update(leaves(v, f"{path}.{k}" if path else k))
        return out
    if isinstance(value, (list, tuple)) and value and all(isinstance(v, dict) for v in value):
        out = {}
        for i, v in enumerate(value):
            out.update(leaves(v, f"{path}[{i}]"))
        return out
    return {path: normalize(value)}


@pytest.fixture(scope="module")
def reference() -> dict[str, dict[str, Any]]:
    return parse_reference((Path(__file__).parents[1] / "fixtures" / "reference-configs.md").read_text())


def load(configs_dir: Path, name: str) -> Config:
    return Config.fromfile(configs_dir.parent / name)


def split_model(flat: dict[str, Any]) -> tuple[dict, dict]:
    model = {k: v for k, v in flat.items() if k.startswith("model.")}
    return model, {k: v for k, v in flat.items() if not k.startswith("model.")}


def test_reference_lists_the_five_configs(reference):
    assert set(reference) == {PSPNET, UNET, *REST_FROM}
    assert len(reference[PSPNET]) > 100 and reference[UNET]["data.train.times"] == 40000


@pytest.mark.parametrize("name", [PSPNET, UNET])
def test_full_configs_resolve_to_exactly_the_reference(configs_dir, reference, name):
    cfg = load(configs_dir, name)
    assert leaves(cfg.to_dict()) == reference[name]
    for path, source in PIPELINES.items():
        node: Any = cfg
        try:
            for part in path.split("."):
                node = node[part]
        except KeyError:
            continue  # data.train.pipeline under a RepeatDataset, or the other way round
        assert node == cfg[source], path


@pytest.mark.parametrize("name", sorted(REST_FROM))
def test_model_only_blocks(configs_dir, reference, name):
    flat = leaves(load(configs_dir, name).to_dict())
    model, rest = split_model(flat)
    assert model == reference[name]
    assert rest == split_model(reference[REST_FROM[name]])[1]


def variant_expectation(reference: dict, base: str, changes: dict[str, Any]) -> dict[str, Any]:
    expected = {k: v for k, v in reference[base].items()
                if not any(k == c or k.startswith(c + ".") or k.startswith(c + "[") for c in changes)}
    for key, value in changes.items():
        expected.update(leaves(value, key))
    return expected


def test_ohem_variant_adds_the_sampler_only(configs_dir, reference):
    cfg = load(configs_dir, "configs/pspnet/pspnet_r50-d8_512x1024_40k_cityscapes_ohem.py")
    assert cfg.model.decode_head.sampler == dict(type="OHEMPixelSampler", thresh=0.7, min_kept=100000)
    assert leaves(cfg.to_dict()) == variant_expectation(reference, PSPNET, {
        "model.decode_head.sampler": dict(type="OHEMPixelSampler", thresh=0.7, min_kept=100000)})


def test_class_weight_variant_sets_the_19_weights_only(configs_dir, reference):
    cfg = load(configs_dir, "configs/pspnet/pspnet_r50-d8_512x1024_40k_cityscapes_class_weight.py")
    assert cfg.model.decode_head.loss_decode == dict(type="CrossEntropyLoss", use_sigmoid=False,
                                                     loss_weight=1.0, class_weight=CLASS_WEIGHT)
    assert leaves(cfg.to_dict()) == variant_expectation(reference, PSPNET, {
        "model.decode_head.loss_decode.class_weight": CLASS_WEIGHT})


def test_head_lr_x10_variant_merges_into_the_base_optimizer(configs_dir, reference):
    cfg = load(configs_dir, "configs/pspnet/pspnet_r50-d8_512x1024_40k_cityscapes_head_lr_x10.py")
    assert cfg.optimizer.to_dict() == dict(type="SGD", lr=0.01, momentum=0.9, weight_decay=5e-4,
                                           paramwise_cfg=dict(custom_keys={"head": dict(lr_mult=10.0)}))
    assert leaves(cfg.to_dict()) == variant_expectation(reference, PSPNET, {
        "optimizer.paramwise_cfg.custom_keys.head.lr_mult": 10.0})


def test_ce_dice_config_is_the_reference_decode_head_change(configs_dir, reference):
    cfg = load(configs_dir, "configs/unet/fcn_unet_s5-d16_ce-1.0-dice-3.0_64x64_40k_drive.py")
    assert cfg.model.decode_head.loss_decode == CE_DICE
    assert leaves(cfg.to_dict()) == variant_expectation(reference, UNET, {"model.decode_head.loss_decode": CE_DICE})


def test_snippet_4_as_written_changes_both_heads(configs_dir, reference):
    cfg = load(configs_dir, "configs/unet/fcn_unet_s5-d16_ce-1.0-dice-3.0_64x64_40k_drive_both_heads.py")
    assert cfg.model.decode_head.loss_decode == CE_DICE == cfg.model.auxiliary_head.loss_decode
    assert leaves(cfg.to_dict()) == variant_expectation(reference, UNET, {
        "model.decode_head.loss_decode": CE_DICE, "model.auxiliary_head.loss_decode": CE_DICE})


@pytest.mark.parametrize("iters", [20000, 80000, 160000])
def test_other_schedules_differ_from_40k_only_in_length(configs_dir, iters):
    schedule = load(configs_dir, f"configs/_base_/schedules/schedule_{iters // 1000}k.py").to_dict()
    expected = load(configs_dir, "configs/_base_/schedules/schedule_40k.py").to_dict()
    expected["runner"]["max_iters"] = iters
    expected["checkpoint_config"]["interval"] = expected["evaluation"]["interval"] = iters // 10
    assert schedule == expected


def shipped_configs(configs_dir: Path) -> list[Path]:
    """The 0.x-dialect configs (configs/mmseg1x/ holds the 1.x ones: tests/config/test_dialects.py)."""
    return sorted(p for p in configs_dir.rglob("*.py") if "_base_" not in p.parts and "mmseg1x" not in p.parts)


def test_every_family_folder_has_a_readme(configs_dir):
    for folder in {p.parent for p in configs_dir.rglob("*.py") if "_base_" not in p.parts}:
        assert (folder / "README.md").is_file(), folder


@pytest.mark.filterwarnings("ignore:norm_cfg type 'SyncBN'")
def test_shipped_configs_build_their_models_and_pipelines(configs_dir):
    """The config keys are the constructors' keys: every model and every pipeline builds as written."""
    for path in shipped_configs(configs_dir):
        cfg = Config.fromfile(path)
        model = MODELS.build(cfg.model, key="model")
        assert model.decode_head.num_classes == cfg.model.decode_head.num_classes, path
        Compose(cfg.train_pipeline)
        Compose(cfg.test_pipeline)


@pytest.mark.filterwarnings("ignore:norm_cfg type 'SyncBN'")
def test_snippet_4_trains_with_both_losses_on_both_heads(configs_dir):
    cfg = load(configs_dir, "configs/unet/fcn_unet_s5-d16_ce-1.0-dice-3.0_64x64_40k_drive_both_heads.py")
    torch.manual_seed(0)
    model = MODELS.build(cfg.model, key="model")
    model.init_weights()
    img, label = torch.randn(2, 3, 64, 64), torch.randint(0, 2, (2, 1, 64, 64))
    metas = [dict(ori_shape=(64, 64, 3), img_shape=(64, 64, 3), pad_shape=(64, 64, 3), flip=False)] * 2
    losses = model(img, metas, label, return_loss=True)
    assert sorted(losses) == ["aux.acc_seg", "aux.loss_ce", "aux.loss_dice",
                              "decode.acc_seg", "decode.loss_ce", "decode.loss_dice"]


def test_dump_of_every_shipped_config_reloads_identically(configs_dir, tmp_path):
    for i, path in enumerate(shipped_configs(configs_dir)):
        cfg = Config.fromfile(path)
        cfg.dump(tmp_path / f"{i}.py")
        assert Config.fromfile(tmp_path / f"{i}.py").to_dict() == cfg.to_dict(), path
