"""`proceval align`: psychometric alignment of simulated populations with a human population."""

from __future__ import annotations

import argparse
from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from proceval.analysis.alignment import align
from proceval.analysis.irt import BINARY_MODELS


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = subparsers.add_parser(
        "align",
        help="psychometric alignment: IRT item parameters of simulated vs human respondents",
        description="Fit the same IRT model to the humans and to each simulated population on their shared "
        "items; report correlations of difficulties and discriminations (bootstrap CIs over items), accuracy "
        "differences and the most divergent items.",
    )
    parser.add_argument("--humans", type=Path, required=True,
                        help="long human table (participant,item_id,response[,correct]) or a wide 0/1 matrix CSV")
    parser.add_argument("--simulated", type=Path, nargs="+", required=True, metavar="RUN",
                        help="run directories (or matrix CSVs), one simulated population each")
    parser.add_argument("--dataset", type=Path, help="dataset directory (default: the one the runs answered)")
    parser.add_argument("--model", default="2pl", choices=BINARY_MODELS, help="IRT model (default 2pl)")
    parser.add_argument("--boot", type=int, default=2000, help="bootstrap resamples of items (default 2000)")
    parser.add_argument("--seed", type=int, default=0, help="bootstrap seed (default 0)")
    parser.add_argument("--top", type=int, default=5, help="divergent items to show per population (default 5)")
    parser.add_argument("--out", type=Path, required=True, help="report directory")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    result = align(args.humans, args.simulated, args.out, dataset=args.dataset, model=args.model,
                   n_boot=args.boot, seed=args.seed, top=args.top, progress=False)
    console = Console()
    table = Table("population", "respondents", "items", "difficulty r [95% CI]", "spearman", "mean |Δ acc|")
    for name, comp in result.comparisons.items():
        pearson = comp.correlations["difficulty"]["pearson"]
        spearman = comp.correlations["difficulty"]["spearman"]
        table.add_row(
            escape(name), str(comp.fit.n_persons), str(int(comp.items["estimated_both"].sum())),
            f"{pearson.r:.2f} [{pearson.ci[0]:.2f}, {pearson.ci[1]:.2f}]", f"{spearman.r:.2f}",
            f"{comp.accuracy['mean_abs_difference']:.3f}" if comp.accuracy["mean_abs_difference"] is not None else "–",
        )
    console.print(f"humans: {result.human_fit.n_persons} respondents, {len(result.human_fit.items)} estimable items")
    console.print(table)
    for name, comp in result.comparisons.items():
        for note in comp.notes:
            console.print(f"[yellow]{escape(name)}[/]: {escape(note)}")
    console.print(f"[green]wrote[/] {escape(str(args.out / 'report.html'))}")
    return 0
