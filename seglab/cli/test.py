"""``seglab test CONFIG CHECKPOINT``: evaluate a trained model on ``data.test``."""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from seglab.cli.options import add_config_arguments, config_from_args

COMMAND = "test"
HELP = "evaluate a checkpoint on the config's test split (metrics, optional overlays)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_config_arguments(parser)
    parser.add_argument("checkpoint", help="checkpoint file (seglab or MMSegmentation 0.x)")
    parser.add_argument("--unsafe-load", action="store_true",
                        help="read a checkpoint that imports more than tensors and plain values, unpickling it in "
                             "full: it can run any code it holds, so only for a file you trust")
    parser.add_argument("--eval", nargs="+", default=None, metavar="METRIC",
                        help="metrics: mIoU, mDice, mFscore (default: the config's evaluation.metric)")
    parser.add_argument("--show-dir", help="write a prediction overlay PNG per image here")
    parser.add_argument("--opacity", type=float, default=0.5, help="overlay opacity (0..1)")
    parser.add_argument("--aug-test", action="store_true",
                        help="multi-scale (0.5-1.75) and flip test-time augmentation")
    parser.add_argument("--out", help="write the metrics as JSON to this file")
    parser.add_argument("--split", default="test", choices=["test", "val"], help="data split to evaluate")
    parser.add_argument("--launcher", choices=["none", "pytorch"], default="none")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def run(args: argparse.Namespace) -> int:
    from seglab.data import build_dataset
    from seglab.data.loader import warn_more_workers_than_cpus
    from seglab.engine import dist
    from seglab.engine.evaluator import evaluate_segmentor
    from seglab.engine.inference import init_segmentor, use_aug_test
    from seglab.engine.amp import resolve_amp
    from seglab.engine.logger import setup_logger
    from seglab.engine.run_config import parse_run_config

    cfg = config_from_args(args)
    rank, _ = dist.init_distributed(args.launcher)
    logger = setup_logger(None, rank)
    run = parse_run_config(cfg, need_max_iters=False)
    dataset_cfg = run.data.split(args.split)
    if args.aug_test:
        use_aug_test(dataset_cfg, args.split)
    model = init_segmentor(cfg, args.checkpoint, unsafe_load=args.unsafe_load, run=run)
    dataset = build_dataset(dataset_cfg, default_args={"test_mode": True}, key=f"data.{args.split}")
    metrics = args.eval or (run.evaluation.metric if run.evaluation else "mIoU")
    amp_dtype, _ = resolve_amp(run, next(model.parameters()).device)  # the config's amp, as in training
    workers = run.data.loader(args.split).workers_per_gpu
    warn_more_workers_than_cpus(workers)
    summary, table = evaluate_segmentor(model, dataset, metrics=metrics, show_dir=args.show_dir,
                                        opacity=args.opacity, progress=not args.no_progress,
                                        workers=workers, amp_dtype=amp_dtype)
    if rank == 0:
        precision = str(amp_dtype).replace("torch.", "") if amp_dtype else "fp32"
        logger.info(f"{args.split} split, {len(dataset)} images, checkpoint {args.checkpoint} ({precision}"
                    f"{', channels-last' if run.channels_last else ''}):\n{table}")
        if args.out:
            Path(args.out).parent.mkdir(parents=True, exist_ok=True)
            Path(args.out).write_text(json.dumps(summary, indent=1))
        if args.show_dir:
            logger.info(f"overlays written to {args.show_dir}")
    dist.cleanup()
    return 0
