"""Entry point of the ``proceval`` command.

Each subcommand lives in its own module under ``proceval.cli`` with a ``register(subparsers)`` function
that adds its parser and sets ``func``; add new modules to ``COMMANDS``.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from proceval import __version__
from proceval.errors import ProcevalError

COMMANDS = [
    "templates",
    "generate",
    "show",
    "run",
    "serve",
    "humans",
    "qdc",
    "analyze",
    "import-humans",
    "study",
    "irt",
    "align",
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="proceval",
        description="Causal templates → controlled items → language models and people → analyses.",
    )
    parser.add_argument("--version", action="version", version=f"proceval {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        module = importlib.import_module(f"proceval.cli.{name.replace('-', '_')}")
        module.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        code = args.func(args)
    except ProcevalError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted: finished work is kept; run the same command again to resume", file=sys.stderr)
        return 130
    return int(code or 0)


if __name__ == "__main__":
    sys.exit(main())
