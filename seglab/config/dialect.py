"""The two dialects of MMSegmentation configs, and reading a 1.x (mmengine) config as seglab's own.

seglab's engine reads one schema, the 0.x keys (``seglab.engine.run_config``). A config in the 1.x
dialect is translated into those keys when its run settings are parsed, so a 1.x config trains
exactly as its 0.x twin would: ``train_cfg.max_iters`` becomes ``runner.max_iters``,
``optim_wrapper`` becomes ``optimizer`` + ``optimizer_config``, ``*_dataloader`` become ``data``,
the 1.x transforms and ``model.data_preprocessor`` become the 0.x pipelines (``Normalize``, ``Pad``,
``DefaultFormatBundle``, ``Collect``), and so on. ``param_scheduler`` is kept as it is: the engine
runs mmengine's scheduler arithmetic itself (``seglab.engine.param_schedulers``). A loss whose
meaning changed between the lines gets the seglab name of its 1.x form (``DiceLoss`` ->
``DiceLoss1x``, ``CrossEntropyLoss`` -> ``CrossEntropyLoss1x``, whose class-weighted mean differs). Keys seglab reads but does not act on are listed in one info line.

``docs/dialects.md`` lists every mapping and difference.
"""
from __future__ import annotations

import copy
import inspect
import logging
from collections.abc import Mapping
from typing import Any

from seglab.errors import ConfigError
from seglab.registry import did_you_mean

logger = logging.getLogger("seglab")

# Top-level keys only the 1.x dialect has (``train_cfg``/``val_cfg``/``test_cfg`` count when they
# name a loop: old 0.x files had a top-level ``test_cfg=dict(mode=...)`` too).
KEYS_1X = ("optim_wrapper", "param_scheduler", "train_dataloader", "val_dataloader", "test_dataloader",
           "default_hooks", "val_evaluator", "test_evaluator", "train_cfg", "val_cfg", "test_cfg")
KEYS_0X = ("runner", "lr_config", "optimizer_config", "data", "evaluation", "checkpoint_config", "log_config",
           "total_iters", "workflow", "dist_params", "resume_from", "auto_resume", "fp16", "cudnn_benchmark")
# Read from a 1.x config, but nothing in seglab acts on them.
UNUSED_1X = ("default_scope", "log_processor", "tta_model", "tta_pipeline", "val_cfg", "test_cfg", "launcher")
# Variables 1.x config files define to build other values.
HELPERS_1X = ("crop_size", "dataset_type", "data_root", "norm_cfg", "backbone_norm_cfg", "train_pipeline",
              "test_pipeline", "img_ratios", "img_scale", "optimizer", "data_preprocessor", "checkpoint",
              "checkpoint_file", "num_classes", "pretrained")
# 1.x loss types whose meaning differs from the 0.x loss of the same name: seglab's name for them.
RENAMED_LOSSES_1X = {"DiceLoss": "DiceLoss1x", "CrossEntropyLoss": "CrossEntropyLoss1x"}
# The 0.x loss of such a name, as it may be written in a 1.x file.
RENAMED_LOSSES_0X = {"DiceLoss0x": "DiceLoss", "CrossEntropyLoss0x": "CrossEntropyLoss"}


def _names_a_loop(value: Any) -> bool:
    return isinstance(value, Mapping) and ("type" in value or "max_iters" in value or "val_interval" in value)


def keys_of_1x(cfg: Mapping[str, Any]) -> list[str]:
    found = [k for k in KEYS_1X if k in cfg and (k not in ("train_cfg", "val_cfg", "test_cfg") or _names_a_loop(cfg[k]))]
    model = cfg.get("model")
    if isinstance(model, Mapping) and "data_preprocessor" in model:
        found.append("model.data_preprocessor")
    return found


