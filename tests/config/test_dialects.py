"""MMSegmentation 1.x configs: read as they are, trained like their 0.x twins, converted both ways."""
from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
import torch

from seglab.cli import main
from seglab.cli.lr_table import rows
from seglab.config import Config, load_config
from seglab.config.convert import convert
from seglab.data.transforms import Compose
from seglab.engine.optimizer import param_settings
from seglab.engine.run_config import parse_run_config
from seglab.engine.schedules import build_schedule
from seglab.errors import ConfigError
from seglab.registry import MODELS

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures"
REFERENCE_1X = json.loads((FIXTURES / "mmseg1x" / "resolved-configs.json").read_text())
# MMSegmentation 1.x config -> (seglab's copy of it, the 0.x config of the same training)
SHIPPED = {
    "pspnet/pspnet_r50-d8_4xb2-40k_cityscapes-512x1024.py": "pspnet/pspnet_r50-d8_512x1024_40k_cityscapes.py",
    "deeplabv3/deeplabv3_r50-d8_4xb2-40k_cityscapes-512x1024.py":
        "deeplabv3/deeplabv3_r50-d8_512x1024_40k_cityscapes.py",
    "deeplabv3plus/deeplabv3plus_r50-d8_4xb2-40k_cityscapes-512x1024.py":
        "deeplabv3plus/deeplabv3plus_r50-d8_512x1024_40k_cityscapes.py",
    "unet/unet-s5-d16_fcn_4xb4-40k_drive-64x64.py": "unet/fcn_unet_s5-d16_64x64_40k_drive.py",
    "unet/unet-s5-d16_fcn_4xb4-ce-1.0-dice-3.0-40k_drive-64x64.py":
        "unet/fcn_unet_s5-d16_ce-1.0-dice-3.0_64x64_40k_drive.py",
    "upernet/upernet_r50_4xb2-40k_cityscapes-512x1024.py": "upernet/upernet_r50_512x1024_40k_cityscapes.py",
    "segformer/segformer_mit-b0_8xb2-160k_ade20k-512x512.py": "segformer/segformer_mit-b0_512x512_160k_ade20k.py",
    "segformer/segformer_mit-b5_8xb2-160k_ade20k-512x512.py": "segformer/segformer_mit-b5_512x512_160k_ade20k.py",
    "swin/swin-tiny-patch4-window7-in1k-pre_upernet_8xb2-160k_ade20k-512x512.py":
        "swin/upernet_swin_tiny_patch4_window7_512x512_160k_ade20k_pretrain_224x224_1K.py",
}


def configs_0x() -> list[Path]:
    return sorted(p for p in (ROOT / "configs").rglob("*.py") if "_base_" not in p.parts and "mmseg1x" not in p.parts)


def configs_1x() -> list[Path]:
    return sorted(p for p in (ROOT / "configs" / "mmseg1x").rglob("*.py") if "_base_" not in p.parts)


# ---------------------------------------------------------------- reading
@pytest.mark.parametrize("name", list(SHIPPED))
def test_shipped_1x_configs_resolve_as_mmsegmentation_resolves_them(name):
    ours = json.loads(json.dumps(Config.fromfile(str(ROOT / "configs" / "mmseg1x" / name)).to_dict()))
    ours.pop("data_root")  # a helper variable the reference file leaves out
    assert ours == REFERENCE_1X[name]


def _plain(value):
    """Tuples as lists, as in the JSON reference."""
    return json.loads(json.dumps(value))


def _pipelines(run) -> dict[str, str]:
    out = {}
    for split, ds in run.data.splits().items():
        while ds.get("type") == "RepeatDataset":
            ds = ds["dataset"]
        out[split] = repr(Compose(ds["pipeline"]))
    return out


