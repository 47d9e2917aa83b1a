"""What a run tells people: the human log, the 0.x JSON-lines log and the progress display.

Only rank 0 writes. The human log goes to the terminal and ``<work_dir>/<timestamp>.log``; the
JSON log ``<work_dir>/<timestamp>.log.json`` has one record per line in MMSegmentation 0.x's
format (``mode``, ``iter``, ``lr``, every logged value under its full name, ``time``, ...), which
``seglab plot-log`` turns into curves.
"""
from __future__ import annotations

import datetime
import json
import logging
import math
import sys
from pathlib import Path
from typing import Any, TextIO

import torch
from tqdm import tqdm

LOGGER_NAME = "seglab"


def get_logger() -> logging.Logger:
    return logging.getLogger(LOGGER_NAME)


def setup_logger(log_file: Path | None, rank: int = 0, level: str | int = "INFO") -> logging.Logger:
    """Configure the ``seglab`` logger: terminal + file on rank 0, errors only elsewhere."""
    logger = get_logger()
    for handler in list(logger.handlers):
        logger.removeHandler(handler)
        handler.close()
    logger.propagate = False
    logger.setLevel(level if rank == 0 else logging.ERROR)
    fmt = logging.Formatter("%(asctime)s - seglab - %(levelname)s - %(message)s", "%Y-%m-%d %H:%M:%S")
    stream = _TqdmSafeHandler(sys.stdout)
    stream.setFormatter(fmt)
    logger.addHandler(stream)
    if log_file is not None and rank == 0:
        log_file.parent.mkdir(parents=True, exist_ok=True)
        file_handler = logging.FileHandler(log_file, mode="a", encoding="utf-8")
        file_handler.setFormatter(fmt)
        logger.addHandler(file_handler)
    return logger


class _TqdmSafeHandler(logging.StreamHandler):
    """Writes through tqdm so log lines do not tear an active progress bar."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            tqdm.write(self.format(record), file=self.stream)
        except Exception:  # logging must never kill training
            self.handleError(record)


class JsonLog:
    """Appends one JSON object per line; floats rounded like 0.x (5 significant decimals)."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._file: TextIO | None = open(path, "a", encoding="utf-8") if path else None

    def write(self, record: dict[str, Any]) -> None:
        if self._file is None:
            return
        self._file.write(json.dumps({k: _round(v) for k, v in record.items()}) + "\n")
        self._file.flush()

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


def _round(value: Any) -> Any:
    if isinstance(value, float) and math.isfinite(value):
        return float(f"{value:.6g}")
    return value


class LogMeter:
    """Sums of the logged values over one log interval, kept as tensors: adding a step's values
    never waits for the device; ``pop`` reads them all at once."""

    def __init__(self) -> None:
        self._reset()

    def _reset(self) -> None:
        self.sums: dict[str, torch.Tensor] = {}
        self.counts: dict[str, int] = {}  # a value may be logged on some steps only (grad_norm)
        self.count, self.data_s, self.iter_s = 0, 0.0, 0.0

    def add(self, log_vars: dict[str, torch.Tensor], *, data_s: float, iter_s: float) -> None:
        for key, value in log_vars.items():
            self.sums[key] = self.sums.get(key, 0) + value.detach().float()
            self.counts[key] = self.counts.get(key, 0) + 1
        self.count += 1
        self.data_s += data_s
        self.iter_s += iter_s

    def pop(self, device: torch.device) -> tuple[dict[str, float], float, float]:
        """(mean of each value over the steps and the ranks, data seconds, iteration seconds per
        step), then start over. One host sync."""
        from seglab.engine.dist import all_reduce_mean

        keys = list(self.sums)
        stacked = torch.stack([self.sums[k].reshape(()) / self.counts[k] for k in keys])
        values = dict(zip(keys, all_reduce_mean(stacked.to(device)).tolist()))
        result = values, self.data_s / self.count, self.iter_s / self.count
        self._reset()
        return result


def format_eta(seconds: float) -> str:
    return str(datetime.timedelta(seconds=int(max(seconds, 0))))


def format_train_line(it: int, max_iters: int, values: dict[str, float], eta_s: float) -> str:
    """``Iter [50/40000]  lr: 9.989e-03, eta: 1:02:03, time: 0.310, ..., loss: 0.7012`` (0.x style)."""
    parts = [f"lr: {values['lr']:.3e}", f"eta: {format_eta(eta_s)}"]
    for key, value in values.items():
        if key == "lr" or key.startswith("lr_"):
            continue
        parts.append(f"{key}: {value:.4f}" if isinstance(value, float) else f"{key}: {value}")
    return f"Iter [{it}/{max_iters}]\t" + ", ".join(parts)


class Progress:
    """A tqdm bar with iteration, ETA, loss and lr on a terminal; nothing otherwise (the log
    lines then carry the progress)."""

    def __init__(self, total: int, initial: int = 0, desc: str = "train", enabled: bool = True) -> None:
        self.bar = None
        if enabled and sys.stdout.isatty():
            self.bar = tqdm(total=total, initial=initial, desc=desc, dynamic_ncols=True, file=sys.stdout)

    def update(self, n: int = 1) -> None:
        if self.bar is not None:
            self.bar.update(n)

    def set_postfix(self, **postfix: Any) -> None:
        if self.bar is not None:
            self.bar.set_postfix(postfix, refresh=False)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