def detect_dialect(cfg: Mapping[str, Any]) -> str:
    """``'1.x'`` or ``'0.x'``; a config with keys of both is a ``ConfigError`` naming them."""
    new = keys_of_1x(cfg)
    if not new:
        return "0.x"
    old = [k for k in KEYS_0X if k in cfg]
    if old:
        raise ConfigError(f"the config mixes the MMSegmentation dialects: 1.x keys {', '.join(new)} and 0.x keys "
                          f"{', '.join(old)}; write it in one of them (seglab convert-config turns one into the "
                          "other)")
    return "1.x"


# --------------------------------------------------------------------------- 1.x -> seglab
def translate_1x(cfg: Mapping[str, Any]) -> dict[str, Any]:
    """The 0.x-keyed values of a 1.x config (see the module docstring)."""
    cfg = copy.deepcopy(dict(cfg))
    out: dict[str, Any] = {}
    model = dict(cfg.pop("model", None) or {})
    preprocessor = model.pop("data_preprocessor", None) or cfg.get("data_preprocessor") or {}
    if model:
        out["model"] = rename_losses(model, RENAMED_LOSSES_1X)
    _translate_loop(cfg, out)
    _translate_optim_wrapper(cfg.pop("optim_wrapper", None), out)
    if "param_scheduler" in cfg:
        out["param_scheduler"] = cfg.pop("param_scheduler")
    _translate_hooks(cfg.pop("default_hooks", None) or {}, out)
    _translate_vis_backends(cfg.pop("visualizer", None) or {}, cfg.pop("vis_backends", None), out)
    if "custom_hooks" in cfg:
        out["custom_hooks"] = [_translate_custom_hook(h, i) for i, h in enumerate(cfg.pop("custom_hooks") or [])]
    _translate_env(cfg.pop("env_cfg", None) or {}, cfg.pop("randomness", None) or {}, out)
    _translate_data(cfg, preprocessor, out)
    _translate_resume(cfg, out)
    unused = [k for k in UNUSED_1X if cfg.pop(k, None) is not None]
    for key in HELPERS_1X:
        cfg.pop(key, None)
    for key in ("log_level", "work_dir", "custom_imports", "load_from", "checkpoint_unsafe_load", "check_data",
                "channels_last", "compile", "amp", "reuse_freed_memory", "device"):
        if key in cfg:
            out[key] = cfg.pop(key)
    for key in cfg:
        logger.warning(f"config key {key!r} is not used by seglab."
                       f"{did_you_mean(str(key), [*KEYS_1X, *UNUSED_1X, 'env_cfg', 'randomness', 'custom_hooks'])}")
    if unused:
        logger.info(f"1.x config: {', '.join(unused)} read but not used by seglab (it logs, draws curves and "
                    "evaluates itself; multi-scale testing is seglab test --aug-test)")
    return out


def rename_losses(model: Mapping[str, Any], names: Mapping[str, str]) -> dict[str, Any]:
    """``model`` with each head's ``loss_decode`` types renamed by ``names``."""
    model = dict(model)
    for key in ("decode_head", "auxiliary_head"):
        heads = model.get(key)
        if isinstance(heads, Mapping):
            model[key] = _rename_head_losses(heads, names)
        elif isinstance(heads, (list, tuple)):
            model[key] = [_rename_head_losses(h, names) for h in heads]
    return model


def _rename_head_losses(head: Mapping[str, Any], names: Mapping[str, str]) -> dict[str, Any]:
    head = dict(head)
    losses = head.get("loss_decode")
    if isinstance(losses, Mapping):
        head["loss_decode"] = _renamed(losses, names)
    elif isinstance(losses, (list, tuple)):
        head["loss_decode"] = [_renamed(loss, names) for loss in losses]
    return head


def _renamed(loss: Mapping[str, Any], names: Mapping[str, str]) -> dict[str, Any]:
    """The loss under its other dialect's name; cross-entropy only with class weights, the one
    case where the dialects compute it differently."""
    new = names.get(loss.get("type"))
    if new is None or ("CrossEntropy" in new and loss.get("class_weight") is None):
        return dict(loss)
    return {**loss, "type": new}


