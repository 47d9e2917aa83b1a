"""``seglab check-data CONFIG [--split train|val|test|all]``: find what would silently spoil training.

Reads every image/label pair of the split once (``seglab.data.check``), as training reads it and
as saved, and prints one line per problem (naming the file and the fix), then per split: counts,
image and label sizes, label values, how saved values become class ids, class pixel frequencies
with the ENet weights ``seglab class-weights`` would write, and a summary table. Exit code 1 when
there are errors. No file is modified.
"""
from __future__ import annotations

import argparse
import os
from collections import Counter
from collections.abc import Iterable

from seglab.cli.options import add_config_arguments, config_from_args
from seglab.errors import ConfigError

COMMAND = "check-data"
HELP = "check a config's images and labels (sizes, label values, 0/255 and colour masks, missing files)"
SPLITS = ("train", "val", "test")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_config_arguments(parser)
    parser.add_argument("--split", default="train", choices=(*SPLITS, "all"),
                        help="which data.<split> to read (default: train); all: every split in the config")


def run(args: argparse.Namespace) -> int:
    from seglab.data.check import check_split_config, dataset_node

    cfg = config_from_args(args)
    data = _data_section(cfg)
    splits = [s for s in SPLITS if s in data] if args.split == "all" else [args.split]
    reports, seen = [], {}
    for split in splits:
        if split not in data:
            raise ConfigError(f"--split {split}: the config has no data.{split}; its splits: "
                              f"{', '.join(s for s in SPLITS if s in data) or 'none'}")
        key, node = dataset_node(data, split)
        files = _files_key(node)
        if files in seen:
            print(f"{key}: the same files as {seen[files]}, not read again\n")
            continue
        seen[files] = key
        report = check_split_config(data, split, config=args.config)
        print_report(report)
        reports.append(report)
    print(format_summary(reports))
    errors = sum(len(r.errors) for r in reports)
    print(f"\n{errors} error(s), {sum(len(r.warnings) for r in reports)} warning(s); no file was modified")
    return 1 if errors else 0


def _data_section(cfg) -> dict:
    from seglab.engine.run_config import parse_run_config

    data = parse_run_config(cfg, need_max_iters=False).data.splits()
    if not data:
        raise ConfigError(f"{cfg.filename}: the config has no data=dict(train=..., ...) splits to check")
    return data


def _files_key(node: dict) -> tuple:
    keys = ("data_root", "img_dir", "ann_dir", "split", "img_suffix", "seg_map_suffix", "type")
    return tuple(str(node.get(k)) for k in keys)


def print_report(report) -> None:
    """The problems of one split, one line each, then what was found."""
    dataset = report.dataset
    if dataset is not None:
        print(f"{report.key}: {type(dataset).__name__}, {len(dataset.CLASSES)} classes "
              f"({_join(dataset.CLASSES, 8)}), ignore_index {dataset.ignore_index}")
        print(f"  images {dataset.img_dir}, labels {dataset.ann_dir}")
        if report.reader:
            print(f"  labels read by {report.reader}")
    for fault in report.faults:
        print(f"{fault.severity}: {fault.path}: {fault.kind}: {fault.message}")
    for kind, text in report.advice.items():
        print(f"fix ({kind}): {text}")
    if dataset is None or not report.pairs:
        print()
        return
    for line in describe_files(report):
        print(f"  {line}")
    for note in report.notes:
        print(f"  {note}")
    print(_class_table(report))
    print()


def describe_files(report) -> list[str]:
    """Counts, sizes and label values of the pairs that were read."""
    pairs = report.pairs
    labels = [p for p in pairs if p.label is not None]
    differ = [p for p in pairs if p.image_size and p.label_size and p.image_size != p.label_size]
    lines = [f"images {len(pairs)}, labels {len(labels) + len(report.orphan_labels)}, pairs {len(labels)}, "
             f"images without labels {len(pairs) - len(labels)}, labels without images {len(report.orphan_labels)}, "
             f"pairs whose sizes differ {len(differ)}",
             "image sizes (WxH): " + _counted(f"{w}x{h}" for w, h in (p.image_size for p in pairs if p.image_size)),
             "label sizes (WxH): " + _counted(f"{w}x{h}" for w, h in (p.label_size for p in pairs if p.label_size))]
    lines.append("saved label values: " + _grouped((_saved_text(p.saved), p.label) for p in labels if p.saved))
    lines.append("values as read: " + _grouped((_join(p.values, 12), p.label) for p in labels
                                                            if p.values is not None))
    return lines


_MODES = {"L": "grey", "P": "palette indices", "1": "1-bit", "I;16": "16-bit", "I": "32-bit", "RGB": "grey as RGB",
          "RGBA": "grey as RGBA", "LA": "grey + alpha"}


def _saved_text(saved) -> str:
    if saved.colours is not None:
        return f"{len(saved.colours)} colours ({saved.mode})"
    return f"{_join(saved.values, 12)} ({_MODES.get(saved.mode, saved.mode)})"


def _join(values: Iterable, limit: int) -> str:
    values = [str(v) for v in values]
    return ", ".join(values[:limit]) + (", ..." if len(values) > limit else "")


def _counted(items: Iterable[str], limit: int = 4) -> str:
    counts = Counter(items).most_common()
    text = "; ".join(f"{item} ({n})" for item, n in counts[:limit])
    return (text + (f"; {len(counts) - limit} other sizes" if len(counts) > limit else "")) or "none"


def _grouped(items: Iterable[tuple[str, str]], limit: int = 4) -> str:
    """``values: N files (e.g. name)`` per distinct value set, most common first."""
    groups: dict[str, list[str]] = {}
    for text, path in items:
        groups.setdefault(text, []).append(os.path.basename(path))
    ordered = sorted(groups.items(), key=lambda kv: -len(kv[1]))
    parts = [f"{text}: {len(names)} file(s), e.g. {names[0]}" for text, names in ordered[:limit]]
    more = f"; {len(ordered) - limit} other value sets" if len(ordered) > limit else ""
    return ("; ".join(parts) + more) or "none"


def _class_table(report) -> str:
    from seglab.cli.class_weights import format_weight_table
    from seglab.data.class_stats import class_weights

    counts = report.class_pixels
    if counts is None or not counts.any():
        return "  no class pixels counted"
    freqs, weights = class_weights(counts, "inverse_log")
    table = format_weight_table([str(c) for c in report.dataset.CLASSES], counts, freqs, weights, "inverse_log")
    values = ", ".join(f"{w:.4f}" for w in weights)
    return (f"  class pixel frequencies of {report.key} and the ENet weights `seglab class-weights` writes:\n"
            + "\n".join(f"    {line}" for line in table.splitlines())
            + f"\n  class_weight=[{values}]")


def format_summary(reports: list) -> str:
    """One row per split: pairs, errors, warnings and the faults by kind."""
    rows = [("split", "images", "errors", "warnings", "faults")]
    for r in reports:
        kinds = Counter(f.kind for f in r.faults)
        text = ", ".join(f"{kind} ({n})" for kind, n in kinds.most_common()) or "none"
        rows.append((r.key, str(len(r.pairs)), str(len(r.errors)), str(len(r.warnings)), text))
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    lines = ["summary:"]
    for row in rows:
        lines.append("  " + "  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths)))
                     + "  " + row[4])
    return "\n".join(lines)
