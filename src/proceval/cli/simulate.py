"""``proceval simulate SPEC --out DIR``: run a social-contract simulation file (thin wrapper of simulate())."""

from __future__ import annotations

import argparse
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
    print(f"{summary['episodes']} episodes ({summary['failed']} failed, {summary['invalid']} invalid replies "
          f"retried), {summary['turns']} turns; model calls: {summary['calls']} made, {summary['cache_hits']} "
          f"from the cache → {args.out}")
    return 0
