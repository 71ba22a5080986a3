"""`proceval import-model-answers`: answers models gave elsewhere → a run directory `analyze` reads.

Named for what it imports: answers, not models (``import-models`` reads as fetching model weights).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from rich.console import Console
from rich.markup import escape

from proceval.humans.model_answers import import_model_answers

LISTED = 20  # answers that name no item shown in the terminal; all are in run.json


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = subparsers.add_parser(
        "import-model-answers", help="import answers models gave elsewhere as a run directory",
        description="Match model answers in a table of their own layout (a model column, or one file per "
        "model) to a dataset's items through a mapping, as import-humans does, and write a run directory.")
    parser.add_argument("data", type=Path, nargs="+", help="answer tables (CSV or JSONL)")
    parser.add_argument("--dataset", type=Path, required=True, help="the dataset directory the answers are to")
    parser.add_argument("--mapping", type=Path, help="mapping YAML (default: DATA.mapping.yaml beside each file)")
    parser.add_argument("--model", action="append", metavar="NAME",
                        help="the model of each file, in order, when the table has no model column")
    parser.add_argument("--out", type=Path, required=True, help="run directory to write")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    console = Console()
    result = import_model_answers(args.data, args.dataset, args.out, mapping=args.mapping, models=args.model)
    console.print(escape(result.summary()), highlight=False)
    for row in result.unmatched[:LISTED]:
        console.print(escape(f"  {Path(row['file']).name}:{row['line']} ({row['model']}): {row['reason']}"),
                      highlight=False)
    if len(result.unmatched) > LISTED:
        console.print(f"  … {len(result.unmatched) - LISTED} more in run.json", highlight=False)
    console.print(f"wrote {escape(str(result.path))}", highlight=False)
    return 0
