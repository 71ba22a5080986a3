"""2PL estimation speed and parameter recovery, side by side with girth's 2PL MML on the same data.

For each size, data are simulated from known parameters (a ~ lognormal(0, 0.3), b ~ N(0, 1), θ ~ N(0, 1));
proceval's ``fit_irt(x, "2pl")`` (full fit: EM, EAP abilities, standard errors and item fit) and
``girth.twopl_mml`` fit the same matrix in the same process, timed the same way: each warmed up once on a
small matrix, then the median of ``--repeats`` runs, both with one BLAS thread (proceval's default; on two cores
extra BLAS threads only contend). Prints JSON with wall times, the speed ratio, the correlation of each
estimate with the truth, and whether the targets hold.

    .venv/bin/python benchmarks/irt.py [--sizes 50x1000 200x5000] [--repeats 3] [--no-girth]

Targets (issue 8): 200 items × 5,000 respondents in under 2 s on 2 cores, difficulty correlation ≥ 0.995,
at least 20× faster than girth.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from typing import Any

import numpy as np

from proceval.analysis.irt import fit_irt

TARGET_SIZE = (200, 5000)  # the size the targets are stated for


def simulate(n_items: int, n_persons: int, seed: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    a = rng.lognormal(0.0, 0.3, n_items)
    b = rng.normal(0.0, 1.0, n_items)
    theta = rng.normal(0.0, 1.0, n_persons)
    x = (rng.random((n_persons, n_items)) < 1 / (1 + np.exp(-a * (theta[:, None] - b)))).astype(float)
    return {"x": x, "a": a, "b": b, "theta": theta}


def corr(x: np.ndarray, y: np.ndarray) -> float:
    return round(float(np.corrcoef(x, y)[0, 1]), 5)


def measure(n_items: int, n_persons: int, repeats: int, with_girth: bool) -> dict[str, object]:
    sim = simulate(n_items, n_persons, seed=n_items * 7 + n_persons)
    fit_irt(sim["x"][:200, :10], "2pl")  # warm up BLAS threads and imports outside the timing
    times = []
    fit = None
    for _ in range(repeats):
        start = time.perf_counter()
        fit = fit_irt(sim["x"], "2pl")
        times.append(time.perf_counter() - start)
    assert fit is not None
    ours: dict[str, Any] = {
        "seconds_median": round(statistics.median(times), 3),
        "seconds_all": [round(t, 3) for t in times],
        "iterations": fit.n_iter,
        "converged": fit.converged,
        "difficulty_r": corr(fit.b, sim["b"]),
        "discrimination_r": corr(fit.a, sim["a"]),
        "ability_r": corr(fit.theta, sim["theta"]),
    }
    row: dict[str, Any] = {"items": n_items, "persons": n_persons, "proceval": ours}
    if with_girth:
        import girth
        from threadpoolctl import threadpool_limits

        with threadpool_limits(limits=1, user_api="blas"):  # the same BLAS threads proceval uses by default
            girth.twopl_mml(sim["x"][:200, :10].T.astype(int))  # warm up, as for proceval
            girth_times = []
            for _ in range(repeats):
                start = time.perf_counter()
                theirs = girth.twopl_mml(sim["x"].T.astype(int))  # girth: items × persons
                girth_times.append(time.perf_counter() - start)
        row["girth"] = {
            "seconds_median": round(statistics.median(girth_times), 3),
            "seconds_all": [round(t, 3) for t in girth_times],
            "difficulty_r": corr(theirs["Difficulty"], sim["b"]),
            "discrimination_r": corr(theirs["Discrimination"], sim["a"]),
            "ability_r": corr(theirs["Ability"], sim["theta"]),
        }
        row["speedup_vs_girth"] = round(statistics.median(girth_times) / statistics.median(times), 1)
        row["max_abs_difference_b_vs_girth"] = round(float(np.max(np.abs(fit.b - theirs["Difficulty"]))), 4)
    if (n_items, n_persons) == TARGET_SIZE:
        row["targets"] = {
            "under_2_s": statistics.median(times) < 2.0,
            "difficulty_r_at_least_0.995": ours["difficulty_r"] >= 0.995,
            **({"at_least_20x_faster_than_girth": row["speedup_vs_girth"] >= 20} if with_girth else {}),
        }
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", nargs="+", default=["50x1000", "200x5000"], help="ITEMSxPERSONS")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--no-girth", action="store_true")
    args = parser.parse_args()
    rows = []
    for size in args.sizes:
        items, persons = (int(v) for v in size.lower().split("x"))
        rows.append(measure(items, persons, args.repeats, not args.no_girth))
    load = os.getloadavg() if hasattr(os, "getloadavg") else None
    print(json.dumps({
        "benchmark": "irt_2pl",
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                    "load_average_1m": round(load[0], 2) if load else None},
        "results": rows,
    }, indent=2))


if __name__ == "__main__":
    main()
