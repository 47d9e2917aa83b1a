"""``seglab plot-log WORK_DIR``: curves of a run's JSON-lines log as PNG files.

Reads MMSegmentation 0.x's ``<timestamp>.log.json`` (seglab's or MMSegmentation's own) and writes
the figures ``seglab.evaluation.curves.plot_default`` draws, or with ``--keys`` one per named key.
"""
from __future__ import annotations

import argparse
from pathlib import Path

from seglab.evaluation.curves import find_log, plot_default, plot_keys, read_log

COMMAND = "plot-log"
HELP = "plot losses, learning rates, accuracy and validation metrics of a run's JSON log as PNG files"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("work_dir", metavar="WORK_DIR", help="the run's work directory (holds *.log.json)")
    parser.add_argument("--log", metavar="FILE",
                        help="the JSON log to plot (default: the newest WORK_DIR/*.log.json; "
                             "a relative path is looked up in WORK_DIR first)")
    parser.add_argument("--out", metavar="DIR", help="where the PNG files go (default: WORK_DIR/plots)")
    parser.add_argument("--keys", nargs="+", metavar="KEY",
                        help="plot only these keys, one figure each (e.g. decode.loss_ce mIoU IoU.vessel)")


def run(args: argparse.Namespace) -> int:
    work_dir = Path(args.work_dir)
    log_path = find_log(work_dir, args.log)
    records = read_log(log_path)
    out_dir = Path(args.out) if args.out else work_dir / "plots"
    written = plot_keys(records, args.keys, out_dir) if args.keys else plot_default(records, out_dir)
    print(f"plotted {log_path} ({len(records)} records):")
    for path in written:
        print(f"  {path}")
    return 0
