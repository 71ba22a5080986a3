"""`proceval irt`: fit an item response model to runs, human tables or response-matrix CSVs."""

from __future__ import annotations

import argparse
from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from proceval.analysis.irt import MODELS, run_irt


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = subparsers.add_parser(
        "irt",
        help="item response theory: item difficulties/discriminations and person abilities",
        description="Fit an IRT model (marginal ML by EM) to each input: a run directory (one respondent per "
        "persona, or per model with --by subject), a long human table, or a wide 0/1 matrix CSV "
        "(person column, then one column per item).",
    )
    parser.add_argument("inputs", nargs="+", type=Path, help="run directories, human tables or matrix CSVs")
    parser.add_argument("--model", default="2pl", choices=MODELS, help="IRT model (default 2pl; grm for ratings)")
    parser.add_argument("--dataset", type=Path, help="dataset directory (to score a human table)")
    parser.add_argument("--by", choices=("source", "subject"), default="source",
                        help="source: one population per input (default); subject: pool inputs, one row per model")
    parser.add_argument("--out", type=Path, help="directory for items_*.csv, persons_*.csv, summary.json")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    console = Console()
    fits = run_irt(args.inputs, args.out, model=args.model, dataset=args.dataset, by=args.by, progress=True)
    for name, fit in fits.items():
        summary = fit.summary()
        console.print(f"[bold]{escape(name)}[/]: {fit.model}, {fit.n_persons} respondents × {len(fit.items)} items, "
                      f"log-lik {fit.loglik:.1f}, AIC {fit.aic:.1f}, BIC {fit.bic:.1f}"
                      + ("" if fit.converged else " [red](not converged)[/]"))
        table = Table("item", "a", "b", "p", "rmsd", show_lines=False)
        frame = fit.items_frame().sort_values("b")
        rows = frame if len(frame) <= 12 else frame.iloc[[*range(6), *range(len(frame) - 6, len(frame))]]
        for row in rows.itertuples():
            p = getattr(row, "p_correct", getattr(row, "mean_response", float("nan")))
            table.add_row(escape(str(row.item_id)[:24]), f"{row.a:.2f}", f"{row.b:.2f}", f"{p:.2f}", f"{row.rmsd:.3f}")
        console.print(table)
        for item, reason in list(summary["excluded_items"].items())[:10]:
            console.print(f"  [yellow]excluded item[/] {escape(item)}: {escape(reason)}")
        if len(summary["excluded_items"]) > 10:
            console.print(f"  … and {len(summary['excluded_items']) - 10} more excluded items (summary.json)")
        if summary["excluded_persons"]:
            console.print(f"  [yellow]excluded {len(summary['excluded_persons'])} respondent(s)[/] without usable answers")
        for warning in summary["warnings"]:
            console.print(f"  [red]warning[/]: {escape(warning)}")
    if args.out:
        console.print(f"[green]wrote[/] {escape(str(args.out))}")
    return 0
