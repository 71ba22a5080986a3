"""The ``--executor`` options shared by ``proceval run`` and ``proceval qdc``: where the work runs."""

from __future__ import annotations

import argparse
from typing import Any

from proceval.errors import RunError


def add_executor_arguments(parser: argparse.ArgumentParser, *, what: str) -> None:
    g = parser.add_argument_group("executor")
    g.add_argument("--executor", choices=("local", "ray"), default="local",
                   help=f"local (default), or ray: {what} sharded over Ray actors (pip install 'proceval[ray]')")
    g.add_argument("--ray-address", metavar="ADDRESS",
                   help="a running Ray cluster: auto or HOST:PORT of its head (default: start one on this machine)")
    g.add_argument("--ray-actors", type=int, metavar="N", help="actors, each with its own model copy (default 1)")
    g.add_argument("--ray-cpus", type=float, metavar="N", help="CPUs per actor (default 1)")
    g.add_argument("--ray-gpus", type=float, metavar="N", help="GPUs per actor (default 0)")


def ray_settings(args: argparse.Namespace) -> dict[str, Any] | None:
    """The Ray options given (for RayExecutor / RayEncoder), or None for a local run; Ray options without
    ``--executor ray`` are refused rather than ignored."""
    given = {"address": args.ray_address, "actors": args.ray_actors, "num_cpus": args.ray_cpus,
             "num_gpus": args.ray_gpus}
    if args.executor != "ray":
        if named := [f"--{k}" for k, v in (("ray-address", args.ray_address), ("ray-actors", args.ray_actors),
                                           ("ray-cpus", args.ray_cpus), ("ray-gpus", args.ray_gpus)) if v is not None]:
            raise RunError(f"{', '.join(named)} only apply with --executor ray", field=named[0],
                           hint="add --executor ray, or leave them out")
        return None
    if args.ray_actors is not None and args.ray_actors < 1:
        raise RunError("--ray-actors must be 1 or more", field="--ray-actors")
    return {k: v for k, v in given.items() if v is not None}