def _take(section: Mapping[str, Any], where: str, known: tuple[str, ...]) -> dict[str, Any]:
    """``section`` as a dict, after checking it has only ``known`` keys (plus ``type``)."""
    if not isinstance(section, Mapping):
        raise ConfigError(f"{where} must be a dict, got {section!r}")
    for key in section:
        if key != "type" and key not in known:
            raise ConfigError(f"{where}: unknown key {key!r}.{did_you_mean(str(key), known)} "
                              f"Accepted keys: type, {', '.join(known)}")
    return dict(section)


def _translate_loop(cfg: dict, out: dict) -> None:
    loop = _take(cfg.pop("train_cfg", None) or {}, "train_cfg", ("max_iters", "val_interval", "val_begin",
                                                                 "dynamic_intervals"))
    if loop.get("type", "IterBasedTrainLoop") != "IterBasedTrainLoop":
        raise ConfigError(f"train_cfg.type={loop['type']!r}: seglab trains by iterations; use "
                          "train_cfg=dict(type='IterBasedTrainLoop', max_iters=N, val_interval=M)")
    if "dynamic_intervals" in loop:
        raise ConfigError("train_cfg.dynamic_intervals is not supported; set one val_interval")
    if "max_iters" in loop:
        out["runner"] = {"type": "IterBasedRunner", "max_iters": loop["max_iters"]}
    evaluator = cfg.pop("val_evaluator", None)
    test_evaluator = cfg.pop("test_evaluator", None)
    metric = _metrics(evaluator, "val_evaluator") if evaluator else None
    if test_evaluator and metric and _metrics(test_evaluator, "test_evaluator") != metric:
        logger.info("1.x config: test_evaluator's metrics differ from val_evaluator's; seglab test computes "
                    f"{metric} (the evaluation metrics) unless given --eval")
    if "val_dataloader" in cfg and evaluator:
        out["evaluation"] = {"interval": loop.get("val_interval", 1000), "metric": metric}
        if loop.get("val_begin"):
            out["evaluation"]["start"] = loop["val_begin"]
    elif evaluator or test_evaluator:
        out["evaluation"] = {"interval": 0, "metric": metric or _metrics(test_evaluator, "test_evaluator")}


def _metrics(evaluator: Any, where: str) -> list[str]:
    evaluator = _take(evaluator, where, ("iou_metrics", "nan_to_num", "beta", "collect_device", "output_dir",
                                         "format_only", "prefix"))
    if evaluator.get("type", "IoUMetric") != "IoUMetric":
        raise ConfigError(f"{where}.type={evaluator['type']!r}: seglab computes IoUMetric's metrics; "
                          "use type='IoUMetric'")
    return list(evaluator.get("iou_metrics", ["mIoU"]))


def _translate_optim_wrapper(wrapper: Any, out: dict) -> None:
    if wrapper is None:
        return
    wrapper = _take(wrapper, "optim_wrapper", ("optimizer", "clip_grad", "paramwise_cfg", "accumulative_counts",
                                               "dtype", "loss_scale", "constructor"))
    kind = wrapper.get("type", "OptimWrapper")
    if kind not in ("OptimWrapper", "AmpOptimWrapper"):
        raise ConfigError(f"optim_wrapper.type={kind!r} is not supported; use 'OptimWrapper' or 'AmpOptimWrapper'")
    optimizer = dict(wrapper.get("optimizer") or {})
    if "paramwise_cfg" in wrapper:
        optimizer["paramwise_cfg"] = wrapper["paramwise_cfg"]
    if "constructor" in wrapper:
        optimizer["constructor"] = wrapper["constructor"]
    out["optimizer"] = optimizer
    hook: dict[str, Any] = {}
    clip = wrapper.get("clip_grad")
    if clip:
        clip = dict(clip)
        if clip.pop("type", "norm") != "norm":
            raise ConfigError("optim_wrapper.clip_grad: only gradient-norm clipping (type='norm') is supported")
        hook["grad_clip"] = clip
    if wrapper.get("accumulative_counts", 1) != 1:
        hook["type"] = "GradientCumulativeOptimizerHook"
        hook["cumulative_iters"] = wrapper["accumulative_counts"]
    if kind == "AmpOptimWrapper":
        out["amp"] = {"dtype": wrapper.get("dtype") or "float16"}
        if "loss_scale" in wrapper:
            out["fp16"] = {"loss_scale": wrapper["loss_scale"]}
    out["optimizer_config"] = hook


