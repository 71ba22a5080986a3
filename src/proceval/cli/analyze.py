"""`proceval analyze`: analyse runs of one dataset (and optional human data) into a report directory."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from proceval.analysis import Report, analyze, available_analyses, check_settings, parse_option
from proceval.analysis.agreement import MODEL_DEFINITIONS, TIES
from proceval.errors import AnalysisError
from proceval.report import open_report


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = subparsers.add_parser(
        "analyze",
        help="analyse runs into report.html, summary.json and tables/*.csv",
        description="Analyse one or more run directories of the same dataset (and optionally human answers) "
        "and write a self-contained report.html, summary.json, tables/*.csv and figures/ to --out.",
    )
    parser.add_argument("runs", nargs="*", type=Path, metavar="RUN", help="run directories (`proceval run --out`), "
                        "or one simulation directory (`proceval simulate --out`)")
    parser.add_argument("--out", type=Path, help="report directory to write (required unless --list); an earlier "
                        "report there is replaced as a whole")
    parser.add_argument("--dataset", type=Path, help="dataset directory (default: the one recorded in run.json)")
    parser.add_argument("--humans", type=Path, metavar="FILE",
                        help="human answers: long table with participant, item_id, response[, rt_ms]")
    parser.add_argument("--analyses", metavar="A,B", help="comma-separated analyses (default: all that apply); "
                        "see --list")
    parser.add_argument("--list", action="store_true", help="list the analyses and exit")
    parser.add_argument("--seed", type=int, default=0, help="bootstrap seed (default 0)")
    parser.add_argument("--n-boot", type=int, default=2000, help="bootstrap resamples (default 2000)")
    parser.add_argument("--level", type=float, default=0.95, help="confidence level (default 0.95)")
    parser.add_argument("--title", help="report title")
    parser.add_argument("--by", metavar="F1,F2", help="also group agreement with people by these factors")
    parser.add_argument("--agreement-model", choices=list(MODEL_DEFINITIONS), default="mode_of_all",
                        help="what a model's answer is compared with: " + "; ".join(
                            f"{k}: {v}" for k, v in MODEL_DEFINITIONS.items()))
    parser.add_argument("--ties", choices=list(TIES), default="split",
                        help="tied modal answers: " + "; ".join(f"{k}: {v}" for k, v in TIES.items()))
    parser.add_argument("--option", action="append", default=[], metavar="KEY=VALUE",
                        help="an option of an analysis, e.g. irt_model=3pl (repeatable; --list shows them)")
    parser.add_argument("--judge", metavar="MODEL", help="a simulation's report: the model (provider/name) that "
                        "reads each principle the assistant wrote and names the policy it describes")
    parser.add_argument("--open", action="store_true", help="open report.html in the web browser when done")
    parser.set_defaults(func=run)


def print_report(report: Report, console: Console | None = None) -> None:
    """Headline numbers, analyses that did not apply, and where the report is."""
    console = console or Console()
    settings = report.summary.get("settings", {})
    accuracy = report.summary.get("analyses", {}).get("accuracy", {})
    if accuracy.get("status") == "ok":
        table = Table(title="accuracy")
        for column in ("subject", "n", "accuracy", f"{round(settings.get('level', 0.95) * 100)}% CI", "chance",
                       "invalid", "failed"):
            table.add_column(column)
        for subject, r in accuracy["numbers"]["overall"].items():
            low, high = (v if v is not None else float("nan") for v in r["ci"])
            value = r["accuracy"] if r["accuracy"] is not None else float("nan")
            table.add_row(escape(subject), str(r["n"]), f"{value:.3f}", f"[{low:.3f}, {high:.3f}]",
                          f"{r['chance']:.2f}" if r["chance"] is not None else "—",  # none for free text
                          str(r["n_invalid"]), str(r["n_failed"]))
        console.print(table)
    humans = report.summary.get("humans") or {}
    if humans.get("unusable"):
        unusable = sum(humans["unusable"].values())
        console.print(f"[yellow]human answers not used: {unusable} of {humans.get('rows')}[/]", highlight=False)
        for reason, count in humans["unusable"].items():
            console.print(f"  {count} × {escape(reason)}", highlight=False)
    requested = set(settings.get("requested", []))
    for name, entry in report.summary.get("analyses", {}).items():
        for part, reason in (entry.get("failures") or {}).items():
            console.print(f"[red]{escape(name)}: not computed for {escape(part)}: {escape(reason)}[/]")
    for name, reason in report.failed.items():
        console.print(f"[red]failed: {escape(name)}: {escape(reason)}[/]")
    for name, reason in report.skipped.items():
        style = "yellow" if name in requested else "dim"
        label = "requested analysis not applicable" if name in requested else "not applicable"
        console.print(f"[{style}]{label}: {escape(name)}: {escape(reason)}[/]")
    console.print("[green]report:[/]", end=" ")
    print(report.html_path, flush=True)  # plain, never wrapped: users copy it


def run(args: argparse.Namespace) -> int:
    console = Console()
    if args.list:
        for name, analysis in available_analyses().items():
            declared = "".join(f" [dim]--option {escape(k)}={escape(str(v))}[/]" for k, v in analysis.options.items())
            console.print(f"[bold]{escape(name)}[/]: {escape(analysis.description)}{declared}")
        return 0
    if args.out is None:
        raise AnalysisError("--out is required: the report directory to write", hint="e.g. --out reports/tom")
    if not args.runs and args.humans is None:
        raise AnalysisError("no run directories given", hint="proceval analyze RUN [RUN ...] --out DIR")
    check_settings(n_boot=args.n_boot, level=args.level)
    from proceval.envs.report import analyze_simulation, is_simulation

    if len(args.runs) == 1 and is_simulation(args.runs[0]):
        report = analyze_simulation(args.runs[0], args.out, judge=args.judge, seed=args.seed, n_boot=args.n_boot,
                                    level=args.level, title=args.title)
        print_report(report, console)
        if args.open:
            open_report(report.html_path)
        return 0
    names: list[str] | None = [n.strip() for n in args.analyses.split(",") if n.strip()] if args.analyses else None
    options: dict[str, Any] = {"agreement_by": args.by, "agreement_definition": args.agreement_model,
                               "agreement_ties": args.ties}
    defaults = {k: v for analysis in available_analyses().values() for k, v in analysis.options.items()}
    options.update(parse_option(text, defaults) for text in args.option)
    report = analyze(args.runs, out=args.out, dataset=args.dataset, humans=args.humans, analyses=names,
                     seed=args.seed, n_boot=args.n_boot, level=args.level, title=args.title, options=options,
                     progress=True)
    print_report(report, console)
    if args.open:
        open_report(report.html_path)
    return 0