@pytest.mark.parametrize("name", list(SHIPPED))
def test_a_1x_config_trains_like_its_0x_twin(name):
    new = parse_run_config(Config(REFERENCE_1X[name]))
    old = parse_run_config(Config.fromfile(str(ROOT / "configs" / SHIPPED[name])))
    model = json.dumps(new.model).replace('"DiceLoss1x"', '"DiceLoss"')  # 1.x's Dice, under seglab's name
    assert json.loads(model) == _plain(old.model)
    assert _pipelines(new) == _pipelines(old)
    assert new.data.loader("train") == old.data.loader("train")  # val workers differ: 4 in 1.x, no result does
    assert new.data.loader("val").samples_per_gpu == old.data.loader("val").samples_per_gpu == 1
    assert (new.max_iters, new.optimizer_config) == (old.max_iters, old.optimizer_config)
    assert _plain(new.optimizer) == _plain(old.optimizer)  # betas=(0.9, 0.999) is a list in the JSON reference
    assert new.checkpoint_config == old.checkpoint_config and new.log_config.interval == old.log_config.interval
    assert (new.evaluation.interval, new.evaluation.metric) == (old.evaluation.interval,
                                                                [old.evaluation.metric])
    # The schedules differ (docs/dialects.md, Schedules): 1.x's PolyLR reaches eta_min at end - 1, 0.x's poly
    # at max_iters; and where the recipe warms up (SegFormer, Swin), 1.x's PolyLR begins after the warm-up
    # and decays from the full lr, where 0.x's warm-up scales the lr decayed since iteration 0.
    new_lr = build_schedule(new.lr_config, new.param_scheduler, new.max_iters)
    old_lr = build_schedule(old.lr_config, old.param_scheduler, old.max_iters)
    lr0, steps = old.optimizer["lr"], old.max_iters
    power, min_lr, warmup = old.lr_config["power"], old.lr_config["min_lr"], old.lr_config.get("warmup_iters", 0)
    assert new_lr.lr_at(0, lr0) == pytest.approx(old_lr.lr_at(0, lr0), rel=1e-9)
    assert new_lr.lr_at(steps - 1, lr0) == pytest.approx(min_lr)
    assert old_lr.lr_at(steps - 1, lr0) == pytest.approx(min_lr + (lr0 - min_lr) * steps ** -power)
    if warmup:
        assert new_lr.lr_at(warmup, lr0) == pytest.approx(lr0)
        assert old_lr.lr_at(warmup, lr0) == pytest.approx(min_lr + (lr0 - min_lr) * (1 - warmup / steps) ** power)


@pytest.mark.parametrize("name", list(SHIPPED))
def test_a_0x_twin_converts_to_the_datasets_of_its_1x_config(name):
    as_1x, _ = convert(Config.fromfile(str(ROOT / "configs" / SHIPPED[name])), "1.x")
    for split in ("train", "val", "test"):
        # ADE20K's test LoadAnnotations says reduce_zero_label=True, as MMSegmentation 1.x writes it
        assert _plain(as_1x[f"{split}_dataloader"]["dataset"]) == REFERENCE_1X[name][f"{split}_dataloader"]["dataset"]


def test_losses_whose_meaning_changed_are_built_in_their_1x_form():
    run = parse_run_config(Config(REFERENCE_1X["unet/unet-s5-d16_fcn_4xb4-ce-1.0-dice-3.0-40k_drive-64x64.py"]))
    assert [loss["type"] for loss in run.model["decode_head"]["loss_decode"]] == ["CrossEntropyLoss", "DiceLoss1x"]
    weighted = parse_run_config(Config.fromfile(str(
        ROOT / "configs/mmseg1x/pspnet/pspnet_r50-d8_4xb2-40k_cityscapes-512x1024_class_weight.py")))
    assert weighted.model["decode_head"]["loss_decode"]["type"] == "CrossEntropyLoss1x"
    assert weighted.model["auxiliary_head"]["loss_decode"]["type"] == "CrossEntropyLoss"  # no weights: the same loss


