"""The run report: one static HTML page per work dir, built from the files ``seglab.report.data``
describes. Figures are PNG data URIs and tables are HTML, so the page opens from disk with no
server and nothing to fetch.

Sections (each an ``<section id=...>``; one whose data the work dir lacks says so in a note):

    summary        config, iterations, time, final and best metrics, the command
    losses         every loss by head over iterations, with the total; which losses the run has
    lr             lr of each param group over iterations; lr-table's rules; group lr ratios
    ohem           fraction of pixels OHEM kept, per head
    class-weights  class weights in use next to each class's pixel frequency
    metrics        per-class IoU / Dice / Acc over evaluations, and the last evaluation's table
    confusion      confusion matrix of the last evaluation
    predictions    best, median and worst validation image by per-image Dice
    config         the resolved config, keys that differ from the _base_ chain marked
"""
from __future__ import annotations

import base64
import html
import math
import os
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from seglab.report import data as rdata
from seglab.report.config_diff import MISSING, compare
from seglab.report.figures import Panel, confusion_png, panels_png

METRIC_KINDS = ("IoU", "Dice", "Acc", "Fscore", "Precision", "Recall")
NOT_LOSSES = ("acc_seg", "ohem_kept")  # per-head values that are logged but are no losses


def render_report(work_dir: str | os.PathLike, out: str | os.PathLike | None = None) -> Path:
    """Write the report of ``work_dir`` to ``out`` (default ``WORK_DIR/report.html``); returns its path."""
    data = rdata.load_work_dir(Path(work_dir))
    out = Path(out) if out else data.work_dir / rdata.PAGE_FILE
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.{os.getpid()}")
    tmp.write_text(build_page(data), encoding="utf-8")
    os.replace(tmp, out)  # a browser reloading during training never sees half a page
    return out


def build_page(data: rdata.WorkDirData) -> str:
    """The page's HTML."""
    title = f"seglab run report: {run_name(data)}"
    nav = " · ".join(f'<a href="#{sid}">{html.escape(name)}</a>' for sid, name, _ in SECTIONS)
    body = "\n".join(f'<section id="{sid}">\n<h2>{html.escape(name)}</h2>\n{build(data)}\n</section>'
                     for sid, name, build in SECTIONS)
    stamp = time.strftime("%Y-%m-%d %H:%M:%S")
    return (f'<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">\n<title>{html.escape(title)}</title>\n'
            f"<style>{CSS}</style>\n</head>\n<body>\n<h1>{html.escape(title)}</h1>\n"
            f'<p class="meta">{html.escape(str(data.work_dir))} · built {stamp} · <code>seglab report</code> rebuilds '
            f"it from the work dir</p>\n<nav>{nav}</nav>\n{body}\n</body>\n</html>\n")


CSS = """
body{font:14px/1.45 system-ui,sans-serif;margin:0 auto;max-width:1180px;padding:0 16px 40px;color:#222}
h1{font-size:22px;margin:18px 0 4px}h2{font-size:18px;border-bottom:1px solid #ddd;padding-bottom:3px;margin-top:28px}
nav{position:sticky;top:0;background:#fff;padding:6px 0;border-bottom:1px solid #eee;z-index:1}
nav a{color:#245;text-decoration:none}.meta{color:#666;font-size:12px;margin:0 0 8px}
table{border-collapse:collapse;margin:8px 0;font-size:13px}th,td{border:1px solid #ddd;padding:3px 8px;text-align:right}
th{background:#f4f4f4}td:first-child,th:first-child{text-align:left}td.l{text-align:left}
tr.changed td{background:#fff4cc}.note{color:#7a5a00;background:#fff9e6;border-left:3px solid #e0b000;padding:4px 8px}
.ok{color:#17622a}.bad{color:#a1221b}code{background:#f4f4f4;padding:0 3px}img{max-width:100%;height:auto}
figure{margin:10px 0}figcaption{font-size:12px;color:#444}details{margin:8px 0}pre{white-space:pre-wrap}
"""


# --------------------------------------------------------------------------- helpers
def run_name(data: rdata.WorkDirData) -> str:
    run = data.run or {}
    return str(run.get("config_dump") or data.header.get("exp_name") or data.work_dir.name)


def note(text: str) -> str:
    return f'<p class="note">{html.escape(text)}</p>'


def fmt(value: Any) -> str:
    """A value for a table cell: 4 significant digits for floats, '–' for none."""
    if value is None or value is MISSING:
        return "–"
    if isinstance(value, float):
        return "nan" if math.isnan(value) else f"{value:.4g}"
    return str(value)


