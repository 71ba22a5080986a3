"""How long the analyses take on a BigToM-sized study, and what the vectorised bootstrap buys.

Writes a 5,000-item dataset (200 scenarios × 25 conditions), three model runs with option probabilities and a
human table (20 participants × 250 items), then times loading and each analysis. The baseline, measured in
the same run on the same accuracy groups, is what a user would otherwise call: ``scipy.stats.bootstrap``
(percentile method, vectorised, the same number of resamples); the report gives the ratio and the largest
difference between the two intervals (both are Monte-Carlo estimates of the same interval).

    .venv/bin/python benchmarks/analysis_scale.py [--n-boot 2000]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.analysis.runfiles import choice_response, write_run  # noqa: E402
from tests.conftest import choice_item, write_dataset  # noqa: E402

from proceval.analysis import AnalysisContext, load_responses, run_analyses  # noqa: E402
from proceval.analysis.accuracy import scored_rows  # noqa: E402
from proceval.analysis.bootstrap import bootstrap_ci  # noqa: E402

BELIEFS = ["true_belief", "false_belief", "true_control", "false_control"]


def build(root: Path) -> tuple[list[Path], Path]:
    items = []
    for s in range(200):
        for init in ("shown", "hidden"):
            for inference in ("forward_belief", "forward_action", "backward_belief"):
                for belief in BELIEFS:
                    answer = "a" if belief in ("true_belief", "false_control") else "b"
                    items.append(choice_item(s, {"init": init, "inference": inference, "belief": belief}, answer))
        items.append(choice_item(s, {"init": "shown", "inference": "percept", "belief": "percept"}, "a"))
    ds = write_dataset(root / "ds", items, factors={"init": ["shown", "hidden"],
                                                    "inference": ["forward_belief", "forward_action",
                                                                  "backward_belief", "percept"],
                                                    "belief": [*BELIEFS, "percept"]})
    runs = []
    for k, skill in enumerate((0.55, 0.7, 0.9)):
        def respond(item, rng, skill=skill):  # type: ignore[no-untyped-def]
            p = min(0.99, max(0.01, rng.gauss(skill, 0.15)))
            wrong = "b" if item.answer == "a" else "a"
            probs = {item.answer: p, wrong: 1 - p}
            order = ["a", "b"] if rng.random() < 0.5 else ["b", "a"]
            return choice_response(item, max(probs, key=lambda key: probs[key]), probs=probs, order=order)

        runs.append(write_run(ds, root / f"model-{k}", respond, subject=f"bench/model-{k}", scoring="logprob", seed=k))
    rng = random.Random(0)
    lines = ["participant,item_id,response"]
    for p in range(20):
        for item in rng.sample(ds.items, 250):
            lines.append(f"P{p},{item.id},{item.answer if rng.random() < 0.85 else 'ab'.replace(item.answer or '', '')}")
    humans = root / "humans.csv"
    humans.write_text("\n".join(lines) + "\n")
    return runs, humans


def scipy_bootstrap(values: np.ndarray, n_boot: int, seed: int) -> tuple[float, float]:
    from scipy import stats

    result = stats.bootstrap((values,), np.mean, n_resamples=n_boot, method="percentile", vectorized=True,
                             rng=np.random.default_rng(seed))
    return float(result.confidence_interval.low), float(result.confidence_interval.high)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n-boot", type=int, default=2000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        t0 = time.perf_counter()
        runs, humans = build(root)
        t_build = time.perf_counter() - t0
        t0 = time.perf_counter()
        data = load_responses(runs, humans=humans)
        t_load = time.perf_counter() - t0
        ctx = AnalysisContext(n_boot=args.n_boot)
        timings = {}
        for name in ("validity", "accuracy", "joint", "position_bias", "calibration", "humans"):
            t0 = time.perf_counter()
            result = run_analyses(data, [name], ctx)[name]
            timings[name] = round(time.perf_counter() - t0, 3)
            assert result.status == "ok", (name, result.reason)
        rows = scored_rows(data.frame)
        groups = [part["score"].to_numpy() for _, part in rows.groupby(["subject", "condition_name"])]
        t0 = time.perf_counter()
        ours = [bootstrap_ci(g, n_boot=args.n_boot, seed=0) for g in groups]
        t_vec = time.perf_counter() - t0
        t0 = time.perf_counter()
        theirs = [scipy_bootstrap(g, args.n_boot, 0) for g in groups]
        t_scipy = time.perf_counter() - t0
        diff = max(abs(a - b) for o, t in zip(ours, theirs, strict=True) for a, b in zip(o, t, strict=True))
        load = os.getloadavg()
        print(json.dumps({
            "answers": len(data.frame), "items": len(data.dataset.items), "runs": len(runs), "n_boot": args.n_boot,
            "build_s": round(t_build, 2), "load_s": round(t_load, 2), "analysis_s": timings,
            "bootstrap_groups": len(groups), "bootstrap_proceval_s": round(t_vec, 3),
            "bootstrap_scipy_s": round(t_scipy, 3), "speedup_vs_scipy": round(t_scipy / t_vec, 1),
            "max_interval_difference_vs_scipy": round(diff, 4),
            "machine": {"cpus": os.cpu_count(), "load_average_1m": round(load[0], 2)},
        }, indent=2))


if __name__ == "__main__":
    main()