def test_0x_losses_keep_their_values_in_a_1x_file_under_their_0x_names():
    as_1x, notes = convert(Config.fromfile(str(
        ROOT / "configs/pspnet/pspnet_r50-d8_512x1024_40k_cityscapes_class_weight.py")), "1.x")
    assert as_1x["model"]["decode_head"]["loss_decode"]["type"] == "CrossEntropyLoss0x"
    assert as_1x["model"]["auxiliary_head"]["loss_decode"]["type"] == "CrossEntropyLoss"
    assert any("CrossEntropyLoss0x" in note for note in notes)
    built = parse_run_config(Config(as_1x)).model["decode_head"]["loss_decode"]["type"]
    assert MODELS.get(built) is MODELS.get("CrossEntropyLoss")  # the 0.x class, under its alias


def test_a_config_mixing_the_dialects_names_the_keys_of_each():
    with pytest.raises(ConfigError, match="1.x keys optim_wrapper and 0.x keys runner, lr_config"):
        parse_run_config({"optim_wrapper": {}, "runner": {"max_iters": 2}, "lr_config": {"policy": "poly"}})


def test_1x_keys_seglab_does_not_use_are_named_in_one_info_line(caplog):
    cfg = dict(REFERENCE_1X["unet/unet-s5-d16_fcn_4xb4-40k_drive-64x64.py"])
    with caplog.at_level("INFO", logger="seglab"):
        parse_run_config(Config(cfg))
    [line] = [r.message for r in caplog.records if "read but not used by seglab" in r.message]
    for key in ("default_scope", "log_processor", "tta_model", "tta_pipeline"):
        assert key in line
    assert not [r for r in caplog.records if r.levelname == "WARNING"]


def test_1x_vis_backends_become_logger_hooks_and_back():
    cfg = dict(REFERENCE_1X["unet/unet-s5-d16_fcn_4xb4-40k_drive-64x64.py"])
    backends = [dict(type="LocalVisBackend"), dict(type="TensorboardVisBackend", save_dir="tb"),
                dict(type="WandbVisBackend", init_kwargs=dict(project="p"))]
    cfg["visualizer"] = dict(cfg["visualizer"], vis_backends=backends)
    run = parse_run_config(Config(cfg))
    assert run.log_config.hooks == [dict(type="TextLoggerHook"), dict(type="TensorboardLoggerHook", log_dir="tb"),
                                    dict(type="WandbLoggerHook", init_kwargs=dict(project="p"))]
    assert convert(Config(cfg), "1.x")[0]["vis_backends"] == backends


def test_1x_run_settings_map_onto_the_run_schema():
    cfg = dict(REFERENCE_1X["unet/unet-s5-d16_fcn_4xb4-40k_drive-64x64.py"])
    cfg.update(optim_wrapper=dict(type="AmpOptimWrapper", dtype="bfloat16", optimizer=cfg["optimizer"],
                                  clip_grad=dict(max_norm=35, norm_type=2), accumulative_counts=2),
               randomness=dict(seed=5, deterministic=True), resume=True, load_from="a.pth",
               custom_hooks=[dict(type="EMAHook", ema_type="ExponentialMovingAverage", momentum=0.001)])
    cfg["default_hooks"] = dict(cfg["default_hooks"], checkpoint=dict(type="CheckpointHook", by_epoch=False,
                                interval=100, max_keep_ckpts=2, save_best="mDice"))
    run = parse_run_config(Config(cfg))
    assert run.amp.dtype == "bfloat16" and run.optimizer_config.grad_clip.max_norm == 35
    assert run.optimizer_config.type == "GradientCumulativeOptimizerHook" and run.optimizer_config.cumulative_iters == 2
    assert (run.seed, run.deterministic, run.resume_from) == (5, True, "a.pth")
    assert run.custom_hooks == [dict(type="EMAHook", momentum=0.001, warm_up=1)]
    assert (run.checkpoint_config.interval, run.checkpoint_config.max_keep_ckpts) == (100, 2)
    assert run.evaluation.save_best == "mDice" and run.evaluation.interval == 4000
    assert (run.cudnn_benchmark, run.mp_start_method, run.dist_params.backend) == (True, "fork", "nccl")


