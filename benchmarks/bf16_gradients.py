"""How far are bf16 gradients from fp32 ones, and where in the model?

    python benchmarks/bf16_gradients.py configs/unet/fcn_unet_s5-d16_64x64_40k_drive.py \
        --data-root ../shared/data/DRIVE --checkpoint WORK_DIR/iter_4000.pth --batches 8 \
        --fp32 conv_seg --fp32 norms --fp32 backbone.encoder.3,backbone.encoder.4 --out results/grads.json

For each of ``--batches`` training batches, from the same weights: the loss gradient of every parameter
in fp32, under bf16 autocast with channels-last (seglab's fast setting), and under each ``--fp32``
variant, which keeps some modules in fp32 inside the bf16 run (their input cast up, autocast off
inside them): ``conv_seg`` (every head's classifier), ``norms`` (every normalisation layer) or a
comma-separated list of module names. It reports each setting's relative error
||g - g_fp32|| / ||g_fp32|| for the whole model and per part (backbone, decode_head, ...), and the
parameters with the largest error. As scales, it also gives fp32 in channels-last, which only
sums in another order (the floor of such a comparison), and the relative difference between the
fp32 gradients of consecutive batches: the sampling noise SGD lives with anyway. Dropout is off and
batch-norm statistics are restored after each pass, so settings differ only in their arithmetic.
A variant that does not lower the error will not close an accuracy gap that bf16 training shows,
which this answers in a minute rather than in two training runs.
"""
from __future__ import annotations

import argparse
import contextlib
import statistics
import sys
import tempfile
from pathlib import Path

from _runner import SMOKE_UNET_OPTIONS, load_with_options, print_table, write_json

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def fp32_modules(model, spec: str) -> list:
    """The modules of ``model`` a ``--fp32`` value names."""
    import torch.nn as nn

    if spec == "norms":
        norms = (nn.modules.batchnorm._NormBase, nn.GroupNorm, nn.LayerNorm)
        return [m for m in model.modules() if isinstance(m, norms)]
    if spec == "conv_seg":
        return [m for name, m in model.named_modules() if name.split(".")[-1] == "conv_seg"]
    names = dict(model.named_modules())
    missing = [n for n in spec.split(",") if n not in names]
    if missing:
        raise SystemExit(f"--fp32 {spec}: no module named {', '.join(missing)}; "
                         "use conv_seg, norms or names from model.named_modules()")
    return [names[n] for n in spec.split(",")]


@contextlib.contextmanager
def kept_in_fp32(modules: list):
    """Run ``modules`` in fp32 inside a CPU autocast region: their inputs are cast up and autocast
    is off within them (an instance-level ``forward``, removed on exit)."""
    import torch

    def up(value):  # a head takes a list of feature maps
        if isinstance(value, (list, tuple)):
            return type(value)(up(v) for v in value)
        return value.float() if isinstance(value, torch.Tensor) and value.is_floating_point() else value

    def fp32_forward(bound):
        def forward(*args, **kwargs):
            with torch.autocast("cpu", enabled=False):
                return bound(*up(args), **kwargs)
        return forward

    for m in modules:
        m.forward = fp32_forward(m.forward)
    try:
        yield
    finally:
        for m in modules:
            del m.forward


def gradients(model, batch: dict, bf16: bool, channels_last: bool) -> dict:
    """Every parameter's gradient of the step's optimised loss on ``batch``, in float64."""
    import torch

    from seglab.models.losses import parse_losses

    layout = torch.channels_last if channels_last else torch.contiguous_format
    model.to(memory_format=layout)
    model.zero_grad(set_to_none=True)
    stats = {k: v.clone() for k, v in model.state_dict().items() if "running_" in k or "num_batches" in k}
    img = batch["img"].contiguous(memory_format=layout)
    autocast = torch.autocast("cpu", dtype=torch.bfloat16) if bf16 else contextlib.nullcontext()
    with autocast:
        losses = model(img, batch["img_metas"], gt_semantic_seg=batch["gt_semantic_seg"])
    parse_losses(losses)[0].backward()
    model.load_state_dict(stats, strict=False)
    return {n: p.grad.detach().double() for n, p in model.named_parameters() if p.grad is not None}


def relative_error(grads, reference, names) -> float:
    diff = sum(float((grads[n] - reference[n]).square().sum()) for n in names)
    return (diff / sum(float(reference[n].square().sum()) for n in names)) ** 0.5


