"""The ``seglab`` command line.

Every module in this package that defines ``COMMAND`` is a subcommand: it also defines
``HELP``, ``add_arguments(parser)`` and ``run(args) -> int``. Errors caused by user input
(``SeglabError``) print one message and exit 1; ``--debug`` shows the traceback.
"""
from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
import warnings
from types import ModuleType

from seglab.errors import SeglabError


def _command_modules() -> list[ModuleType]:
    modules = []
    for info in pkgutil.iter_modules(__path__):
        if not info.name.startswith("_"):
            module = importlib.import_module(f"{__name__}.{info.name}")
            if hasattr(module, "COMMAND"):
                modules.append(module)
    return sorted(modules, key=lambda m: m.COMMAND)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="seglab", description="Semantic-segmentation training toolbox.")
    parser.add_argument("--debug", action="store_true", help="show Python tracebacks on errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module in _command_modules():
        p = sub.add_parser(module.COMMAND, help=module.HELP, description=module.HELP)
        p.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                       help="show Python tracebacks on errors")
        module.add_arguments(p)
        p.set_defaults(run=module.run)
    return parser


def _one_line_warning(message, category, filename, lineno, line=None) -> str:
    return f"seglab: warning: {message}\n"


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)  # the command as typed, for run reports
    if not args.debug:  # users get the message, not the source line that raised it
        warnings.formatwarning = _one_line_warning
    try:
        return int(args.run(args) or 0)
    except SeglabError as e:
        if args.debug:
            raise
        print(f"seglab {args.command}: error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"seglab {args.command}: interrupted", file=sys.stderr)
        return 130
