"""Training speed of one config under several speed settings, as ratios to the first setting.

    python benchmarks/train_speed.py configs/unet/fcn_unet_s5-d16_64x64_40k_drive.py \
        --data-root ../shared/data/DRIVE --settings fp32 bf16 bf16+cl --out results/train_speed.json

Measures the model step alone on one batch, and end to end with the real data pipeline and
workers. `byhand-...` settings time the baseline to beat: a 0.x-style loop around the same model,
with autocast and channels-last added by hand (reference_loop.py).

By default each setting runs in its own process (`seglab benchmark --json`), which also gives
its peak memory. On a machine whose speed drifts (a shared VM), use `--interleave`: all settings
live in one process and every round times one iteration of each, in a rotating order; speedups
are then medians of per-round ratios, so the drift cancels out, shown with their quartiles over
the rounds (`2.31x (2.12-2.48)`) to say how much noise is left. In its end-to-end rounds a loader
refills its queue while the next setting steps, so data-loading work is shared out between the
settings: compare compute settings this way, and data settings (worker counts) per process.
seglab's malloc setting (`reuse_freed_memory`, process-wide) then also serves the by-hand loop,
which favours the baseline; per process, the by-hand loop runs with glibc's default, as 0.x does.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

from _runner import (SMOKE_UNET_OPTIONS, load_with_options, print_table, seglab_benchmark, setting_flags,
                     write_json)

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def run_interleaved(args: argparse.Namespace, options: list[str], iters: int, warmup: int) -> list[dict]:
    """Every setting in this process; step-alone and end-to-end rounds interleave the settings."""
    from reference_loop import ReferenceLoop

    from seglab.engine.benchmark import interleaved, speed_options, speedups_to_first, timed, training_step
    from seglab.engine.trainer import Trainer

    cfg = load_with_options(args.config, options, args.data_root)
    steps, streams, devices = {}, {}, {}
    with tempfile.TemporaryDirectory() as work_dir:
        for n, setting in enumerate(args.settings):
            flags = setting_flags(setting)
            if setting.startswith("byhand-"):
                if flags["compile"]:
                    raise SystemExit("byhand settings take bf16 and cl only")
                loop = ReferenceLoop(cfg, flags["amp"], flags["channels_last"])
                steps[setting] = lambda it, batch, loop=loop: loop.step(batch)
                streams[setting], devices[setting] = iter(loop.loader), loop.device
            else:
                amp = "bfloat16" if flags["amp"] else None
                trainer = Trainer(speed_options(cfg, amp=amp, channels_last=flags["channels_last"],
                                                compile=flags["compile"]), f"{work_dir}/{n}", seed=0, progress=False)
                trainer.train_model.train()
                steps[setting] = training_step(trainer)
                streams[setting], devices[setting] = iter(trainer.train_loader), trainer.device
        device = next(iter(devices.values()))
        batch = next(next(iter(streams.values())))
        for step in steps.values():
            timed(lambda i, step=step: step(i, batch), warmup, device)
        step_times = interleaved({s: lambda r, step=step: step(warmup + r, batch) for s, step in steps.items()},
                                 iters, device)
        e2e_steps = {s: lambda r, s_=s: steps[s_](r, next(streams[s_])) for s in steps}
        interleaved(e2e_steps, warmup, device)  # workers started and their queues in steady state
        e2e_times = interleaved(e2e_steps, iters, device)
    step_speedup, e2e_speedup = speedups_to_first(step_times), speedups_to_first(e2e_times)
    batch_size = batch["img"].shape[0]
    return [{"setting": s, **setting_flags(s), "batch_size": batch_size, "iters": iters, "interleaved": True,
             "step_s": statistics.median(step_times[s]), "e2e_s": statistics.median(e2e_times[s]),
             "step_speedup": step_speedup[s][1], "e2e_speedup": e2e_speedup[s][1],
             "step_speedup_quartiles": step_speedup[s], "e2e_speedup_quartiles": e2e_speedup[s],
             "images_per_s": batch_size / statistics.median(e2e_times[s]), "device": str(device)}
            for s in args.settings]


def speedup_cell(result: dict, kind: str) -> str:
    """``2.31x``, or with interleaving ``2.31x (2.12-2.48)``: the median and quartiles over rounds."""
    cell = f"{result[f'{kind}_speedup']:.2f}x"
    if f"{kind}_speedup_quartiles" in result:
        q1, _, q3 = result[f"{kind}_speedup_quartiles"]
        cell += f" ({q1:.2f}-{q3:.2f})"
    return cell


def run_per_process(args: argparse.Namespace, options: list[str], iters: int, warmup: int) -> list[dict]:
    results = []
    for setting in args.settings:  # the JSON is rewritten after each setting: a cut-short run keeps what it measured
        results.append(seglab_benchmark(args.config, iters=iters, warmup=warmup, setting=setting,
                                        data_root=args.data_root, cfg_options=options))
        write_json(args.out, {"config": args.config, "baseline": results[0]["setting"], "results": results},
                   quiet=True)
    for r in results:
        r["step_speedup"] = results[0]["step_s"] / r["step_s"]
        r["e2e_speedup"] = results[0]["e2e_s"] / r["e2e_s"]
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("config")
    parser.add_argument("--data-root", default=None)
    parser.add_argument("--settings", nargs="+", default=["fp32", "bf16", "bf16+cl"],
                        help="fp32, bf16, bf16+cl (channels-last), bf16+cl+compile, ...; the first is the "
                             "baseline. byhand-fp32, byhand-bf16+cl: the same model in a 0.x-style loop "
                             "written by hand (benchmarks/reference_loop.py)")
    parser.add_argument("--iters", type=int, default=30)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--interleave", action="store_true",
                        help="all settings in one process, interleaved round by round (no peak memory)")
    parser.add_argument("--cfg-options", nargs="+", default=[])
    parser.add_argument("--smoke", action="store_true", help="2 iterations of a tiny model (CI)")
    parser.add_argument("--out", default=None, help="JSON file for the results")
    args = parser.parse_args()
    iters, warmup, options = args.iters, args.warmup, list(args.cfg_options)
    if args.smoke:
        iters, warmup, options = 2, 1, options + SMOKE_UNET_OPTIONS
    run = run_interleaved if args.interleave else run_per_process
    results = run(args, options, iters, warmup)
    base = results[0]
    rows = [[r["setting"], r["step_s"], r["e2e_s"], speedup_cell(r, "step"), speedup_cell(r, "e2e"),
             f"{r['images_per_s']:.1f}", f"{r['peak_rss_mb']:.0f}" if "peak_rss_mb" in r else "-"] for r in results]
    mode = "interleaved in one process" if args.interleave else "one process per setting"
    print(f"{args.config}, batch {base['batch_size']}, {iters} iterations, {mode}, {base['device']}")
    print_table(["setting", "step s/it", "e2e s/it", "step speedup", "e2e speedup", "img/s", "peak MiB"], rows)
    write_json(args.out, {"config": args.config, "baseline": base["setting"], "interleaved": args.interleave,
                          "results": results})


if __name__ == "__main__":
    main()