def _translate_hooks(hooks: Mapping[str, Any], out: dict) -> None:
    checkpoint = hooks.get("checkpoint")
    if checkpoint:
        checkpoint = _take(checkpoint, "default_hooks.checkpoint", (
            "interval", "by_epoch", "max_keep_ckpts", "save_best", "rule", "save_last", "out_dir",
            "save_optimizer", "save_param_scheduler", "greater_keys", "less_keys", "file_client_args",
            "filename_tmpl", "backend_args", "published_keys", "save_begin"))
        out["checkpoint_config"] = {k: checkpoint[k] for k in ("interval", "by_epoch", "max_keep_ckpts", "save_last",
                                                               "out_dir", "save_optimizer") if k in checkpoint}
        for key in ("save_best", "rule"):
            if checkpoint.get(key) is not None:
                out.setdefault("evaluation", {"interval": 0})[key] = checkpoint[key]
    logger_hook = hooks.get("logger")
    if logger_hook:
        logger_hook = _take(logger_hook, "default_hooks.logger", ("interval", "log_metric_by_epoch", "ignore_last",
                                                                  "interval_exp_name", "out_dir", "out_suffix",
                                                                  "keep_local", "file_client_args", "backend_args"))
        out.setdefault("log_config", {})["interval"] = logger_hook.get("interval", 10)


def _translate_vis_backends(visualizer: Mapping[str, Any], backends: Any, out: dict) -> None:
    """mmengine's vis backends as 0.x logger hooks: TensorBoard and wandb log the same scalars
    (seglab draws its own pictures, so ``LocalVisBackend`` and the visualizer's images need nothing)."""
    hooks = []
    for i, backend in enumerate(visualizer.get("vis_backends") or backends or []):
        kind = backend.get("type")
        if kind == "TensorboardVisBackend":
            hooks.append({"type": "TensorboardLoggerHook", **({"log_dir": backend["save_dir"]}
                                                               if backend.get("save_dir") else {})})
        elif kind == "WandbVisBackend":
            hooks.append({"type": "WandbLoggerHook", **({"init_kwargs": backend["init_kwargs"]}
                                                         if backend.get("init_kwargs") else {})})
        elif kind != "LocalVisBackend":
            raise ConfigError(f"vis_backends.{i}.type={kind!r}: seglab logs to TensorboardVisBackend, "
                              "WandbVisBackend or LocalVisBackend")
    if hooks:
        out.setdefault("log_config", {})["hooks"] = [{"type": "TextLoggerHook"}, *hooks]


def _translate_custom_hook(hook: Mapping[str, Any], index: int) -> dict[str, Any]:
    """1.x custom hooks: mmengine's ``EMAHook`` arguments become seglab's; others pass as they are."""
    hook = dict(hook)
    if hook.get("type") != "EMAHook":
        return hook
    where = f"custom_hooks.{index}"
    if hook.pop("ema_type", "ExponentialMovingAverage") != "ExponentialMovingAverage":
        raise ConfigError(f"{where}: seglab's EMAHook is ema_type='ExponentialMovingAverage'")
    if hook.pop("update_buffers", False):
        raise ConfigError(f"{where}: update_buffers=True is not supported (buffers are copied, as mmengine's default)")
    for key in ("strict_load", "begin_iter", "begin_epoch"):
        if hook.pop(key, None) not in (None, False, 0):
            raise ConfigError(f"{where}.{key} is not supported by seglab's EMAHook")
    hook.setdefault("warm_up", 1)  # mmengine's average has no warm-up
    return hook