def test_1x_misspelled_keys_are_named():
    cfg = dict(REFERENCE_1X["unet/unet-s5-d16_fcn_4xb4-40k_drive-64x64.py"])
    cfg["train_cfg"] = dict(cfg["train_cfg"], max_iter=5)
    with pytest.raises(ConfigError, match="train_cfg: unknown key 'max_iter'. Did you mean 'max_iters'"):
        parse_run_config(Config(cfg))


def test_1x_load_annotations_must_reduce_zero_label_as_its_dataset_does():
    ade = REFERENCE_1X["segformer/segformer_mit-b0_8xb2-160k_ade20k-512x512.py"]
    run = parse_run_config(Config(ade))  # LoadAnnotations(reduce_zero_label=True), ADE20K's default
    assert run.data.splits()["train"]["pipeline"][1] == {"type": "LoadAnnotations", "reduce_zero_label": True}
    cfg = json.loads(json.dumps(ade))
    cfg["val_dataloader"]["dataset"]["pipeline"][2]["reduce_zero_label"] = False
    with pytest.raises(ConfigError, match=r"val_dataloader.dataset.pipeline.2: LoadAnnotations has "
                                          r"reduce_zero_label=False but the dataset ADE20KDataset has "
                                          r"reduce_zero_label=True"):
        parse_run_config(Config(cfg))
    cfg = json.loads(json.dumps(REFERENCE_1X["upernet/upernet_r50_4xb2-40k_cityscapes-512x1024.py"]))
    cfg["train_dataloader"]["dataset"]["pipeline"][1]["reduce_zero_label"] = True
    with pytest.raises(ConfigError, match="train_dataloader.dataset.pipeline.1: .* MMSegmentation 1.x requires"):
        parse_run_config(Config(cfg))
    cfg["train_dataloader"]["dataset"]["reduce_zero_label"] = True  # said by the dataset too: as 1.x, accepted
    assert parse_run_config(Config(cfg)).data.splits()["train"]["pipeline"][1]["reduce_zero_label"] is True


# ---------------------------------------------------------------- lr schedules
def test_lr_table_gives_mmengines_lrs(tmp_path, capsys, fixtures_dir):
    reference = json.loads((fixtures_dir / "mmseg1x" / "reference-numbers-1x.json").read_text())["lr"]
    config = ROOT / "configs" / "mmseg1x" / "unet" / "unet-s5-d16_fcn_4xb4-40k_drive-64x64.py"
    overrides = [f"optim_wrapper={reference['optim_wrapper']!r}", f"param_scheduler={reference['param_scheduler']!r}",
                 "train_cfg.max_iters=400"]
    for iteration, expected in reference["lr_at_iter"].items():
        assert main(["lr-table", str(config), "--json", "--iter", iteration, "--cfg-options", *overrides]) == 0
        table = {row["name"]: row for row in json.loads(capsys.readouterr().out)}
        for name, lr in expected.items():
            assert table[name]["lr"] == pytest.approx(lr, rel=1e-12), (iteration, name)
            assert table[name]["weight_decay"] == reference["params"][name]["weight_decay"]