def table(header: Sequence[str] | None, rows: Iterable[Sequence[Any]], row_class: Sequence[str] | None = None,
          left: Sequence[int] = ()) -> str:
    """An HTML table (no header row when ``header`` is None); every cell is escaped. ``left``:
    columns aligned left (text)."""
    head = f"<thead><tr>{''.join(f'<th>{html.escape(h)}</th>' for h in header)}</tr></thead>" if header else ""
    lines = []
    for i, row in enumerate(rows):
        cls = f' class="{row_class[i]}"' if row_class and row_class[i] else ""
        cells = "".join(f'<td{" class=l" if j in left else ""}>{html.escape(fmt(c))}</td>' for j, c in enumerate(row))
        lines.append(f"<tr{cls}>{cells}</tr>")
    return f"<table>{head}<tbody>{''.join(lines)}</tbody></table>"


def image(content: bytes, alt: str, mime: str = "image/png") -> str:
    """An ``<img>`` holding ``content`` as a data URI."""
    encoded = base64.b64encode(content).decode("ascii")
    return f'<img src="data:{mime};base64,{encoded}" alt="{html.escape(alt)}">'


def records_of(data: rdata.WorkDirData, mode: str) -> list[dict]:
    return [r for r in data.records if r.get("mode") == mode]


def keys_of(records: list[dict]) -> list[str]:
    """Numeric keys of the records, in order of first appearance."""
    seen: dict[str, None] = {}
    for r in records:
        for k, v in r.items():
            if k not in ("mode", "iter", "epoch") and _is_number(v):
                seen.setdefault(k, None)
    return list(seen)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def series(records: list[dict], key: str) -> tuple[list[int], list[float]]:
    pairs = [(int(r["iter"]), float(r[key])) for r in records if _is_number(r.get(key))]
    return [p[0] for p in pairs], [p[1] for p in pairs]


def first_last(records: list[dict], key: str) -> tuple[float | None, float | None]:
    _, values = series(records, key)
    return (values[0], values[-1]) if values else (None, None)


# --------------------------------------------------------------------------- sections
def summary_section(data: rdata.WorkDirData) -> str:
    run = data.run or {}
    train, val = records_of(data, "train"), records_of(data, "val")
    last_iter = max((int(r["iter"]) for r in data.records), default=0)
    max_iters = run.get("max_iters")
    rows = [("config", run_name(data)), ("work dir", str(data.work_dir)),
            ("command", run.get("command") or "not recorded (no report/run.json in this work dir)"),
            ("iterations", f"{last_iter} / {max_iters}" if max_iters else str(last_iter)),
            ("time", _time_text(run, train)),
            ("JSON log", ", ".join(p.name for p in data.logs))]
    if run:
        rows += [("device", f"{run.get('device')} × {run.get('world_size')}"),
                 ("seglab", str(run.get("seglab_version"))), ("seed", str(run.get("seed")))]
    for key in ("env_info", "mmseg_version"):
        if data.header.get(key):
            rows.append((key, str(data.header[key])[:300]))
    parts = [table(None, rows, left=(1,))]
    summary_keys = [k for k in keys_of(val) if k == "aAcc" or (k[:1] == "m" and k[1:2].isupper() and "." not in k)]
    if summary_keys:
        metric_rows = []
        for key in summary_keys:
            its, values = series(val, key)
            best = int(np.nanargmax(values)) if not all(math.isnan(v) for v in values) else 0
            metric_rows.append((key, values[-1], its[-1], values[best], its[best]))
        parts.append(table(["metric", "final", "at iteration", "best", "at iteration"], metric_rows))
    else:
        parts.append(note("No evaluation in the log yet: final and best metrics appear after the first one."))
    return "\n".join(parts)


def _time_text(run: dict, train: list[dict]) -> str:
    started, finished = run.get("started"), run.get("finished")
    spans = [(r["time"], int(r["iter"])) for r in train if _is_number(r.get("time"))]
    per_iter = float(np.median([t for t, _ in spans])) if spans else None
    text = []
    if started:
        text.append(f"started {started}")
    if finished:
        seconds = run.get("finished_unix", 0) - run.get("started_unix", 0)
        text.append(f"finished {finished} ({_duration(seconds)})")
    elif started:
        text.append("not finished (still running, or stopped before the end)")
    if per_iter is not None:
        text.append(f"{per_iter:.3f} s per iteration (median of the log)")
    return "; ".join(text) or "not recorded"


