"""`proceval import-humans`: match a human data table in its own layout to a dataset's items."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from rich.console import Console
from rich.markup import escape

from proceval.humans.data import import_humans

LISTED = 20  # unmatched answers shown in the terminal; all of them are in the .unmatched.json report


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = subparsers.add_parser(
        "import-humans", help="turn a human data table into the long table (participant, item_id, response)")
    parser.add_argument("data", type=Path, help="the human data table (CSV, or JSONL)")
    parser.add_argument("--dataset", type=Path, required=True, help="the dataset directory the answers are to")
    parser.add_argument("--mapping", type=Path, help="mapping YAML (default: DATA.mapping.yaml beside the data)")
    parser.add_argument("--out", type=Path, required=True, help="long table to write (.csv or .jsonl)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    console = Console()
    result = import_humans(args.data, args.dataset, args.mapping)
    path = result.write(args.out)
    report = path.with_name(path.stem + ".unmatched.json")
    report.write_text(json.dumps({"stats": result.stats, "unmatched": result.unmatched}, indent=2,
                                 ensure_ascii=False) + "\n", encoding="utf-8")
    console.print(escape(result.summary()))
    where = Path(args.data).name
    for row in result.unmatched[:LISTED]:
        console.print(escape(f"  {where}:{row['line']} ({row['question']}): {row['reason']}"), highlight=False)
    if len(result.unmatched) > LISTED:
        console.print(f"  … {len(result.unmatched) - LISTED} more in {escape(str(report))}", highlight=False)
    console.print(f"wrote {escape(str(path))} and {escape(str(report))}")
    return 0