def _translate_env(env: Mapping[str, Any], randomness: Mapping[str, Any], out: dict) -> None:
    env = _take(env, "env_cfg", ("cudnn_benchmark", "mp_cfg", "dist_cfg", "resource_limit"))
    if "cudnn_benchmark" in env:
        out["cudnn_benchmark"] = env["cudnn_benchmark"]
    mp = env.get("mp_cfg") or {}
    if mp.get("mp_start_method") is not None:
        out["mp_start_method"] = mp["mp_start_method"]
    if mp.get("opencv_num_threads") is not None:
        out["opencv_num_threads"] = mp["opencv_num_threads"]
    if (env.get("dist_cfg") or {}).get("backend"):
        out["dist_params"] = {"backend": env["dist_cfg"]["backend"]}
    randomness = _take(randomness, "randomness", ("seed", "deterministic", "diff_rank_seed"))
    for key in ("seed", "deterministic"):
        if randomness.get(key) is not None:
            out[key] = randomness[key]
    if randomness.get("diff_rank_seed"):
        raise ConfigError("randomness.diff_rank_seed=True is not supported: seglab seeds every sample from its "
                          "position in the stream, the same on every rank")


def _translate_resume(cfg: dict, out: dict) -> None:
    resume = cfg.pop("resume", False)
    load_from = cfg.pop("load_from", None)
    if resume and load_from:
        out["resume_from"] = load_from
    elif resume:
        out["auto_resume"] = True
    elif load_from:
        out["load_from"] = load_from


# --------------------------------------------------------------------------- data
def _translate_data(cfg: dict, preprocessor: Mapping[str, Any], out: dict) -> None:
    data: dict[str, Any] = {}
    for split in ("train", "val", "test"):
        loader = cfg.pop(f"{split}_dataloader", None)
        if not loader:
            continue
        loader = _take(loader, f"{split}_dataloader", ("batch_size", "num_workers", "persistent_workers",
                                                       "sampler", "dataset", "collate_fn", "pin_memory",
                                                       "drop_last"))
        if split == "train":
            data["samples_per_gpu"] = loader.get("batch_size", 2)
            data["workers_per_gpu"] = loader.get("num_workers", 2)
            data["persistent_workers"] = loader.get("persistent_workers", True)
            data["shuffle"] = (loader.get("sampler") or {}).get("shuffle", True)
        elif loader.get("batch_size", 1) != 1:
            logger.info(f"1.x config: {split}_dataloader.batch_size={loader['batch_size']}: seglab evaluates one "
                        "image at a time (its windows are batched)")
        if split != "train":
            data[f"{split}_dataloader"] = {"workers_per_gpu": loader.get("num_workers", 2)}
        data[split] = _translate_dataset(loader.get("dataset") or {}, f"{split}_dataloader.dataset",
                                         preprocessor, train=split == "train")
    if data:
        out["data"] = data


