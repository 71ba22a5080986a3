"""``proceval simulate SPEC --out DIR``: run a social-contract simulation file (thin wrapper of simulate())."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "simulate", help="run a multi-agent simulation file (the ultimatum game)",
        description="Run the simulation SPEC declares into --out. Run the same command again to resume: finished "
        "model calls come from OUT/calls.sqlite.")
    p.add_argument("spec", help="simulation file (YAML; see docs/simulate.md)")
    p.add_argument("--out", "-o", required=True, help="directory to write (episodes.jsonl, simulation.json, ...)")
    p.add_argument("--model", "-m", help="provider/model of the assistant, replacing the file's model:")
    p.set_defaults(func=simulate_command)


def simulate_command(args: argparse.Namespace) -> int:
    from proceval.envs.simulation import load_spec, simulate

    spec = load_spec(args.spec)
    if args.model:
        spec = spec.model_copy(update={"model": args.model})
    summary = simulate(spec, args.out)
    _print_runs(Path(args.out))
    print(f"{summary['episodes']} episodes ({summary['failed']} failed, {summary['invalid']} invalid replies "
          f"retried), {summary['turns']} turns; model calls: {summary['calls']} made, {summary['cache_hits']} "
          f"from the cache → {args.out}")
    return 0


def _print_runs(out: Path) -> None:
    """Write OUT/runs.csv (the per-run measures) and print them, averaged over experiments."""
    from rich.console import Console
    from rich.table import Table

    from proceval.envs.analysis import read_episodes, run_table

    table = run_table(read_episodes(out))
    table.to_csv(out / "runs.csv", index=False)
    means = table.groupby(["policy", "manner", "distribution", "player", "run"], sort=True)[
        ["offered", "acceptance", "income"]].mean().reset_index()
    shown = Table("policy", "manner", "distribution", "player", "run", "offered", "acceptance", "income",
                  title="per run (mean over experiments)")
    for row in means.itertuples():
        shown.add_row(row.policy, row.manner, row.distribution, row.player, str(row.run),
                      *(("–" if value != value else f"{value:.2f}") for value in (row.offered, row.acceptance,
                                                                                  row.income)))
    Console().print(shown)
