"""Entry point of the ``proceval`` command.

Each subcommand lives in its own module under ``proceval.cli`` with a ``register(subparsers)`` function
that adds its parser and sets ``func``; add new modules to ``COMMANDS`` with a one-line help.
"""

from __future__ import annotations

import argparse
import importlib
import sys
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

from proceval import __version__
from proceval.errors import ProcevalError

PACKAGE_DIR = Path(__file__).resolve().parents[1]

# name → one-line help. Only the module of the command being run is imported: the others pull in heavy
# libraries (torch, pandas, statsmodels) that a quick `proceval show` should not wait for.
COMMANDS = {
    "templates": "list built-in templates: factors, conditions, responses",
    "generate": "fill a template (lexicon, imported rows or an LLM writer) and write its items",
    "show": "print a few items, one per condition, or a causal graph",
    "run": "give a dataset's items to a language model (resumable)",
    "serve": "serve a dataset to human participants as a web study",
    "humans": "human study data: export answers and participants",
    "import-humans": "import human responses from a table in its own layout",
    "import-model-answers": "import answers models gave elsewhere as a run directory",
    "analyze": "analyse runs (and human data) into report.html and summary.json",
    "runs": "list run directories with status, counts and settings",
    "view": "open a report in the web browser",
    "study": "run every stage of a study file, resuming what is done",
    "qdc": "quality, diversity and complexity profile of generated datasets",
    "irt": "fit item response theory models to responses",
    "align": "psychometric alignment of simulated and human populations",
    "search": "search countdown problems: streams and optimal paths for Stream of Search",
    "simulate": "run a multi-agent simulation file (the ultimatum game), resumable",
    "sami": "SAMI: constitutions, generation, training and evaluation of a model that follows principles",
    "train": "train models on search streams (sft) and by self-improvement (star)",
}


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The parser. Only ``command``'s module is imported and registers its options; the rest are listed."""
    parser = argparse.ArgumentParser(
        prog="proceval",
        description="Causal templates → controlled items → language models and people → analyses.",
    )
    parser.add_argument("--version", action="version", version=f"proceval {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, help_text in COMMANDS.items():
        if name == command:
            module = importlib.import_module(f"proceval.cli.{name.replace('-', '_')}")
            module.register(subparsers)
        else:
            subparsers.add_parser(name, help=help_text)
    return parser


def _command_in(argv: Sequence[str]) -> str | None:
    """The subcommand named in ``argv`` (the first argument that is not an option), if it is one of ours."""
    for arg in argv:
        if not arg.startswith("-"):
            return arg if arg in COMMANDS else None
    return None


def _show_warning(message: Warning | str, category: type[Warning], filename: str, lineno: int,
                  file: TextIO | None = None, line: str | None = None) -> None:
    """proceval's own warnings (skipped ids, dropped rows...) as one plain line; others as Python shows them."""
    if Path(filename).resolve().is_relative_to(PACKAGE_DIR):
        print(f"warning: {message}", file=file or sys.stderr)
    else:
        print(warnings.formatwarning(message, category, filename, lineno, line), end="", file=file or sys.stderr)


def main(argv: Sequence[str] | None = None) -> int:
    warnings.showwarning = _show_warning
    arguments = list(sys.argv[1:] if argv is None else argv)
    command = _command_in(arguments)
    parser = build_parser(command)  # no command (e.g. --help): every command listed, none imported
    args = parser.parse_args(arguments)
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
