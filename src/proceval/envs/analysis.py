"""Per-run measures of a simulation: share offered, acceptance rate and income, fixed players vs the assistant.

One row per (experiment, policy, manner, distribution, player, run), where ``player`` is ``fixed`` or
``assistant``: ``offered`` is the mean share of the amount offered to the decider when that player proposed,
``acceptance`` the fraction of offers it accepted when it decided (both over episodes that finished),
``income`` its mean payoff per seat played (a failed episode pays 0), ``episodes`` the seats played and
``failed`` those in failed episodes. :func:`convergence` says from which run on the assistant's offers stay
within ``tolerance`` of the fixed players' (in distribution).

Over repeated experiments, :func:`measures` and :func:`convergence_over_experiments` give the same numbers with
percentile-bootstrap intervals that resample whole experiments (the episodes of one experiment share its
draws and the assistant's principle, so they are not independent).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from proceval.analysis.bootstrap import bootstrap_ci

KEYS = ["experiment", "policy", "manner", "distribution", "player", "run"]


def read_episodes(directory: str | Path) -> list[dict[str, Any]]:
    with (Path(directory) / "episodes.jsonl").open(encoding="utf-8") as f:
        return [json.loads(line) for line in f]


def _seats(episode: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per seat a measured player took: both seats of a fixed game, the assistant's seat otherwise."""
    roles = ["proposer", "decider"] if episode["assistant"] is None else [episode["assistant"]]
    ok = episode["status"] == "ok"
    return [{**{k: episode[k] for k in KEYS if k != "player"},
             "player": "fixed" if episode["assistant"] is None else "assistant",
             "offered": episode["share"] if ok and role == "proposer" else None,
             "accepted": float(episode["accepted"]) if ok and role == "decider" else None,
             "income": episode["payoffs"][role], "failed": not ok} for role in roles]


def run_table(episodes: list[dict[str, Any]]) -> pd.DataFrame:
    frame = pd.DataFrame([row for e in episodes for row in _seats(e)],
                         columns=[*KEYS, "offered", "accepted", "income", "failed"])
    frame[["offered", "accepted"]] = frame[["offered", "accepted"]].astype(float)
    table = frame.groupby(KEYS, sort=True).agg(
        offered=("offered", "mean"), acceptance=("accepted", "mean"), income=("income", "mean"),
        episodes=("income", "size"), failed=("failed", "sum"))
    return table.reset_index()


def convergence(table: pd.DataFrame, tolerance: float = 0.1) -> pd.DataFrame:
    """Per experiment, condition and distribution: the assistant's gap to the fixed players' offers per run, and
    ``converged_run``, the first run from which every gap is ≤ ``tolerance`` (missing when none is)."""
    fixed = table[(table.player == "fixed")].set_index(["experiment", "policy", "manner", "run"])["offered"]
    rows = []
    assistant = table[table.player == "assistant"]
    for key, group in assistant.groupby(["experiment", "policy", "manner", "distribution"], sort=True):
        experiment, policy, manner, _ = key
        gaps = [abs(row.offered - fixed.get((experiment, policy, manner, row.run), float("nan")))
                for row in group.sort_values("run").itertuples()]
        converged = next((i for i in range(len(gaps)) if all(g <= tolerance for g in gaps[i:])), None)
        rows.append({"experiment": experiment, "policy": policy, "manner": manner, "distribution": key[3],
                     "gaps": gaps, "converged_run": converged})
    return pd.DataFrame(rows, columns=["experiment", "policy", "manner", "distribution", "gaps", "converged_run"])


CONDITION = ["policy", "manner", "distribution"]
MEASURES = {"offered": "offered", "acceptance": "accepted", "income": "income"}  # measure → seat column


def measures(episodes: list[dict[str, Any]], *, n_boot: int = 2000, level: float = 0.95, seed: int = 0
             ) -> pd.DataFrame:
    """Per condition, distribution, player, run and measure: the mean over every experiment's seats, with a
    bootstrap interval over experiments (missing with fewer than two experiments), ``n`` seats and
    ``experiments``."""
    seats = pd.DataFrame([row for e in episodes for row in _seats(e)])
    rows = []
    for key, group in seats.groupby([*CONDITION, "player", "run"], sort=True):
        for measure, column in MEASURES.items():
            values = group[column].astype(float)
            low, high = bootstrap_ci(values.to_numpy(), n_boot=n_boot, level=level, seed=seed,
                                     clusters=group["experiment"].to_numpy())
            rows.append({**dict(zip([*CONDITION, "player", "run"], key, strict=True)), "measure": measure,
                         "value": values.mean(), "low": low, "high": high, "n": int(values.notna().sum()),
                         "experiments": int(group.loc[values.notna(), "experiment"].nunique())})
    return pd.DataFrame(rows, columns=[*CONDITION, "player", "run", "measure", "value", "low", "high", "n",
                                       "experiments"])


def convergence_over_experiments(table: pd.DataFrame, tolerance: float = 0.1, *, n_boot: int = 2000,
                                 level: float = 0.95, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``gaps``: per condition, distribution and run, the mean over experiments of the assistant's gap to the
    fixed players' offers, with a bootstrap interval over experiments; ``converged``: per condition and
    distribution, in how many experiments the assistant converged (:func:`convergence`) and from which run on
    (the mean over those that did)."""
    per_experiment = convergence(table, tolerance)
    long = per_experiment.explode("gaps").rename(columns={"gaps": "gap"})
    long["run"] = long.groupby(["experiment", *CONDITION]).cumcount()
    long["gap"] = long["gap"].astype(float)
    gaps = []
    for key, group in long.groupby([*CONDITION, "run"], sort=True):
        low, high = bootstrap_ci(group["gap"].to_numpy(), n_boot=n_boot, level=level, seed=seed)
        gaps.append({**dict(zip([*CONDITION, "run"], key, strict=True)), "gap": group["gap"].mean(), "low": low,
                     "high": high, "experiments": int(group["gap"].notna().sum())})
    converged = []
    for key, group in per_experiment.groupby(CONDITION, sort=True):
        runs = group["converged_run"].dropna().astype(float)
        converged.append({**dict(zip(CONDITION, key, strict=True)), "experiments": len(group),
                          "converged": len(runs), "from_run": runs.mean() if len(runs) else np.nan,
                          "tolerance": tolerance})
    return (pd.DataFrame(gaps, columns=[*CONDITION, "run", "gap", "low", "high", "experiments"]),
            pd.DataFrame(converged, columns=[*CONDITION, "experiments", "converged", "from_run", "tolerance"]))
