"""``seglab convert-config``: a config in the other MMSegmentation dialect, for the same training.

``to_1x(cfg)`` and ``to_0x(cfg)`` return ``(values, notes)``: the fully resolved values in the
target dialect, and one note per setting that has no exact counterpart there, saying what was
chosen. Read from either dialect, the result trains the same model on the same data pipeline with
the same per-parameter lr at every iteration, except where a note says otherwise.

The lr schedule is where the dialects differ most. 0.x's ``poly`` decays over ``runner.max_iters``
and its warm-up *multiplies* the decayed lr; an mmengine chain reproduces that exactly with
``PolyLR(begin=0, end=max_iters + 1)`` (mmengine reaches ``eta_min`` at ``end - 1``) and a
``LinearLR``/``ConstantLR`` over ``[0, warmup_iters + 1)``, as long as ``min_lr`` is 0 during the
warm-up. MMSegmentation's own 1.x configs restart ``PolyLR`` after the warm-up and end it one step
early; converting those to 0.x keeps the closest 0.x schedule, and the note gives the largest
difference of the lr over the run.
"""
from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from seglab.config.dialect import (RENAMED_LOSSES_0X, RENAMED_LOSSES_1X, dataset_default, detect_dialect, rename_losses,
                                   translate_1x)
from seglab.errors import ConfigError

# 0.x keys seglab adds that both dialects read as they are.
SEGLAB_KEYS = ("channels_last", "compile", "reuse_freed_memory", "check_data", "checkpoint_unsafe_load", "device",
               "custom_imports", "work_dir", "log_level")
_STANDARD_HOOKS = {"timer": {"type": "IterTimerHook"}, "param_scheduler": {"type": "ParamSchedulerHook"},
                   "sampler_seed": {"type": "DistSamplerSeedHook"}, "visualization": {"type": "SegVisualizationHook"}}


def convert(cfg: Mapping[str, Any], to: str) -> tuple[dict[str, Any], list[str]]:
    """``cfg`` in dialect ``to`` (``'0.x'`` or ``'1.x'``), with notes (see the module docstring)."""
    if to not in ("0.x", "1.x"):
        raise ConfigError(f"--to must be '0.x' or '1.x', got {to!r}")
    source = detect_dialect(cfg)
    values = translate_1x(cfg) if source == "1.x" else copy.deepcopy(dict(cfg))
    return to_0x(values) if to == "0.x" else to_1x(values)