def _duration(seconds: float) -> str:
    seconds = int(max(seconds, 0))
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


def losses_section(data: rdata.WorkDirData) -> str:
    train = records_of(data, "train")
    keys = keys_of(train)
    heads: dict[str, list[str]] = {}
    for key in keys:
        head, _, name = key.partition(".")
        if name and name not in NOT_LOSSES:
            heads.setdefault(head, []).append(key)
    if not heads and "loss" not in keys:
        return note("The log has no training losses.")
    panels = []
    if "loss" in keys:
        panels.append(Panel("total (loss)", "loss", {"loss": series(train, "loss")}))
    for head, head_keys in heads.items():
        dashed = {k for k in head_keys if "loss" not in k}
        panels.append(Panel(f"head {head}", "loss", {k: series(train, k) for k in head_keys}, dashed=dashed))
    rows = []
    for key in [k for ks in heads.values() for k in ks] + (["loss"] if "loss" in keys else []):
        first, last = first_last(train, key)
        rows.append((key, "yes" if "loss" in key else "no: logged only", first, last, min(series(train, key)[1])))
    parts = [image(panels_png(panels), "losses over iterations"),
             table(["key", "optimised", "first", "last", "min"], rows)]
    losses = (data.run or {}).get("losses")
    if losses:
        parts.append("<p>The losses of the model (from its heads):</p>")
        parts.append(table(["key", "type", "loss_weight", "class weights"],
                           [(r["key"], r["type"], r.get("loss_weight"), "yes" if r.get("class_weight") else "no")
                            for r in losses], left=(1,)))
    parts.append("<p>A key that does not contain <code>loss</code> is logged but not added to the total "
                 "(MMSegmentation 0.x's rule); it is drawn dashed.</p>")
    return "\n".join(parts)


def lr_section(data: rdata.WorkDirData) -> str:
    train = records_of(data, "train")
    keys = keys_of(train)
    lr_keys = [k for k in keys if k.startswith("lr_")] or [k for k in keys if k == "lr"]
    parts = []
    if lr_keys:
        panel = Panel("learning rate per param group", "lr (log scale)", {k: series(train, k) for k in lr_keys}, log=True)
        parts.append(image(panels_png([panel], columns=1, panel_size=(8.0, 3.2)), "learning rates"))
    else:
        parts.append(note("The log has no learning rates."))
    if "lr_default" in lr_keys and len(lr_keys) > 1:
        rows = []
        for key in lr_keys:
            if key == "lr_default":
                continue
            ratios = [r[key] / r["lr_default"] for r in train
                      if _is_number(r.get(key)) and _is_number(r.get("lr_default")) and r["lr_default"]]
            if ratios:
                rows.append((f"{key} / lr_default", ratios[0], ratios[-1], min(ratios), max(ratios)))
        parts.append("<p>Each group's lr as a multiple of the default group's, as logged:</p>")
        parts.append(table(["ratio", "first record", "last record", "min", "max"], rows))
        parts.append("<p>The ratio is the rule's <code>lr_mult</code> while the lr is far above "
                     "<code>lr_config.min_lr</code>, which is one absolute floor for every group (as in 0.x): near "
                     "the end of a poly schedule the ratio shrinks towards 1.</p>")
    rules = (data.run or {}).get("lr_rules")
    if rules:
        base = next((r["lr"] for r in rules if r["rule"] == "default"), None)
        parts.append("<p>Initial lr and weight decay by rule (<code>seglab lr-table CONFIG</code> lists every "
                     "parameter):</p>")
        parts.append(table(["rule", "log key", "params", "initial lr", "× default", "weight decay"],
                           [(r["rule"], r["log_key"], r["params"], r["lr"], r["lr"] / base if base else None,
                             r["weight_decay"]) for r in rules], left=(1,)))
    else:
        parts.append(note("The lr-table summary is not in this work dir (report/run.json is written by seglab train)."))
    return "\n".join(parts)


