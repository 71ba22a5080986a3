"""Psychometric alignment: do simulated respondents find the same items hard as people do?

The same IRT model is fitted separately to the human population and to each simulated population (a model
run with personas, another model, another prompt). On the items both fits could estimate, alignment is the
correlation (Pearson and Spearman, with percentile-bootstrap CIs over items) of item difficulties and of
discriminations; accuracy per item is compared on every item both populations answered. Each fit fixes its
own population's ability distribution at N(0, 1), so the simulated difficulties are put on the human scale
by mean–sigma linking before differences are taken; the items with the largest linked differences are the
most divergent ones, shown with both item characteristic curves.

``align(...)`` does everything from files; :func:`align_populations` works on response matrices in memory;
:func:`proceval.analysis.alignment_report.write_alignment_report` writes ``summary.json``, ``items.csv``,
figures and a self-contained ``report.html``.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from proceval import __version__
from proceval.analysis.irt import IrtFit, ResponseMatrix, fit_irt, load_matrices
from proceval.errors import AnalysisError


@dataclass
class Correlation:
    """A correlation over items with its percentile-bootstrap confidence interval."""

    r: float
    ci: tuple[float, float]
    n: int

    def to_dict(self) -> dict[str, Any]:
        return {"r": _num(self.r), "ci": [_num(self.ci[0]), _num(self.ci[1])], "n": self.n}


@dataclass
class PopulationComparison:
    """One simulated population against the humans."""

    name: str
    fit: IrtFit
    items: pd.DataFrame  # one row per item answered by both populations
    correlations: dict[str, dict[str, Correlation]]  # parameter → method → correlation
    linking: dict[str, float]  # slope A and intercept B: b_human ≈ A b_sim + B
    accuracy: dict[str, Any]
    notes: list[str] = field(default_factory=list)

    def most_divergent(self, k: int = 5) -> pd.DataFrame:
        both = self.items[self.items["estimated_both"]]
        return both.sort_values("divergence", ascending=False).head(k)

    def summary(self) -> dict[str, Any]:
        return {
            "n_persons": self.fit.n_persons,
            "items_answered_by_both": len(self.items),
            "items_estimated_in_both": int(self.items["estimated_both"].sum()),
            "correlations": {
                param: {method: c.to_dict() for method, c in by_method.items()}
                for param, by_method in self.correlations.items()
            },
            "linking": {k: _num(v) for k, v in self.linking.items()},
            "accuracy": self.accuracy,
            "most_divergent": [
                {"item_id": row.item_id, "divergence": _num(row.divergence),
                 "b_human": _num(row.b_human), "b_simulated_linked": _num(row.b_simulated_linked)}
                for row in self.most_divergent().itertuples()
            ],
            "fit": self.fit.summary(),
            "notes": self.notes,
        }


@dataclass
class AlignmentResult:
    model: str
    human_fit: IrtFit
    comparisons: dict[str, PopulationComparison]
    inputs: dict[str, Any] = field(default_factory=dict)

    def summary(self) -> dict[str, Any]:
        return {
            "proceval_version": __version__,
            "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "model": self.model,
            "inputs": self.inputs,
            "humans": self.human_fit.summary() | {"n_persons": self.human_fit.n_persons},
            "populations": {name: comp.summary() for name, comp in self.comparisons.items()},
            "ranking_by_difficulty_pearson": [
                name for name, _ in sorted(
                    self.comparisons.items(),
                    key=lambda kv: -_nan_low(kv[1].correlations["difficulty"]["pearson"].r),
                )
            ],
        }


def _nan_low(x: float) -> float:
    return -math.inf if not np.isfinite(x) else x


def _num(x: Any) -> float | None:
    try:
        value = float(x)
    except (TypeError, ValueError):
        return None
    return round(value, 6) if np.isfinite(value) else None


def bootstrap_correlations(
    x: np.ndarray, y: np.ndarray, *, n_boot: int = 2000, level: float = 0.95, seed: int = 0
) -> dict[str, Correlation]:
    """Pearson and Spearman correlations of paired values with percentile CIs from resampling the pairs
    (items). Fewer than three pairs, or no variation, give NaN (and are reported as null)."""
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    n = x.size
    if n < 3 or np.ptp(x) == 0 or np.ptp(y) == 0:
        nan = Correlation(float("nan"), (float("nan"), float("nan")), n)
        return {"pearson": nan, "spearman": nan}
    rng = np.random.default_rng(seed)
    draws = rng.integers(0, n, size=(n_boot, n))
    alpha = (1 - level) / 2
    out = {}
    for method in ("pearson", "spearman"):
        if method == "pearson":
            point = float(np.corrcoef(x, y)[0, 1])
            bx, by = x[draws], y[draws]
        else:
            point = float(stats.spearmanr(x, y).statistic)
            bx = stats.rankdata(x[draws], axis=1)
            by = stats.rankdata(y[draws], axis=1)
        bx = bx - bx.mean(1, keepdims=True)
        by = by - by.mean(1, keepdims=True)
        with np.errstate(invalid="ignore", divide="ignore"):
            rs = (bx * by).sum(1) / np.sqrt((bx**2).sum(1) * (by**2).sum(1))
        rs = rs[np.isfinite(rs)]
        ci = tuple(float(q) for q in np.quantile(rs, [alpha, 1 - alpha])) if rs.size else (math.nan, math.nan)
        out[method] = Correlation(point, ci, n)  # type: ignore[arg-type]
    return out


def compare_fits(
    name: str,
    human: ResponseMatrix,
    human_fit: IrtFit,
    simulated: ResponseMatrix,
    sim_fit: IrtFit,
    *,
    n_boot: int = 2000,
    level: float = 0.95,
    seed: int = 0,
) -> PopulationComparison:
    """Item-level comparison of two fitted populations (see the module docstring)."""
    common = [item for item in human.items if item in set(simulated.items)]
    p_h = pd.Series(human.proportion(), index=human.items)
    p_s = pd.Series(simulated.proportion(), index=simulated.items)
    n_h = pd.Series((~np.isnan(human.values)).sum(0), index=human.items)
    n_s = pd.Series((~np.isnan(simulated.values)).sum(0), index=simulated.items)
    common = [item for item in common if n_h[item] > 0 and n_s[item] > 0]
    notes: list[str] = []
    if not common:
        raise AnalysisError(
            f"the humans and population {name!r} answered no item in common",
            hint="give both populations the same dataset (item ids must match)",
        )
    hi = {item: j for j, item in enumerate(human_fit.items)}
    si = {item: j for j, item in enumerate(sim_fit.items)}
    frame = pd.DataFrame({"item_id": common})
    frame["n_human"] = [int(n_h[i]) for i in common]
    frame["n_simulated"] = [int(n_s[i]) for i in common]
    frame["p_human"] = [float(p_h[i]) for i in common]
    frame["p_simulated"] = [float(p_s[i]) for i in common]
    frame["p_difference"] = frame["p_simulated"] - frame["p_human"]
    frame["estimated_both"] = [i in hi and i in si for i in common]

    def take(fit: IrtFit, index: dict[str, int], attr: str) -> list[float]:
        values = getattr(fit, attr)
        return [float(values[index[i]]) if i in index else math.nan for i in common]

    frame["b_human"], frame["b_simulated"] = take(human_fit, hi, "b"), take(sim_fit, si, "b")
    frame["se_b_human"], frame["se_b_simulated"] = take(human_fit, hi, "se_b"), take(sim_fit, si, "se_b")
    frame["a_human"], frame["a_simulated"] = take(human_fit, hi, "a"), take(sim_fit, si, "a")
    frame["c_human"], frame["c_simulated"] = take(human_fit, hi, "c"), take(sim_fit, si, "c")
    frame["excluded"] = [
        "; ".join(
            f"{who}: {reason}" for who, reason in (
                ("humans", human_fit.excluded_items.get(i)), (name, sim_fit.excluded_items.get(i)),
            ) if reason
        )
        for i in common
    ]
    both = frame[frame["estimated_both"]]
    if len(both) < len(frame):
        notes.append(
            f"{len(frame) - len(both)} of {len(frame)} shared items could not be estimated in one of the fits "
            "(listed with the reason in items.csv); their accuracies are still compared"
        )
    bh, bs = both["b_human"].to_numpy(), both["b_simulated"].to_numpy()
    slope, intercept = 1.0, 0.0
    if len(both) >= 2 and np.std(bs) > 0:
        slope = float(np.std(bh) / np.std(bs))
        intercept = float(np.mean(bh) - slope * np.mean(bs))
    frame["b_simulated_linked"] = slope * frame["b_simulated"] + intercept
    frame["a_simulated_linked"] = frame["a_simulated"] / slope
    frame["divergence"] = (frame["b_human"] - frame["b_simulated_linked"]).abs()
    correlations = {
        "difficulty": bootstrap_correlations(bh, bs, n_boot=n_boot, level=level, seed=seed),
        "discrimination": bootstrap_correlations(
            both["a_human"].to_numpy(), both["a_simulated"].to_numpy(), n_boot=n_boot, level=level, seed=seed + 1
        ),
        "accuracy": bootstrap_correlations(
            frame["p_human"].to_numpy(), frame["p_simulated"].to_numpy(), n_boot=n_boot, level=level, seed=seed + 2
        ),
    }
    if len(both) < 3:
        notes.append(f"only {len(both)} item(s) estimated in both fits: difficulty correlations are undefined")
    accuracy = {
        "mean_human": _num(frame["p_human"].mean()),
        "mean_simulated": _num(frame["p_simulated"].mean()),
        "mean_difference": _num(frame["p_difference"].mean()),
        "mean_abs_difference": _num(frame["p_difference"].abs().mean()),
    }
    return PopulationComparison(
        name, sim_fit, frame, correlations, {"slope": slope, "intercept": intercept}, accuracy, notes
    )


def align_populations(
    humans: ResponseMatrix,
    simulated: dict[str, ResponseMatrix],
    *,
    model: str = "2pl",
    n_boot: int = 2000,
    level: float = 0.95,
    seed: int = 0,
    fit_options: dict[str, Any] | None = None,
    progress: bool = False,
) -> AlignmentResult:
    """Fit ``model`` to the humans and to every simulated population on the items they share with the
    humans, and compare item parameters (:func:`compare_fits`)."""
    if not simulated:
        raise AnalysisError("no simulated population to compare", hint="pass one or more --simulated runs")
    options = dict(fit_options or {})
    all_sim_items = {item for m in simulated.values() for item in m.items}
    shared = [item for item in humans.items if item in all_sim_items]
    if not shared:
        raise AnalysisError(
            "the humans answered none of the items the simulated populations answered",
            hint="item_id in the human table must be the dataset's item ids",
        )
    human_fit = fit_irt(humans.select_items(shared), model, progress=progress, **options)
    comparisons = {}
    for name, matrix in simulated.items():
        own = [item for item in shared if item in set(matrix.items)]
        if not own:
            raise AnalysisError(f"population {name!r} answered none of the humans' items")
        sim = matrix.select_items(own)
        try:
            sim_fit = fit_irt(sim, model, progress=progress, **options)
        except AnalysisError as exc:
            raise AnalysisError(
                f"population {name!r}: {exc.message}",
                hint="simulated respondents that all answer alike (e.g. a deterministic model with weak personas) "
                "carry no item information; raise the temperature, vary the personas or use more respondents",
            ) from None
        comparisons[name] = compare_fits(
            name, humans, human_fit, sim, sim_fit, n_boot=n_boot, level=level, seed=seed
        )
    return AlignmentResult(model, human_fit, comparisons)


# --------------------------------------------------------------------------------------------------------------
# Files: figures, tables, HTML


def align(
    humans: str | os.PathLike[str],
    simulated: Sequence[str | os.PathLike[str]],
    out: str | os.PathLike[str] | None = None,
    *,
    dataset: str | os.PathLike[str] | None = None,
    model: str = "2pl",
    n_boot: int = 2000,
    seed: int = 0,
    top: int = 5,
    fit_options: dict[str, Any] | None = None,
    progress: bool = False,
) -> AlignmentResult:
    """Load the human responses (long table or wide matrix CSV) and each simulated population (a run
    directory, or a matrix CSV), compare them and, with ``out``, write the report."""
    if not simulated:
        raise AnalysisError("no simulated population given", hint="pass --simulated RUN_DIR (repeatable)")
    # one call, so that the human table is scored against the dataset the runs answered
    matrices = load_matrices([*simulated, humans], dataset=dataset)
    human_key = next(name for name, m in matrices.items() if Path(m.source) == Path(humans))
    human = matrices.pop(human_key)
    sims = matrices
    result = align_populations(human, sims, model=model, n_boot=n_boot, seed=seed, fit_options=fit_options,
                               progress=progress)
    result.inputs = {
        "humans": {"path": str(humans), "persons": human.n_persons, "items": human.n_items,
                   "skipped": human.skipped},
        "simulated": {name: {"path": m.source, "persons": m.n_persons, "items": m.n_items, "skipped": m.skipped}
                      for name, m in sims.items()},
        "n_boot": n_boot, "seed": seed,
    }
    if out is not None:
        from proceval.analysis.alignment_report import write_alignment_report  # it imports this module

        write_alignment_report(result, out, top=top)
    return result