def _translate_dataset(ds: Mapping[str, Any], where: str, preprocessor: Mapping[str, Any], *, train: bool) -> dict:
    ds = dict(ds)
    if ds.get("type") == "RepeatDataset":
        return {"type": "RepeatDataset", "times": ds.get("times"),
                "dataset": _translate_dataset(ds.get("dataset") or {}, f"{where}.dataset", preprocessor, train=train)}
    prefix = ds.pop("data_prefix", None) or {}
    pipeline = list(ds.pop("pipeline", None) or [])
    out = {"type": ds.pop("type", None)}
    for key in ("data_root", "img_suffix", "seg_map_suffix", "reduce_zero_label", "ignore_index",
                "label_value_map"):
        if key in ds:
            out[key] = ds.pop(key)
    out["img_dir"] = prefix.get("img_path", "")
    if "seg_map_path" in prefix:
        out["ann_dir"] = prefix["seg_map_path"]
    if ds.get("ann_file"):
        out["split"] = ds["ann_file"]
    metainfo = ds.pop("metainfo", None) or {}
    if "classes" in metainfo:
        out["classes"] = list(metainfo["classes"])
    if "palette" in metainfo:
        out["palette"] = [list(c) for c in metainfo["palette"]]
    for key in ("ann_file", "serialize_data", "lazy_init", "backend_args", "max_refetch", "test_mode", "indices"):
        ds.pop(key, None)
    if ds:
        raise ConfigError(f"{where}: the 1.x dataset keys {', '.join(map(repr, ds))} are not supported")
    reduce_zero_label = out.get("reduce_zero_label", dataset_default(out["type"], "reduce_zero_label", False))
    for i, step in enumerate(pipeline):
        # 1.x reads one flag: LoadAnnotations asserts it has the dataset's (seglab would drop the test
        # pipeline's and evaluate on other label ids than it trains on)
        if step.get("type") == "LoadAnnotations" and step.get("reduce_zero_label") not in (None, reduce_zero_label):
            raise ConfigError(f"{where}.pipeline.{i}: LoadAnnotations has reduce_zero_label="
                              f"{step['reduce_zero_label']} but the dataset {out['type']} has reduce_zero_label="
                              f"{reduce_zero_label}; MMSegmentation 1.x requires them to agree: set "
                              "reduce_zero_label in the dataset")
    translate = translate_train_pipeline if train else translate_test_pipeline
    out["pipeline"] = translate(pipeline, preprocessor, reduce_zero_label, f"{where}.pipeline")
    return out


def dataset_default(dataset_type: Any, key: str, fallback: Any) -> Any:
    """The default of ``key`` in the constructor of a registered dataset type (its class's own
    default, e.g. ADE20K's ``reduce_zero_label=True``)."""
    from seglab.registry import DATASETS

    if not isinstance(dataset_type, str) or dataset_type not in DATASETS:
        return fallback
    for cls in DATASETS.get(dataset_type).__mro__:
        param = inspect.signature(cls.__init__).parameters.get(key) if "__init__" in vars(cls) else None
        if param is not None and param.default is not param.empty:
            return param.default
    return fallback


def _normalize(preprocessor: Mapping[str, Any]) -> list[dict]:
    if preprocessor.get("mean") is None:
        return []
    return [{"type": "Normalize", "mean": list(preprocessor["mean"]), "std": list(preprocessor["std"]),
             "to_rgb": bool(preprocessor.get("bgr_to_rgb", False) or preprocessor.get("rgb_to_bgr", False))}]


def _load_annotations(step: dict, reduce_zero_label: bool) -> dict:
    out = {"type": "LoadAnnotations", "reduce_zero_label": bool(
        reduce_zero_label if step.get("reduce_zero_label") is None else step["reduce_zero_label"])}
    if "imdecode_backend" in step:
        out["imdecode_backend"] = step["imdecode_backend"]
    return out


def _resize(step: dict, where: str) -> dict:
    """1.x ``Resize``/``RandomResize`` as 0.x's ``Resize`` (scales are ``(w, h)`` in both)."""
    out: dict[str, Any] = {"type": "Resize", "keep_ratio": step.get("keep_ratio", step["type"] == "RandomResize")}
    scale = step.get("scale")
    if step.get("scale_factor") is not None:
        factor = step["scale_factor"]
        out.update(img_scale=None, ratio_range=(factor, factor) if not isinstance(factor, (list, tuple)) else factor)
    elif step["type"] == "RandomResize" and step.get("ratio_range") is None:
        out.update(img_scale=[tuple(s) for s in scale], multiscale_mode="range")
    else:
        out["img_scale"] = tuple(scale)
        if step.get("ratio_range") is not None:
            out["ratio_range"] = tuple(step["ratio_range"])
    unknown = set(step) - {"type", "scale", "scale_factor", "ratio_range", "keep_ratio", "resize_type",
                           "clip_object_border", "backend", "interpolation"}
    if unknown:
        raise ConfigError(f"{where}: {step['type']} keys {', '.join(sorted(unknown))} are not supported")
    return out


