"""Training curves from a run's JSON-lines log, as PNG files.

The log is MMSegmentation 0.x's ``<timestamp>.log.json``: maybe a header line without ``mode``
(environment and config; skipped), then one record per logging interval
(``{"mode": "train", "iter": 50, "lr": ..., "decode.loss_ce": ..., ...}``) and one per evaluation
(``{"mode": "val", "iter": 4000, "aAcc": ..., "mIoU": ..., "IoU.<class>": ...}``).

``plot_default`` writes (each only when the log holds its keys):
    loss.png     every training key containing ``loss``
    lr.png       ``lr`` and the other groups' ``lr_*``
    metrics.png  the evaluations' summary metrics (``aAcc``, ``mIoU``, ``mDice``, ...)
    acc.png      training keys ending in ``acc_seg``
``plot_keys`` writes one figure per named key (``<key>.png``).
"""
from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path

from seglab.errors import DataError
from seglab.registry import did_you_mean

Series = dict[str, tuple[list[int], list[float]]]  # key -> (iterations, values)


# --------------------------------------------------------------------------- reading
def find_log(work_dir: Path, log: str | None = None) -> Path:
    """The log to plot: ``log`` if given (relative to ``work_dir`` if it exists there), else the newest one."""
    if log is not None:
        for candidate in (work_dir / log, Path(log)):
            if candidate.is_file():
                return candidate
        raise DataError(f"--log {log}: no such file (looked in {work_dir} and the current directory)")
    if not work_dir.is_dir():
        raise DataError(f"work directory {work_dir} does not exist; give the folder a training run wrote "
                        "(its --work-dir), which holds <timestamp>.log.json")
    logs = sorted(work_dir.glob("*.log.json"))
    if not logs:
        raise DataError(f"no JSON log in {work_dir}: expected a <timestamp>.log.json file written by "
                        "`seglab train` (or MMSegmentation 0.x); name another with --log FILE")
    return logs[-1]  # timestamped names sort chronologically


def read_log(path: Path) -> list[dict]:
    """The records of a JSON-lines log that have a ``mode`` (header lines are skipped)."""
    records, bad_lines = [], []
    with path.open(encoding="utf-8") as f:
        for number, line in enumerate(f, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                bad_lines.append(number)  # e.g. a line cut short when the run was killed
                continue
            if isinstance(record, dict) and "mode" in record and "iter" in record:
                records.append(record)
    if bad_lines:
        print(f"warning: skipped {len(bad_lines)} line(s) of {path} that are not JSON "
              f"(first: line {bad_lines[0]})", file=sys.stderr)
    if not records:
        raise DataError(f"{path} holds no log records: expected JSON lines such as "
                        '{"mode": "train", "iter": 50, "loss": ...}')
    return records


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def collect(records: list[dict], mode: str, select: Callable[[str], bool]) -> Series:
    """Per selected key, the iterations and values of the records of ``mode``."""
    series: Series = {}
    for record in records:
        if record.get("mode") != mode:
            continue
        for key, value in record.items():
            if key not in ("mode", "iter", "epoch") and select(key) and _is_number(value):
                its, values = series.setdefault(key, ([], []))
                its.append(int(record["iter"]))
                values.append(float(value))
    return series


def _is_lr(key: str) -> bool:
    return key == "lr" or key.startswith("lr_")


def _is_summary_metric(key: str) -> bool:
    return key == "aAcc" or (key.startswith("m") and key[1:2].isupper() and "." not in key)


# --------------------------------------------------------------------------- plotting
def _save_figure(series: Series, path: Path, title: str, ylabel: str) -> Path:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    # A bare Figure with the Agg canvas: no pyplot global state, no display needed.
    fig = Figure(figsize=(8, 5), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    for key, (its, values) in series.items():
        ax.plot(its, values, label=key, marker="o" if len(its) < 30 else None)
    ax.set_title(title)
    ax.set_xlabel("iteration")
    ax.set_ylabel(ylabel)
    ax.grid(True, alpha=0.3)
    ax.legend()
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    return path


def plot_default(records: list[dict], out_dir: Path) -> list[Path]:
    """Write loss.png, lr.png, metrics.png and acc.png (those the log has data for)."""
    figures = [
        ("loss.png", "training losses", "loss", collect(records, "train", lambda k: "loss" in k)),
        ("lr.png", "learning rate", "lr", collect(records, "train", _is_lr)),
        ("metrics.png", "validation metrics", "fraction", collect(records, "val", _is_summary_metric)),
        ("acc.png", "training pixel accuracy", "acc_seg (%)",
         collect(records, "train", lambda k: k.endswith("acc_seg"))),
    ]
    written = [_save_figure(series, out_dir / name, title, ylabel)
               for name, title, ylabel, series in figures if series]
    if not written:
        raise DataError("the log has no losses, learning rates, accuracies or validation metrics to plot")
    return written


def plot_keys(records: list[dict], keys: list[str], out_dir: Path) -> list[Path]:
    """One figure per key, from the training records (or the evaluations for validation keys)."""
    train = collect(records, "train", lambda k: True)
    val = collect(records, "val", lambda k: True)
    written = []
    for key in keys:
        series = train.get(key) or val.get(key)
        if series is None:
            known = sorted(set(train) | set(val))
            raise DataError(f"--keys: the log has no numeric key {key!r}.{did_you_mean(key, known)} "
                            f"Keys in the log: {', '.join(known)}")
        name = "".join(c if c.isalnum() or c in "._-" else "_" for c in key)
        written.append(_save_figure({key: series}, out_dir / f"{name}.png", key, key))
    return written