def ohem_section(data: rdata.WorkDirData) -> str:
    train = records_of(data, "train")
    kept = [k for k in keys_of(train) if k.endswith(".ohem_kept")]
    samplers = {s["key"]: s for s in (data.run or {}).get("samplers") or []}
    if not kept and not samplers:
        return note("No head logs ohem_kept: OHEM is not used in this run.")
    parts = []
    if kept:
        panel = Panel("fraction of the valid pixels OHEM kept", "kept", {k: series(train, k) for k in kept},
                      ylim=(0, 1.05))
        parts.append(image(panels_png([panel], columns=1, panel_size=(8.0, 3.0)), "OHEM kept fraction"))
    rows = []
    for key in dict.fromkeys([*kept, *samplers]):
        s = samplers.get(key, {})
        _, values = series(train, key)
        rows.append((key, s.get("type"), s.get("thresh"), s.get("min_kept"), values[0] if values else None,
                     values[-1] if values else None, float(np.mean(values)) if values else None))
    parts.append(table(["key", "sampler", "thresh", "min_kept", "first", "last", "mean"], rows, left=(1,)))
    parts.append("<p>1.0 means every valid pixel was kept (all were hard, or <code>min_kept</code> reached "
                 "them all): OHEM then changes nothing. The loss is a mean over all pixels, kept or not, as in 0.x.</p>")
    return "\n".join(parts)


def class_weights_section(data: rdata.WorkDirData) -> str:
    run = data.run or {}
    counts = data.label_counts or {}
    classes = run.get("classes") or counts.get("classes") or (data.evaluation or {}).get("classes")
    if not classes:
        return note("The classes are not known in this work dir (report/run.json and report/label_counts.json "
                    "are missing).")
    weighted = [loss for loss in run.get("losses") or [] if loss.get("class_weight")]
    pixels = counts.get("counts")
    total = sum(pixels) if pixels else 0
    header = ["class", "pixels (sample)", "frequency"] + [f"{loss['key']} weight" for loss in weighted]
    rows = []
    for i, name in enumerate(classes):
        row = [name, pixels[i] if pixels else None, f"{100 * pixels[i] / total:.3f}%" if total else None]
        row += [loss["class_weight"][i] if i < len(loss["class_weight"]) else None for loss in weighted]
        rows.append(row)
    parts = [table(header, rows)]
    if pixels:
        parts.append(f"<p>Pixels counted on {counts.get('images')} of the {counts.get('of')} training label maps "
                     "(spread over the set), ignored pixels left out. <code>seglab class-weights CONFIG</code> "
                     "counts them all and computes weights from them.</p>")
    else:
        parts.append(note("Pixel frequencies are not in this work dir (report/label_counts.json)."))
    if not run.get("losses"):
        parts.append(note("The model's losses are not in this work dir (report/run.json), so the class weights "
                          "in use are unknown."))
    elif not weighted:
        parts.append(note("No loss of this run uses class weights."))
    return "\n".join(parts)


def metrics_section(data: rdata.WorkDirData) -> str:
    val = records_of(data, "val")
    if not val:
        return note("No evaluation in the log.")
    keys = keys_of(val)
    by_kind: dict[str, list[str]] = {}
    for key in keys:
        kind, _, name = key.partition(".")
        if name and kind in METRIC_KINDS:
            by_kind.setdefault(kind, []).append(key)
    summary = [k for k in keys if k == "aAcc" or (k[:1] == "m" and k[1:2].isupper() and "." not in k)]
    panels = [Panel("summary", "fraction", {k: series(val, k) for k in summary}, ylim=(0, 1.02))] if summary else []
    panels += [Panel(kind, kind, {k.partition(".")[2]: series(val, k) for k in kind_keys}, ylim=(0, 1.02))
               for kind, kind_keys in by_kind.items()]
    parts = [image(panels_png(panels), "metrics over evaluations")]
    if by_kind:
        last = val[-1]
        names = list(dict.fromkeys(k.partition(".")[2] for ks in by_kind.values() for k in ks))
        rows = [[name] + [_percent(last.get(f"{kind}.{name}")) for kind in by_kind] for name in names]
        parts.append(f"<p>Per class at the last evaluation (iteration {last['iter']}), in %:</p>")
        parts.append(table(["class", *by_kind], rows))
    return "\n".join(parts)


def _percent(value: Any) -> float | None:
    return round(100 * value, 2) if _is_number(value) else None


def confusion_section(data: rdata.WorkDirData) -> str:
    evaluation = data.evaluation
    if evaluation is None:
        return note("No confusion matrix in this work dir (report/eval.npz is written at each evaluation of "
                    "seglab train).")
    matrix, classes = evaluation["confusion"], evaluation["classes"]
    return (image(confusion_png(matrix, classes), "confusion matrix") +
            f"<p>Evaluation at iteration {evaluation['iter']}: {int(matrix.sum()):,} labelled pixels of "
            f"{len(evaluation['image_names'])} images. Row = label, column = prediction, in % of the row's "
            "pixels; the diagonal is each class's accuracy (recall).</p>")