def test_1x_schedulers_the_run_stops_before_finishing_are_named(seglab_log):
    # mmengine keeps a scheduler's end when max_iters is shortened; training and lr-table say so and
    # how to fit it, inference (which parses the same config) does not
    config = ROOT / "configs" / "mmseg1x" / "unet" / "unet-s5-d16_fcn_4xb4-40k_drive-64x64.py"
    chain = [dict(type="LinearLR", start_factor=0.1, by_epoch=False, begin=0, end=500),
             dict(type="PolyLR", eta_min=1e-4, power=0.9, by_epoch=False, begin=500, end=40000)]
    options = ["train_cfg.max_iters=400", f"param_scheduler={chain!r}"]
    assert main(["lr-table", str(config), "--cfg-options", *options]) == 0
    first, second = [r.message for r in seglab_log.records if r.message.startswith("param_scheduler.")]
    assert first.startswith("param_scheduler.0 (LinearLR, begin=0, end=500) ends after the run's last iteration")
    assert first.endswith("--cfg-options param_scheduler.0.end=400")
    assert second.startswith("param_scheduler.1 (PolyLR, begin=500, end=40000) begins after") and "never acts" in second
    seglab_log.clear()
    fitted = [dict(chain[0], end=400)]  # the suggested fix
    assert main(["lr-table", str(config), "--cfg-options", options[0], f"param_scheduler={fitted!r}"]) == 0
    parse_run_config(load_config(str(config), {"train_cfg.max_iters": 400}))  # as seglab test and infer do
    assert not [r for r in seglab_log.records if r.levelname == "WARNING"]


def _meta_model(cfg: Config) -> torch.nn.Module:
    """The config's model with its parameters on the ``meta`` device: names and shapes without the
    memory or the initialisation (SegFormer-B5 and Swin-T take seconds to build on a CPU)."""
    with torch.device("meta"):
        return MODELS.build(parse_run_config(cfg).model, key="model")


def _lr_rows(cfg: Config, iterations: list[int]) -> list:
    run = parse_run_config(cfg)
    settings = param_settings(_meta_model(cfg), run.optimizer)
    schedule = build_schedule(run.lr_config, run.param_scheduler, run.max_iters)
    return [rows(settings, schedule, it) for it in iterations]


def _checkpoints(cfg) -> list[int]:
    lr_config = parse_run_config(cfg).lr_config or {}
    warmup = lr_config.get("warmup_iters", 0)
    return sorted({0, 1, warmup, parse_run_config(cfg).max_iters - 1})


def _state_shapes(cfg: Config) -> dict[str, tuple]:
    return {k: tuple(v.shape) for k, v in _meta_model(cfg).state_dict().items()}


@pytest.mark.parametrize("path", configs_0x(), ids=lambda p: p.name)
def test_0x_configs_convert_to_1x_and_back_with_the_same_lrs_and_model(path):
    original = Config.fromfile(str(path))
    as_1x, _ = convert(original, "1.x")
    back, _ = convert(Config(as_1x), "0.x")
    iterations = _checkpoints(original)
    expected = _lr_rows(original, iterations)
    for got in (_lr_rows(Config(as_1x), iterations), _lr_rows(Config(back), iterations)):
        for rows_expected, rows_got in zip(expected, got):
            assert [r["name"] for r in rows_got] == [r["name"] for r in rows_expected]
            for a, b in zip(rows_expected, rows_got):
                assert b["lr"] == pytest.approx(a["lr"], rel=1e-9) and b["weight_decay"] == a["weight_decay"]
    shapes = _state_shapes(original)
    assert _state_shapes(Config(as_1x)) == shapes and _state_shapes(Config(back)) == shapes
    assert _pipelines(parse_run_config(Config(as_1x))) == _pipelines(parse_run_config(original))


@pytest.mark.parametrize("path", configs_1x(), ids=lambda p: p.name)
def test_1x_configs_convert_to_0x_with_the_same_model_and_pipelines(path):
    original = Config.fromfile(str(path))
    as_0x, notes = convert(original, "0.x")
    run, converted = parse_run_config(original), parse_run_config(Config(as_0x))
    assert _plain(converted.model) == _plain(run.model) and _pipelines(converted) == _pipelines(run)
    assert any("param_scheduler -> lr_config" in note for note in notes)  # mmengine ends PolyLR a step early


