"""`proceval search`: heuristic searches over a countdown dataset → streams and optimal paths (Stream of Search)."""

from __future__ import annotations

import argparse
from pathlib import Path

from rich.console import Console


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = subparsers.add_parser(
        "search", help="search a countdown dataset's problems: streams + optimal paths per split",
        description="Search every problem of DATA (made by `proceval generate countdown`) and write SPLIT.jsonl "
        "(stream, optimal path, outcome per problem) and summary.json to --out.")
    parser.add_argument("data", type=Path, help="countdown dataset directory")
    parser.add_argument("--strategy", default="all",
                        help="all (one strategy drawn per problem, as in the paper), or dfs-sum, dfs-mult, "
                             "bfs1-sum … bfs5-mult")
    parser.add_argument("--out", type=Path, required=True, help="folder for the JSONL files")
    parser.add_argument("--seed", type=int, default=0, help="seed of the per-problem strategy draw (default 0)")
    parser.add_argument("--force", action="store_true", help="replace a non-empty --out")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from proceval.tasks.countdown.streams import write_streams

    summary = write_streams(args.data, args.out, strategy=args.strategy, seed=args.seed, force=args.force)
    console = Console()
    for split, row in summary["splits"].items():
        console.print(f"{split}: {row['problems']} problems, {row['solved']} solved ({row['solve_rate']:.1%})")
    if summary["skipped"]:
        console.print(f"[yellow]skipped {summary['skipped']} item(s) that are not countdown problems[/]")
    console.print(f"[green]wrote[/] {args.out}")
    return 0
