"""``proceval humans export``: the stored answers of a web study as the long table the analysis reads."""

from __future__ import annotations

import argparse
from typing import Any


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("humans", help="human study data: export answers and participants")
    commands = parser.add_subparsers(dest="humans_command", metavar="COMMAND", required=True)
    export = commands.add_parser(
        "export", help="write the answers as a long table (participant, item_id, response, rt_ms, ...)",
        description="Export the web study's answers in the format `proceval analyze --humans` reads. "
                    "By default only completed, non-pilot sessions and no attention-check answers.")
    export.add_argument("--db", required=True, help="the study database: sqlite:///FILE or postgresql://...")
    export.add_argument("--out", required=True, help="output file, .csv or .jsonl")
    export.add_argument("--format", choices=["csv", "jsonl"], help="override the format given by --out's suffix")
    export.add_argument("--include-pilot", action="store_true", help="keep answers from pilot sessions")
    export.add_argument("--include-incomplete", action="store_true", help="keep answers from unfinished sessions")
    export.add_argument("--include-checks", action="store_true", help="keep attention-check answers")
    export.set_defaults(func=run_export)
    people = commands.add_parser(
        "participants", help="write one row per session: progress, timing, attention checks, demographics",
        description="Export the study's sessions (one row each) with their demographics answers.")
    people.add_argument("--db", required=True, help="the study database: sqlite:///FILE or postgresql://...")
    people.add_argument("--out", required=True, help="output file, .csv or .jsonl")
    people.add_argument("--format", choices=["csv", "jsonl"], help="override the format given by --out's suffix")
    people.add_argument("--include-pilot", action="store_true", help="keep pilot sessions")
    people.set_defaults(func=run_participants)


def run_export(args: argparse.Namespace) -> int:
    from proceval.humans import export_responses

    summary = export_responses(args.db, args.out, format=args.format, include_pilot=args.include_pilot,
                               include_incomplete=args.include_incomplete, include_checks=args.include_checks)
    print(f"wrote {summary.path}: {summary.describe()}")
    return 0


def run_participants(args: argparse.Namespace) -> int:
    from proceval.humans import export_participants

    summary = export_participants(args.db, args.out, format=args.format, include_pilot=args.include_pilot)
    print(f"wrote {summary.path}: {summary.describe()}")
    return 0