def predictions_section(data: rdata.WorkDirData) -> str:
    evaluation = data.evaluation
    parts = []
    for pick in data.picks:
        caption = (f"{pick['which']}: {pick['file']}, Dice {pick['dice']:.4f} (iteration {pick.get('iter')}). "
                   "Image | label | prediction.")
        parts.append(f"<figure>{image(pick['jpeg'], caption, 'image/jpeg')}"
                     f"<figcaption>{html.escape(caption)}</figcaption></figure>")
    if not parts:
        parts.append(note("No prediction overlays in this work dir (report/picks.json is written at each "
                          "evaluation of seglab train)."))
    if evaluation is not None:
        from seglab.evaluation.details import image_scores

        dice, iou = image_scores(evaluation["image_areas"], "Dice"), image_scores(evaluation["image_areas"], "IoU")
        order = np.argsort(-np.nan_to_num(dice, nan=-1), kind="stable")
        rows = [(evaluation["image_names"][i], dice[i], iou[i]) for i in order]
        parts.append("<p>Per-image score: the mean over the classes present in the image's label or prediction.</p>")
        parts.append(f"<details><summary>every validation image's Dice and IoU ({len(rows)})</summary>"
                     f"{table(['image', 'Dice', 'IoU'], rows)}</details>")
    return "\n".join(parts)


def config_section(data: rdata.WorkDirData) -> str:
    from seglab.config.loader import load_base_values, load_config_file

    run = data.run or {}
    resolved_path = _resolved_config_path(data)
    if resolved_path is None:
        return note("The resolved config is not in this work dir.")
    try:
        resolved = load_config_file(resolved_path)
    except Exception as e:  # a page with a note beats no page
        return note(f"{resolved_path.name} could not be read: {e}")
    original = Path(run["config_file"]) if run.get("config_file") else None
    base = own = None
    parts = []
    if original is not None and original.is_file():
        try:
            base, own = load_base_values(original), load_config_file(original)
        except Exception as e:
            parts.append(note(f"The original config {original} could not be read ({e}): differences from its "
                              "_base_ chain are not marked."))
    else:
        where = f" ({original} is gone)" if original else ""
        parts.append(note(f"The original config file is not at hand{where}: differences from its _base_ chain "
                          "are not marked."))
    rows = compare(resolved, base, own)
    changed = [r for r in rows if r.set_by]
    if base is not None:
        parts.append(f"<p>{len(changed)} of {len(rows)} values differ from the <code>_base_</code> files of "
                     f"<code>{html.escape(str(original))}</code>: set by the config file itself, or overridden "
                     "at run time (<code>--cfg-options</code>, <code>--work-dir</code>, ...).</p>")
        parts.append(table(["key", "value", "_base_ value", "set by"],
                           [(r.key, _short(r.value), _short(r.base), r.set_by) for r in changed], left=(1, 2, 3)))
    full = table(["key", "value", "set by"], [(r.key, _short(r.value), r.set_by) for r in rows],
                 row_class=["changed" if r.set_by else "" for r in rows], left=(1, 2))
    parts.append(f"<details><summary>the resolved config ({html.escape(resolved_path.name)}, {len(rows)} values; "
                 f"changed ones highlighted)</summary>{full}</details>")
    return "\n".join(parts)


def _resolved_config_path(data: rdata.WorkDirData) -> Path | None:
    names = [(data.run or {}).get("config_dump"), data.header.get("exp_name")]
    for name in names:
        if name and (data.work_dir / name).is_file():
            return data.work_dir / name
    dumped = sorted(data.work_dir.glob("*.py"))
    return dumped[0] if len(dumped) == 1 else None


def _short(value: Any, limit: int = 160) -> str:
    if value is MISSING:
        return "(not in _base_)"
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


# (id, title, builder) of each section, in page order
SECTIONS: tuple[tuple[str, str, Callable[[rdata.WorkDirData], str]], ...] = (
    ("summary", "Run", summary_section), ("losses", "Losses", losses_section),
    ("lr", "Learning rates", lr_section), ("ohem", "OHEM", ohem_section),
    ("class-weights", "Class weights", class_weights_section),
    ("metrics", "Per-class metrics", metrics_section), ("confusion", "Confusion matrix", confusion_section),
    ("predictions", "Predictions", predictions_section), ("config", "Config", config_section))