# --------------------------------------------------------------------------- to 0.x
def to_0x(values: Mapping[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """Translated (0.x-keyed) values as a plain 0.x config: the schedule as ``lr_config``."""
    values, notes = dict(values), []
    schedule = values.pop("param_scheduler", None)
    if schedule is not None:
        values["lr_config"], note = lr_config_of(schedule, values["runner"]["max_iters"])
        notes += note
    losses = _loss_types(values.get("model") or {})
    if "DiceLoss1x" in losses:
        notes.append("model: MMSegmentation 1.x's DiceLoss has no 0.x counterpart; kept as seglab's DiceLoss1x "
                     "(0.x's DiceLoss computes a per-class softmax Dice instead)")
    if "CrossEntropyLoss1x" in losses:
        notes.append("model: kept 1.x's cross-entropy as seglab's CrossEntropyLoss1x: with class_weight its mean "
                     "divides by the summed weights of the pixels' classes, 0.x's by the number of pixels; without "
                     "class weights the two are the same")
    values["log_config"] = {"interval": values.get("log_config", {}).get("interval", 10),
                            "hooks": [{"type": "TextLoggerHook", "by_epoch": False}]}
    return values, notes


def lr_config_of(schedule: Any, max_iters: int) -> tuple[dict[str, Any], list[str]]:
    """The 0.x ``lr_config`` closest to a ``param_scheduler`` chain, with a note unless it is exact."""
    steps = [dict(s) for s in ([schedule] if isinstance(schedule, Mapping) else schedule)]
    warmup = steps.pop(0) if len(steps) > 1 and steps[0].get("type") in ("LinearLR", "ConstantLR") else None
    if len(steps) != 1:
        raise ConfigError(f"param_scheduler {[s.get('type') for s in steps]}: no 0.x lr_config expresses this "
                          "chain; 0.x has one policy with an optional warm-up")
    main = steps[0]
    kinds = {"PolyLR": lambda s: {"policy": "poly", "power": s.get("power", 1.0), "min_lr": s.get("eta_min", 0.0)},
             "CosineAnnealingLR": lambda s: {"policy": "CosineAnnealing", **(
                 {"min_lr_ratio": s["eta_min_ratio"]} if s.get("eta_min_ratio") is not None
                 else {"min_lr": s.get("eta_min") or 0.0})},
             "MultiStepLR": lambda s: {"policy": "step", "step": list(s["milestones"]), "gamma": s.get("gamma", 0.1)},
             "StepLR": lambda s: {"policy": "step", "step": s["step_size"], "gamma": s.get("gamma", 0.1)}}
    if main.get("type") not in kinds:
        raise ConfigError(f"param_scheduler: {main.get('type')} has no 0.x counterpart; 0.x has poly, step, "
                          "CosineAnnealing and fixed")
    lr_config = {**kinds[main["type"]](main), "by_epoch": False}
    if warmup is not None:
        kind = "linear" if warmup["type"] == "LinearLR" else "constant"
        ratio = warmup.get("start_factor" if kind == "linear" else "factor", 1.0 / 3)
        # to_1x writes a warm-up of W iterations as [0, W + 1) beside a decay from 0 (exact);
        # MMSegmentation's 1.x configs warm up over [0, W) and start the decay at W
        iters = warmup["end"] - 1 if main.get("begin", 0) == 0 else warmup["end"]
        lr_config.update(warmup=kind, warmup_iters=iters, warmup_ratio=ratio)
    return lr_config, _difference_note("param_scheduler -> lr_config", lr_config, schedule, max_iters)


def _difference_note(what: str, lr_config: Any, chain: Any, max_iters: int) -> list[str]:
    """A note giving the largest lr difference between the two schedules, or none if they agree."""
    a, b = schedules(lr_config, chain, max_iters)
    diffs = [abs(a.lr_at(it, 1.0) - b.lr_at(it, 1.0)) for it in range(max_iters)]
    worst = max(range(max_iters), key=diffs.__getitem__)
    if diffs[worst] < 1e-9:
        return []
    return [f"{what}: the lr differs by up to {100 * diffs[worst]:.3g}% of the initial lr, at iteration {worst} "
            f"({a.lr_at(worst, 1.0):.4g} in 0.x, {b.lr_at(worst, 1.0):.4g} in 1.x, for an initial lr of 1): 0.x's "
            "poly decays to min_lr at runner.max_iters, and its warm-up multiplies the decayed lr, while an mmengine "
            "PolyLR reaches eta_min at its end - 1 and a LinearLR warm-up is chained with it"]


def schedules(lr_config: Any, chain: Any, max_iters: int) -> tuple[Any, Any]:
    """The 0.x schedule of ``lr_config`` and the 1.x one of ``chain`` (``lr_at(iteration, initial_lr)``)."""
    from seglab.engine.schedules import build_schedule

    return build_schedule(lr_config, None, max_iters), build_schedule(None, chain, max_iters)


# --------------------------------------------------------------------------- to 1.x
def to_1x(values: Mapping[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """0.x-keyed values as a 1.x (mmengine) config."""
    values, notes = copy.deepcopy(dict(values)), []
    out: dict[str, Any] = {"default_scope": "mmseg"}
    data = values.pop("data", {}) or {}
    train_split = data.get("train") or {}
    preprocessor = _preprocessor(_dataset_pipeline(train_split), notes)
    model = values.pop("model", None)
    if model is not None:
        model = rename_losses(model, {v: k for k, v in RENAMED_LOSSES_1X.items()}
                              | {v: k for k, v in RENAMED_LOSSES_0X.items()})
        if "DiceLoss0x" in _loss_types(model):
            notes.append("model: 0.x's DiceLoss (a per-class softmax Dice) has no 1.x counterpart: 1.x's DiceLoss "
                         "computes another loss; kept as seglab's DiceLoss0x")
        if "CrossEntropyLoss0x" in _loss_types(model):
            notes.append("model: kept 0.x's cross-entropy as seglab's CrossEntropyLoss0x: with class_weight, 1.x's "
                         "CrossEntropyLoss divides by the summed weights instead of the number of pixels")
        out["model"] = {**model, "data_preprocessor": preprocessor}
    max_iters = (values.pop("runner", None) or {}).get("max_iters") or values.pop("total_iters", None)
    values.pop("total_iters", None)
    evaluation = values.pop("evaluation", None)
    evaluates = bool(evaluation and evaluation.get("interval", 1) and data.get("val"))
    out["train_cfg"] = {"type": "IterBasedTrainLoop", "max_iters": max_iters}
    if evaluates:
        out["train_cfg"]["val_interval"] = evaluation.get("interval", 1)
        if evaluation.get("start"):
            out["train_cfg"]["val_begin"] = evaluation["start"]
        out["val_cfg"] = {"type": "ValLoop"}
    if data.get("test"):
        out["test_cfg"] = {"type": "TestLoop"}
    out.update(_optim_wrapper(values, notes))
    out["param_scheduler"] = _param_scheduler(values.pop("lr_config", None), values.pop("param_scheduler", None),
                                              max_iters, notes)
    out["default_hooks"] = _default_hooks(values, evaluation or {})
    out.update(_dataloaders(data, evaluation if evaluates else None, notes))
    metric = (evaluation or {}).get("metric", "mIoU")
    metrics = [metric] if isinstance(metric, str) else list(metric)
    if evaluates:
        out["val_evaluator"] = {"type": "IoUMetric", "iou_metrics": metrics}
    if data.get("test"):
        out["test_evaluator"] = {"type": "IoUMetric", "iou_metrics": metrics}
    out.update(_env_and_randomness(values))
    if values.get("custom_hooks"):
        out["custom_hooks"] = [_custom_hook_1x(h, notes) for h in values.pop("custom_hooks")]
    resume_from, load_from = values.pop("resume_from", None), values.pop("load_from", None)
    out["load_from"] = resume_from or load_from
    out["resume"] = bool(resume_from or values.pop("auto_resume", False))
    out["vis_backends"] = _vis_backends((values.get("log_config") or {}).get("hooks") or [], notes)
    out["visualizer"] = {"type": "SegLocalVisualizer", "vis_backends": out["vis_backends"], "name": "visualizer"}
    out["log_processor"] = {"by_epoch": False}
    for key in SEGLAB_KEYS:
        if key in values:
            out[key] = values.pop(key)
    for key in ("log_config", "checkpoint_config", "optimizer", "optimizer_config", "workflow", "amp", "fp16",
                "cudnn_benchmark", "mp_start_method", "opencv_num_threads", "dist_params", "seed",
                "deterministic", "gpu_ids", "find_unused_parameters"):
        values.pop(key, None)
    for key in values:  # helper variables of the 0.x file (crop_size, train_pipeline, ...)
        if key not in ("norm_cfg", "dataset_type", "data_root", "img_norm_cfg", "crop_size", "img_scale",
                       "train_pipeline", "test_pipeline"):
            notes.append(f"{key}: not a setting of either dialect; left out")
    return out, notes


def _loss_types(model: Mapping[str, Any]) -> set[str]:
    types = set()
    for key in ("decode_head", "auxiliary_head"):
        heads = model.get(key)
        for head in ([heads] if isinstance(heads, Mapping) else heads or []):
            losses = head.get("loss_decode")
            types |= {loss.get("type") for loss in ([losses] if isinstance(losses, Mapping) else losses or [])}
    return types


def _dataset_pipeline(ds: Mapping[str, Any]) -> list:
    while ds.get("type") == "RepeatDataset":
        ds = ds.get("dataset") or {}
    return list(ds.get("pipeline") or [])


def _preprocessor(pipeline: list, notes: list[str]) -> dict[str, Any]:
    """1.x's data preprocessor from the 0.x training pipeline's ``Normalize`` and ``Pad``."""
    out: dict[str, Any] = {"type": "SegDataPreProcessor"}
    for step in pipeline:
        if step.get("type") == "Normalize":
            out.update(mean=list(step["mean"]), std=list(step["std"]), bgr_to_rgb=bool(step.get("to_rgb", True)))
        elif step.get("type") == "Pad":
            out.update(pad_val=step.get("pad_val", 0), seg_pad_val=step.get("seg_pad_val", 255))
            if step.get("size") is not None:
                out["size"] = tuple(step["size"])
            else:
                out["size_divisor"] = step["size_divisor"]
    if "mean" not in out:
        notes.append("model.data_preprocessor: the training pipeline has no Normalize; images are not normalised")
    return out


def _optim_wrapper(values: dict, notes: list[str]) -> dict[str, Any]:
    optimizer = dict(values.get("optimizer") or {})
    paramwise = optimizer.pop("paramwise_cfg", None)
    constructor = optimizer.pop("constructor", None)
    hook = values.get("optimizer_config") or {}
    amp = values.get("amp")
    fp16 = values.get("fp16") or (hook.get("type") == "Fp16OptimizerHook" and {"loss_scale": hook.get("loss_scale",
                                                                                                         512.0)})
    wrapper: dict[str, Any] = {"type": "AmpOptimWrapper" if (amp and amp.get("enabled", True)) or fp16
                               else "OptimWrapper", "optimizer": optimizer, "clip_grad": hook.get("grad_clip")}
    if paramwise is not None:
        wrapper["paramwise_cfg"] = paramwise
    if constructor is not None:
        wrapper["constructor"] = constructor
    if hook.get("cumulative_iters", 1) != 1:
        wrapper["accumulative_counts"] = hook["cumulative_iters"]
    if wrapper["type"] == "AmpOptimWrapper":
        dtype = (amp or {}).get("dtype", "float16")
        wrapper["dtype"] = {"bf16": "bfloat16", "fp16": "float16"}.get(dtype, dtype)
        if fp16:
            wrapper["loss_scale"] = fp16["loss_scale"]
    return {"optim_wrapper": wrapper}


def _param_scheduler(lr_config: Any, param_scheduler: Any, max_iters: int, notes: list[str]) -> list[dict]:
    """The mmengine chain of a 0.x ``lr_config`` (exact for multiplicative schedules, see the module doc)."""
    if param_scheduler is not None:
        return list(param_scheduler)
    lr_config = dict(lr_config or {"policy": "fixed"})
    end = max_iters + 1  # mmengine counts end - begin - 1 steps: this keeps 0.x's horizon
    policy = str(lr_config.get("policy", "fixed")).lower()
    common = {"begin": 0, "end": end, "by_epoch": False}
    if policy == "poly":
        main = [{"type": "PolyLR", "eta_min": lr_config.get("min_lr", 0.0), "power": lr_config.get("power", 1.0),
                 **common}]
    elif policy in ("cosine", "cosineannealing"):
        target = ({"eta_min_ratio": lr_config["min_lr_ratio"]} if lr_config.get("min_lr_ratio") is not None
                  else {"eta_min": lr_config.get("min_lr", 0.0)})
        main = [{"type": "CosineAnnealingLR", "T_max": max_iters, **target, **common}]
    elif policy == "step":
        step = lr_config["step"]
        main = [{"type": "StepLR", "step_size": step, "gamma": lr_config.get("gamma", 0.1), **common}
                if isinstance(step, int) else
                {"type": "MultiStepLR", "milestones": list(step), "gamma": lr_config.get("gamma", 0.1), **common}]
        if lr_config.get("min_lr") is not None:
            notes.append("lr_config.min_lr of the step policy has no 1.x counterpart; left out")
    elif policy == "fixed":
        main = []
    else:
        raise ConfigError(f"lr_config.policy={lr_config.get('policy')!r} has no 1.x counterpart")
    warmup = lr_config.get("warmup")
    if warmup:
        iters, ratio = lr_config["warmup_iters"], lr_config.get("warmup_ratio", 0.1)
        if warmup == "linear":
            main.insert(0, {"type": "LinearLR", "start_factor": ratio, "begin": 0, "end": iters + 1, "by_epoch": False})
        elif warmup == "constant":
            main.insert(0, {"type": "ConstantLR", "factor": ratio, "begin": 0, "end": iters + 1, "by_epoch": False})
        else:
            main[:0] = [{"type": "LinearLR", "start_factor": ratio, "end_factor": ratio, "begin": 0, "end": 1,
                         "by_epoch": False},
                        {"type": "ExponentialLR", "gamma": (1 / ratio) ** (1 / iters), "begin": 0, "end": iters + 1,
                         "by_epoch": False}]
    notes += _difference_note("lr_config -> param_scheduler", lr_config, main, max_iters)
    return main


def _default_hooks(values: dict, evaluation: Mapping[str, Any]) -> dict[str, Any]:
    checkpoint = dict(values.get("checkpoint_config") or {})
    checkpoint = {"type": "CheckpointHook", "by_epoch": False, **{k: v for k, v in checkpoint.items()
                                                                 if k != "by_epoch"}}
    for key in ("save_best", "rule"):
        if evaluation.get(key) is not None:
            checkpoint[key] = evaluation[key]
    logger = {"type": "LoggerHook", "interval": (values.get("log_config") or {}).get("interval", 10),
              "log_metric_by_epoch": False}
    return {"timer": _STANDARD_HOOKS["timer"], "logger": logger, "param_scheduler": _STANDARD_HOOKS["param_scheduler"],
            "checkpoint": checkpoint, "sampler_seed": _STANDARD_HOOKS["sampler_seed"],
            "visualization": _STANDARD_HOOKS["visualization"]}


def _dataloaders(data: Mapping[str, Any], evaluation: Any, notes: list[str]) -> dict[str, Any]:
    out = {}
    workers = data.get("workers_per_gpu", 2)
    if data.get("train"):
        out["train_dataloader"] = {
            "batch_size": (data.get("train_dataloader") or {}).get("samples_per_gpu", data.get("samples_per_gpu", 2)),
            "num_workers": (data.get("train_dataloader") or {}).get("workers_per_gpu", workers),
            "persistent_workers": data.get("persistent_workers", True),
            "sampler": {"type": "InfiniteSampler", "shuffle": data.get("shuffle", True)},
            "dataset": _dataset_1x(data["train"], "data.train", notes, train=True)}
    for split in ("val", "test"):
        if data.get(split) and (split == "test" or evaluation):
            out[f"{split}_dataloader"] = {
                "batch_size": 1, "num_workers": (data.get(f"{split}_dataloader") or {}).get("workers_per_gpu", workers),
                "persistent_workers": data.get("persistent_workers", True),
                "sampler": {"type": "DefaultSampler", "shuffle": False},
                "dataset": _dataset_1x(data[split], f"data.{split}", notes, train=False)}
    return out


def _dataset_1x(ds: Mapping[str, Any], where: str, notes: list[str], *, train: bool) -> dict[str, Any]:
    ds = dict(ds)
    if ds.get("type") == "RepeatDataset":
        return {"type": "RepeatDataset", "times": ds["times"],
                "dataset": _dataset_1x(ds["dataset"], f"{where}.dataset", notes, train=train)}
    out: dict[str, Any] = {"type": ds.pop("type")}
    for key in ("data_root", "img_suffix", "seg_map_suffix", "reduce_zero_label", "ignore_index", "label_value_map"):
        if key in ds:
            out[key] = ds.pop(key)
    out["data_prefix"] = {"img_path": ds.pop("img_dir", "")}
    if ds.get("ann_dir") is not None:
        out["data_prefix"]["seg_map_path"] = ds.pop("ann_dir")
    if ds.get("split") is not None:
        out["ann_file"] = ds.pop("split")
    metainfo = {key: ds.pop(key) for key in ("classes", "palette") if ds.get(key)}
    if metainfo:
        out["metainfo"] = metainfo
    pipeline = ds.pop("pipeline", [])
    if train:
        out["pipeline"] = _train_pipeline_1x(pipeline, f"{where}.pipeline", notes)
    else:
        reduce_zero_label = out.get("reduce_zero_label", dataset_default(out["type"], "reduce_zero_label", False))
        out["pipeline"] = _test_pipeline_1x(pipeline, f"{where}.pipeline", notes, reduce_zero_label)
    for key in ("ann_dir", "split", "classes", "palette", "test_mode", "file_client_args", "gt_seg_map_loader_cfg"):
        ds.pop(key, None)
    if ds:
        notes.append(f"{where}: {', '.join(ds)} have no 1.x counterpart; left out")
    return out


def _resize_1x(step: Mapping[str, Any]) -> dict[str, Any]:
    scales = step.get("img_scale")
    scales = [scales] if scales is None or isinstance(scales[0], (int, float)) else list(scales)
    if step.get("ratio_range") is not None and scales[0] is not None:
        return {"type": "RandomResize", "scale": tuple(scales[0]), "ratio_range": tuple(step["ratio_range"]),
                "keep_ratio": step.get("keep_ratio", True)}
    if len(scales) > 1:
        return {"type": "RandomResize", "scale": [tuple(s) for s in scales], "keep_ratio": step.get("keep_ratio", True)}
    return {"type": "Resize", "scale": tuple(scales[0]), "keep_ratio": step.get("keep_ratio", True)}


def _train_pipeline_1x(pipeline: list, where: str, notes: list[str]) -> list[dict]:
    out = []
    for step in map(dict, pipeline):
        kind = step.get("type")
        if kind in ("Normalize", "Pad", "DefaultFormatBundle", "ImageToTensor", "ToTensor"):
            continue  # the data preprocessor and PackSegInputs do these in 1.x
        if kind == "Collect":
            out.append({"type": "PackSegInputs"})
        elif kind == "Resize":
            out.append(_resize_1x(step))
        else:
            step.pop("file_client_args", None)
            out.append(step)
    return out


def _test_pipeline_1x(pipeline: list, where: str, notes: list[str], reduce_zero_label: bool = False) -> list[dict]:
    """0.x's test pipeline as 1.x's. 0.x's datasets read the labels themselves; 1.x's pipeline has a
    ``LoadAnnotations``, which says ``reduce_zero_label=True`` where the dataset reduces (ADE20K),
    as MMSegmentation 1.x's files write it."""
    out = [dict(s) for s in pipeline if s.get("type") == "LoadImageFromFile"]
    aug = next((s for s in pipeline if s.get("type") == "MultiScaleFlipAug"), None)
    if aug is None:
        raise ConfigError(f"{where}: a 0.x test pipeline is LoadImageFromFile then MultiScaleFlipAug")
    if aug.get("img_ratios") or aug.get("flip"):
        notes.append(f"{where}: MultiScaleFlipAug's img_ratios/flip (multi-scale testing) become 1.x's tta_pipeline "
                     "only with --tta in MMSegmentation; the converted test pipeline tests at one scale")
    resize = next((s for s in aug.get("transforms", []) if s.get("type") == "Resize"), {"keep_ratio": True})
    scales = aug.get("img_scale")
    scale = scales if scales is None or isinstance(scales[0], (int, float)) else scales[0]
    out.append({"type": "Resize", "keep_ratio": resize.get("keep_ratio", True),
                **({"scale": tuple(scale)} if scale is not None else {"scale_factor": 1.0})})
    out += [{"type": "LoadAnnotations", **({"reduce_zero_label": True} if reduce_zero_label else {})},
            {"type": "PackSegInputs"}]
    return out


def _env_and_randomness(values: dict) -> dict[str, Any]:
    env = {"cudnn_benchmark": values.get("cudnn_benchmark", False),
           "mp_cfg": {"mp_start_method": values.get("mp_start_method") or "fork",
                      "opencv_num_threads": values.get("opencv_num_threads", 0) or 0},
           "dist_cfg": {"backend": (values.get("dist_params") or {}).get("backend") or "nccl"}}
    out: dict[str, Any] = {"env_cfg": env}
    randomness = {k: values[k] for k in ("seed", "deterministic") if values.get(k) is not None}
    if randomness:
        out["randomness"] = randomness
    return out


def _vis_backends(logger_hooks: list, notes: list[str]) -> list[dict]:
    """0.x's TensorBoard and wandb logger hooks as mmengine's vis backends."""
    backends = [{"type": "LocalVisBackend"}]
    for hook in logger_hooks:
        kind = hook.get("type")
        if kind == "TensorboardLoggerHook":
            backends.append({"type": "TensorboardVisBackend", **({"save_dir": hook["log_dir"]}
                                                                  if hook.get("log_dir") else {})})
        elif kind == "WandbLoggerHook":
            backends.append({"type": "WandbVisBackend", **({"init_kwargs": hook["init_kwargs"]}
                                                            if hook.get("init_kwargs") else {})})
        elif kind not in ("TextLoggerHook", "RunReportHook"):
            notes.append(f"log_config.hooks: {kind} has no 1.x vis backend; left out")
    return backends


def _custom_hook_1x(hook: Mapping[str, Any], notes: list[str]) -> dict[str, Any]:
    hook = dict(hook)
    if hook.get("type") == "EMAHook":
        if hook.pop("warm_up", 100) != 1:
            notes.append("custom_hooks: EMAHook's warm_up has no mmengine counterpart (its average starts at the "
                         "first weights); left out")
        hook["ema_type"] = "ExponentialMovingAverage"
    return hook