_SAME_IN_BOTH = ("LoadImageFromFile", "RandomCrop", "RandomFlip", "PhotoMetricDistortion", "RandomRotate",
                 "CLAHE", "RGB2Gray", "AdjustGamma", "RandomCutOut", "Pad")


def _common_step(step: dict, reduce_zero_label: bool, where: str) -> dict:
    kind = step.get("type")
    if kind == "LoadAnnotations":
        return _load_annotations(step, reduce_zero_label)
    if kind in ("Resize", "RandomResize"):
        return _resize(step, where)
    if kind in _SAME_IN_BOTH:
        step = {k: v for k, v in step.items() if k != "backend_args"}
        if kind == "RandomFlip" and isinstance(step.get("prob"), (list, tuple)):
            raise ConfigError(f"{where}: RandomFlip with a list of probabilities is not supported")
        return step
    raise ConfigError(f"{where}: the 1.x transform {kind!r} has no seglab counterpart")


def translate_train_pipeline(steps: list, preprocessor: Mapping[str, Any], reduce_zero_label: bool,
                             where: str) -> list[dict]:
    """A 1.x training pipeline as 0.x's: ``PackSegInputs`` becomes the preprocessor's ``Normalize``
    and ``Pad`` (to its ``size``), then ``DefaultFormatBundle`` and ``Collect``."""
    out = []
    for i, step in enumerate(map(dict, steps)):
        if step.get("type") == "PackSegInputs":
            out += _normalize(preprocessor)
            if preprocessor.get("size") is not None or preprocessor.get("size_divisor") is not None:
                pad = {"type": "Pad", "pad_val": preprocessor.get("pad_val", 0),
                       "seg_pad_val": preprocessor.get("seg_pad_val", 255)}
                pad.update({"size": tuple(preprocessor["size"])} if preprocessor.get("size") is not None
                           else {"size_divisor": preprocessor["size_divisor"]})
                out.append(pad)
            out += [{"type": "DefaultFormatBundle"}, {"type": "Collect", "keys": ["img", "gt_semantic_seg"]}]
        else:
            out.append(_common_step(step, reduce_zero_label, f"{where}.{i}"))
    return out


def translate_test_pipeline(steps: list, preprocessor: Mapping[str, Any], reduce_zero_label: bool,
                            where: str) -> list[dict]:
    """A 1.x test pipeline (load, ``Resize``, ``LoadAnnotations``, ``PackSegInputs``) as 0.x's:
    load, then ``MultiScaleFlipAug`` at the ``Resize`` scale (labels are read by the dataset)."""
    load = [dict(s) for s in steps if s.get("type") == "LoadImageFromFile"]
    resizes = [_resize(dict(s), f"{where}.{i}") for i, s in enumerate(steps) if s.get("type") in ("Resize",)]
    others = [s.get("type") for s in steps
              if s.get("type") not in ("LoadImageFromFile", "Resize", "LoadAnnotations", "PackSegInputs")]
    if others or len(resizes) > 1 or not load:
        raise ConfigError(f"{where}: a 1.x test pipeline must be LoadImageFromFile, Resize, LoadAnnotations, "
                          f"PackSegInputs; it has {', '.join(map(str, others)) or 'no LoadImageFromFile'}")
    resize = resizes[0] if resizes else {"type": "Resize", "img_scale": None, "ratio_range": (1.0, 1.0)}
    scale = resize.pop("img_scale", None)
    inner = [resize, {"type": "RandomFlip"}, *_normalize(preprocessor), {"type": "ImageToTensor", "keys": ["img"]},
             {"type": "Collect", "keys": ["img"]}]
    aug: dict[str, Any] = {"type": "MultiScaleFlipAug", "img_scale": scale, "flip": False, "transforms": inner}
    if scale is None:
        aug["img_ratios"] = [resize.pop("ratio_range")[0]]
    return [{k: v for k, v in load[0].items() if k != "backend_args"}, aug]
