"""The data a run report is built from, as files in the work dir, and reading them back.

``RunReportHook`` writes them while training; ``seglab report WORK_DIR`` reads them, so the page
can be rebuilt at any time without the process that trained (or on a MMSegmentation 0.x work dir,
which has only the JSON log: whatever is missing is left out of the page with a note).

    WORK_DIR/
        <timestamp>.log.json   the 0.x JSON log (losses, lr per group, OHEM kept, val metrics)
        <config>.py            the resolved config, as ``seglab train`` dumps it
        report.html            the page
        report/
            run.json           command, config files, classes, palette, lr rules, losses with their
                               class weights, pixel samplers, times, the JSON logs of this run
            label_counts.json  pixels per class in a sample of the training labels (computed once)
            eval.npz           the last evaluation: iteration, confusion matrix, per-image areas
            picks.json         best / median / worst validation image by per-image Dice, and
            pick_<which>.jpg   their overlays (image | label | prediction)
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from seglab.evaluation.curves import find_log

REPORT_DIR = "report"
PAGE_FILE = "report.html"
RUN_FILE = "run.json"
LABELS_FILE = "label_counts.json"
EVAL_FILE = "eval.npz"
PICKS_FILE = "picks.json"


def write_json(path: Path, value: Any) -> None:
    """Write ``value`` as JSON atomically (a reader never sees half a file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}")
    tmp.write_text(json.dumps(value, indent=1, default=_plain) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def _plain(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, (np.ndarray, tuple)):
        return list(value)
    return str(value)


def read_json(path: Path) -> Any:
    """The JSON value in ``path``; None when the file is missing or unreadable."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def save_evaluation(directory: Path, iteration: int, confusion: np.ndarray, image_areas: np.ndarray,
                    image_names: list[str], classes: list[str]) -> Path:
    """Write ``eval.npz`` (atomically) for the evaluation after ``iteration``."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / EVAL_FILE
    tmp = directory / f".{EVAL_FILE}.{os.getpid()}"
    with tmp.open("wb") as f:  # a file object: np.savez would append .npz to the temporary name
        np.savez_compressed(f, iter=np.int64(iteration), confusion=np.asarray(confusion, np.int64),
                            image_areas=np.asarray(image_areas, np.float64),
                            image_names=np.asarray(image_names, dtype=str), classes=np.asarray(classes, dtype=str))
    os.replace(tmp, path)
    return path


def load_evaluation(directory: Path) -> dict[str, Any] | None:
    """The contents of ``eval.npz`` as plain values, or None."""
    try:
        with np.load(directory / EVAL_FILE, allow_pickle=False) as npz:
            return {"iter": int(npz["iter"]), "confusion": npz["confusion"], "image_areas": npz["image_areas"],
                    "image_names": [str(n) for n in npz["image_names"]], "classes": [str(c) for c in npz["classes"]]}
    except (OSError, KeyError, ValueError):
        return None


def pick_images(scores: np.ndarray) -> list[tuple[str, int]]:
    """``[('best', i), ('median', j), ('worst', k)]``: the images of the highest, median and lowest
    score (NaN scores left out; fewer entries when fewer distinct images are left)."""
    scores = np.asarray(scores, dtype=np.float64)
    valid = np.flatnonzero(~np.isnan(scores))
    if len(valid) == 0:
        return []
    ranked = valid[np.argsort(-scores[valid], kind="stable")]
    picks: list[tuple[str, int]] = []
    for which, position in (("best", 0), ("median", (len(ranked) - 1) // 2), ("worst", len(ranked) - 1)):
        if all(int(ranked[position]) != index for _, index in picks):
            picks.append((which, int(ranked[position])))
    return picks


@dataclass
class WorkDirData:
    """Everything found in a work dir for the report (None / empty where a file is missing)."""

    work_dir: Path
    records: list[dict]  # train and val records of the run's JSON log(s), in order
    logs: list[Path]
    header: dict = field(default_factory=dict)  # the JSON log's first line (env_info, exp_name, ...)
    run: dict | None = None
    label_counts: dict | None = None
    evaluation: dict | None = None
    picks: list[dict] = field(default_factory=list)  # with the overlay's bytes under 'jpeg'

    @property
    def report_dir(self) -> Path:
        return self.work_dir / REPORT_DIR


def load_work_dir(work_dir: Path) -> WorkDirData:
    """Read a work dir written by ``seglab train`` (or MMSegmentation 0.x) for the report."""
    work_dir = Path(work_dir)
    data_dir = work_dir / REPORT_DIR
    run = read_json(data_dir / RUN_FILE)
    logs = [work_dir / name for name in (run or {}).get("logs", []) if (work_dir / name).is_file()]
    if not logs:
        logs = [find_log(work_dir)]
    header, records = read_logs(logs)
    picks = []
    for pick in read_json(data_dir / PICKS_FILE) or []:
        image = data_dir / str(pick.get("image", ""))
        if image.is_file():
            picks.append({**pick, "jpeg": image.read_bytes()})
    return WorkDirData(work_dir=work_dir, records=records, logs=logs, header=header, run=run,
                       label_counts=read_json(data_dir / LABELS_FILE), evaluation=load_evaluation(data_dir),
                       picks=picks)


def read_logs(paths: list[Path]) -> tuple[dict, list[dict]]:
    """``(header, records)`` of the JSON logs of one run, oldest first. A resumed run starts a new
    log at its checkpoint's iteration; the older log's records from that iteration on are the
    ones the resumed run replaced, so they are dropped."""
    header: dict = {}
    records: list[dict] = []
    for path in paths:
        lines = _json_lines(path)
        header = header or next((r for r in lines if isinstance(r, dict) and "mode" not in r), {})
        new = [r for r in lines if isinstance(r, dict) and "mode" in r and "iter" in r]
        if new:
            first = min(int(r["iter"]) for r in new)
            records = [r for r in records if int(r["iter"]) < first]
        records += new
    return header, records


def _json_lines(path: Path) -> list[Any]:
    values = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            values.append(json.loads(line))
        except ValueError:
            continue  # a blank line, or one cut short by a killed run
    return values
