"""``seglab convert-config IN.py --to 1.x|0.x --out OUT.py``: the same training in the other dialect.

Writes a fully resolved, loadable config (no ``_base_``). Every setting without an exact
counterpart in the target dialect is named in a comment at the top of the file and on stderr,
with what was chosen (``seglab.config.convert``).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from seglab.config import Config, DictAction, load_config
from seglab.config.convert import convert

COMMAND = "convert-config"
HELP = "convert a config between the MMSegmentation 0.x and 1.x dialects (resolved, loadable)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("config", metavar="IN", help="the config file, in either dialect")
    parser.add_argument("--to", required=True, choices=["0.x", "1.x"], help="the dialect to write")
    parser.add_argument("--out", required=True, metavar="OUT", help="the config file to write")
    parser.add_argument("--cfg-options", nargs="+", action=DictAction, default=None, metavar="KEY=VALUE",
                        help="overrides applied before converting")


def run(args: argparse.Namespace) -> int:
    cfg = load_config(args.config, args.cfg_options)
    values, notes = convert(cfg, args.to)
    header = [f"# {Path(args.config).name}, converted by seglab convert-config", f"# to the MMSegmentation "
              f"{args.to} dialect (resolved: no _base_)."]
    header += ["# " + line for note in notes for line in _wrap(f"note: {note}")]
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(header) + "\n" + Config(values).pretty_text, encoding="utf-8")
    for note in notes:
        print(f"seglab convert-config: note: {note}", file=sys.stderr)
    print(f"wrote {out} ({args.to} dialect, {len(notes)} note{'s' if len(notes) != 1 else ''})")
    return 0


def _wrap(text: str, width: int = 98) -> list[str]:
    lines, line = [], ""
    for word in text.split():
        if line and len(line) + 1 + len(word) > width:
            lines.append(line)
            line = "  " + word
        else:
            line = f"{line} {word}" if line else word
    return lines + [line]
