"""``seglab train CONFIG``: train a segmentor (single process, or DDP under torchrun)."""
from __future__ import annotations

import argparse
import gc
import re
import shlex
from pathlib import Path

from seglab.cli.options import add_config_arguments, config_from_args

COMMAND = "train"
HELP = "train a model from a config (torchrun --nproc_per_node=N -m seglab train CONFIG for DDP)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_config_arguments(parser)
    parser.add_argument("--work-dir", help="where logs and checkpoints go (default: work_dirs/<config name>)")
    resume = parser.add_mutually_exclusive_group()
    resume.add_argument("--resume-from", help="training checkpoint to resume (model, optimizer, iteration, RNG)")
    resume.add_argument("--auto-resume", action="store_true", help="resume from WORK_DIR/latest.pth if it exists")
    parser.add_argument("--load-from", help="checkpoint whose weights initialise the model")
    parser.add_argument("--unsafe-load", action="store_true",
                        help="read checkpoints in full, which can run code they name: only for files you trust "
                             "(the config key checkpoint_unsafe_load=True)")
    parser.add_argument("--seed", type=int, default=None, help="random seed (default: cfg.seed, else random)")
    parser.add_argument("--deterministic", action="store_true", help="deterministic algorithms (reproducible)")
    parser.add_argument("--launcher", choices=["none", "pytorch"], default="none",
                        help="'pytorch' when started by torchrun (detected automatically too)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar (log lines only)")


def command_line(argv: list[str]) -> str:
    """``argv`` as a shell would take it, quoted for people: double quotes around an argument
    with spaces or quotes in it (so ``'a.b=[{'type': 'X'}]'`` stays readable), shlex's quoting
    when double quotes cannot hold it."""
    parts = []
    for arg in argv:
        if re.fullmatch(r"[\w@%+=:,./-]+", arg):
            parts.append(arg)
        elif not re.search(r'["$`\\!]', arg):
            parts.append(f'"{arg}"')
        else:
            parts.append(shlex.quote(arg))
    return " ".join(parts)


def run(args: argparse.Namespace) -> int:
    from seglab.engine import Trainer, dist

    cfg = config_from_args(args)
    if args.unsafe_load:
        cfg.checkpoint_unsafe_load = True
    trainer = Trainer(cfg, args.work_dir, resume_from=args.resume_from, auto_resume=args.auto_resume,
                      load_from=args.load_from, seed=args.seed, deterministic=args.deterministic or None,
                      launcher=args.launcher, progress=not args.no_progress,
                      command=command_line(["seglab", *getattr(args, "argv", [])]))
    if trainer.rank == 0:
        cfg.work_dir = str(trainer.work_dir)
        cfg.dump(trainer.work_dir / Path(args.config).name)
    try:
        trainer.train()
    finally:
        # The trainer sits in reference cycles, and its DDP wrapper holds the process group: left to
        # the interpreter's shutdown, gloo's threads were torn down there and a rank could abort
        # (SIGABRT) after a finished run. Free them now, then leave the group.
        del trainer
        gc.collect()
        dist.cleanup()
    return 0
