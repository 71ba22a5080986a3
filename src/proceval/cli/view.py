"""`proceval view REPORT`: open a report in the web browser."""

from __future__ import annotations

import argparse
from pathlib import Path

from proceval.report import open_report


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = subparsers.add_parser(
        "view",
        help="open a report (its folder or report.html) in the web browser",
        description="Open REPORT's report.html in the web browser ($BROWSER if set).",
    )
    parser.add_argument("report", type=Path, metavar="REPORT", help="report folder (`proceval analyze --out`)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    print(f"opened {open_report(args.report)}", flush=True)
    return 0
