"""`proceval runs [DIR]`: the run directories under a folder, with status, counts and settings."""

from __future__ import annotations

import argparse
from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from proceval.analysis.data import list_runs


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = subparsers.add_parser(
        "runs",
        help="list run directories with status, counts and settings",
        description="List the run directories under DIR (default: the current folder), read from their run.json: "
        "status, subject, strategy, scoring, answers so far, invalid answers and errors.",
    )
    parser.add_argument("dir", nargs="?", type=Path, default=Path("."), metavar="DIR",
                        help="folder to search (default: .)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    console = Console()
    runs = list_runs(args.dir)
    if not runs:
        console.print(f"no run directories under {escape(str(args.dir))}")
        return 0
    table = Table(title=f"runs under {escape(str(args.dir))}")
    for column in ("run", "status", "subject", "answered", "invalid", "errors", "settings"):
        table.add_column(column, no_wrap=column != "settings",
                         overflow="fold")
    for r in runs:
        name = str(Path(r["path"]).relative_to(args.dir)) if Path(r["path"]) != args.dir else "."
        answered = f"{r.get('responses', '')}" + (f"/{r['items']}" if r.get("items") is not None else "")
        settings = ", ".join(str(v) for v in (r.get("template"), r.get("strategy"), r.get("scoring"),
                                              None if r.get("seed") is None else f"seed {r['seed']}",
                                              None if r.get("limit") is None else f"limit {r['limit']}") if v)
        table.add_row(*(escape(str(v)) for v in (name, r["status"], r.get("subject") or "", answered,
                                                 r.get("invalid", ""), r.get("errors", ""), settings)))
    console.print(table)
    return 0
