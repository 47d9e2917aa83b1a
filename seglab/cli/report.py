"""``seglab report WORK_DIR [--out FILE]``: the run report of a work dir, as one HTML file.

Built from the files a run leaves in its work dir (the JSON log, the dumped config and
``report/``, see ``seglab.report.data``), so it works after the run has ended, during it, and on
MMSegmentation 0.x work dirs (which have only the JSON log and the config; the rest is left out
with a note).
"""
from __future__ import annotations

import argparse
from pathlib import Path

from seglab.errors import DataError

COMMAND = "report"
HELP = "write a run's report: one self-contained HTML page (losses, lr, OHEM, class weights, metrics, config)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("work_dir", metavar="WORK_DIR", help="the run's work directory (holds *.log.json)")
    parser.add_argument("--out", metavar="FILE", help="where the page goes (default: WORK_DIR/report.html)")


def run(args: argparse.Namespace) -> int:
    from seglab.report import render_report

    work_dir = Path(args.work_dir)
    if not work_dir.is_dir():
        raise DataError(f"work directory {work_dir} does not exist; give the folder a training run wrote "
                        "(its --work-dir)")
    path = render_report(work_dir, args.out)
    print(f"wrote {path} ({path.stat().st_size / 1024:.0f} KiB)")
    return 0