def model_and_batches(args: argparse.Namespace):
    """The config's model (the checkpoint's weights; dropout off) and ``args.batches`` training batches."""
    import torch

    from seglab.engine.benchmark import speed_options
    from seglab.engine.trainer import Trainer
    from seglab.models.weights import load_checkpoint

    options = args.cfg_options + ["data.workers_per_gpu=0"] + (SMOKE_UNET_OPTIONS if args.smoke else [])
    cfg = load_with_options(args.config, options, args.data_root)
    with tempfile.TemporaryDirectory() as work_dir:
        trainer = Trainer(speed_options(cfg), work_dir, seed=0, progress=False)
        if args.checkpoint:
            load_checkpoint(trainer.model, args.checkpoint, strict=True)
        stream = iter(trainer.train_loader)
        batches = [next(stream) for _ in range(args.batches)]
    model = trainer.model.train()
    for m in model.modules():
        if isinstance(m, torch.nn.modules.dropout._DropoutNd):
            m.eval()
    return model, batches


def compare(model, batches: list, variants: dict, parts: list[str]) -> tuple[dict, dict]:
    """Per setting, the relative errors of each batch (whole model and per part); per parameter,
    its errors under plain bf16 + cl."""
    errors: dict[str, list[dict]] = {name: [] for name in ["next batch (fp32)", *variants]}
    by_param: dict[str, list[float]] = {}
    previous = None
    for batch in batches:
        reference = gradients(model, batch, bf16=False, channels_last=False)
        groups = {"model": list(reference)}
        groups |= {part: [n for n in reference if n.startswith(part + ".")] for part in parts}
        if previous is not None:
            errors["next batch (fp32)"].append({g: relative_error(reference, previous, ns) for g, ns in groups.items()})
        previous = reference
        for name, (bf16, modules) in variants.items():
            with kept_in_fp32(modules):
                grads = gradients(model, batch, bf16, channels_last=True)
            errors[name].append({g: relative_error(grads, reference, ns) for g, ns in groups.items()})
            if name == "bf16 + cl":
                for n in reference:
                    by_param.setdefault(n, []).append(relative_error(grads, reference, [n]))
    return errors, by_param


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("config")
    parser.add_argument("--data-root", default=None)
    parser.add_argument("--checkpoint", default=None, help="weights to take the gradients at (default: initial)")
    parser.add_argument("--batches", type=int, default=8)
    parser.add_argument("--fp32", action="append", default=[], metavar="MODULES",
                        help="a variant keeping these modules in fp32: conv_seg, norms or name,name,...")
    parser.add_argument("--top", type=int, default=10, help="how many parameters to list by error")
    parser.add_argument("--smoke", action="store_true", help="2 batches of a tiny model (CI)")
    parser.add_argument("--cfg-options", nargs="+", default=[])
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    if args.smoke:
        args.batches = 2
    model, batches = model_and_batches(args)
    variants = {"fp32 + cl": (False, []), "bf16 + cl": (True, [])}
    variants |= {f"bf16 + cl, {spec} fp32": (True, fp32_modules(model, spec)) for spec in args.fp32}
    parts = sorted({n.split(".")[0] for n, p in model.named_parameters() if p.requires_grad})
    errors, by_param = compare(model, batches, variants, parts)
    summary = {name: {g: statistics.mean(r[g] for r in rows) for g in rows[0]} for name, rows in errors.items() if rows}
    print(f"{args.config}: relative gradient error against fp32, mean over {args.batches} batches "
          f"({'checkpoint ' + args.checkpoint if args.checkpoint else 'initial weights'})")
    columns = ["model", *parts]
    print_table(["setting", *columns], [[name, *(s[c] for c in columns)] for name, s in summary.items()])
    worst = sorted(((statistics.mean(v), n) for n, v in by_param.items()), reverse=True)[:args.top]
    print(f"\nlargest errors under bf16 + cl, of {len(by_param)} parameters:")
    print_table(["parameter", "relative error"], [[n, e] for e, n in worst])
    write_json(args.out, {"config": args.config, "checkpoint": args.checkpoint, "batches": args.batches,
                          "relative_error": summary, "largest": {n: e for e, n in worst}})

if __name__ == "__main__":
    main()