def test_convert_config_writes_a_loadable_file_with_its_notes(tmp_path, capsys):
    out = tmp_path / "psp_0x.py"
    config = ROOT / "configs" / "mmseg1x" / "pspnet" / "pspnet_r50-d8_4xb2-40k_cityscapes-512x1024.py"
    assert main(["convert-config", str(config), "--to", "0.x", "--out", str(out)]) == 0
    text = out.read_text()
    assert text.startswith("# pspnet_r50-d8_4xb2-40k_cityscapes-512x1024.py, converted by seglab convert-config")
    assert "# note: param_scheduler -> lr_config" in text and "note: param_scheduler" in capsys.readouterr().err
    assert parse_run_config(Config.fromfile(str(out))).lr_config["policy"] == "poly"


# ---------------------------------------------------------------- training
SMALL_1X = ["model.backbone.base_channels=8", "model.decode_head.in_channels=8", "model.decode_head.channels=8",
            "model.auxiliary_head.in_channels=16", "model.auxiliary_head.channels=8",
            "train_dataloader.num_workers=0", "train_dataloader.batch_size=2", "train_cfg.max_iters=3",
            "train_cfg.val_interval=3", "default_hooks.logger.interval=1", "default_hooks.checkpoint.interval=3",
            "val_dataloader.dataset.pipeline.1.scale=(146,141)", "val_dataloader.num_workers=0"]


def test_the_tricks_in_1x_form_train_on_drive(drive_root, tmp_path):
    config = ROOT / "configs" / "mmseg1x" / "unet" / "unet-s5-d16_fcn_4xb4-ce-1.0-dice-3.0-40k_drive-64x64.py"
    work_dir = tmp_path / "run"
    assert main(["train", str(config), "--work-dir", str(work_dir), "--no-progress", "--data-root", str(drive_root),
                 "--cfg-options", *SMALL_1X,
                 "optim_wrapper.paramwise_cfg={'custom_keys': {'head': {'lr_mult': 10.0}}}",
                 "model.decode_head.sampler={'type': 'OHEMPixelSampler', 'thresh': 0.7, 'min_kept': 100}",
                 "model.decode_head.loss_decode.0.class_weight=[0.5,2.0]"]) == 0
    [log] = work_dir.glob("*.log.json")
    records = [json.loads(line) for line in log.read_text().splitlines()]
    train = [r for r in records if r.get("mode") == "train"]
    assert len(train) == 3
    for r in train:
        assert r["lr_head"] == pytest.approx(10 * r["lr_default"])
        assert 0 < r["decode.ohem_kept"] <= 1
        assert r["loss"] == pytest.approx(r["decode.loss_ce"] + r["decode.loss_dice"] + r["aux.loss_ce"], rel=1e-4)
    [val] = [r for r in records if r.get("mode") == "val"]
    assert "mDice" in val and "Dice.vessel" in val
    assert (work_dir / "iter_3.pth").is_file()


def test_a_1x_checkpoint_loads_with_its_dataset_meta(tmp_path):
    from seglab.engine.inference import init_segmentor

    config = ROOT / "configs" / "mmseg1x" / "unet" / "unet-s5-d16_fcn_4xb4-40k_drive-64x64.py"
    cfg = Config.fromfile(str(config))
    model = MODELS.build(parse_run_config(cfg).model, key="model")
    ckpt = {"meta": {"dataset_meta": {"classes": ("background", "vessel"), "palette": [[1, 2, 3], [4, 5, 6]]},
                     "mmseg_version": "1.2.2", "iter": 40000},
            "state_dict": model.state_dict(), "message_hub": {}, "param_schedulers": []}
    torch.save(ckpt, tmp_path / "iter_40000.pth")
    loaded = init_segmentor(cfg, str(tmp_path / "iter_40000.pth"), device="cpu")
    assert loaded.CLASSES == ("background", "vessel") and loaded.PALETTE == [[1, 2, 3], [4, 5, 6]]
    assert all(torch.equal(loaded.state_dict()[k], v) for k, v in model.state_dict().items())
