"""Psychometric alignment: do simulated respondents find the same items hard as people do?

The same IRT model is fitted separately to the human population and to each simulated population (a model
run with personas, another model, another prompt). On the items both fits could estimate, alignment is the
correlation (Pearson and Spearman, with percentile-bootstrap CIs over items) of item difficulties and of
discriminations; accuracy per item is compared on every item both populations answered. Each fit fixes its
own population's ability distribution at N(0, 1), so the simulated difficulties are put on the human scale
by mean–sigma linking before differences are taken; the items with the largest linked differences are the
most divergent ones, shown with both item characteristic curves.

``align(...)`` does everything from files; :func:`align_populations` works on response matrices in memory and
:func:`write_alignment_report` writes ``summary.json``, ``items.csv``, figures and a self-contained
``report.html``.
"""

from __future__ import annotations

import base64
import html
import io
import json
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
from proceval.analysis.irt import BINARY_MODELS, IrtFit, ResponseMatrix, fit_irt, load_matrices
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


def _figure_png(fig: Any) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    import matplotlib.pyplot as plt

    plt.close(fig)
    return buffer.getvalue()


def difficulty_scatter(result: AlignmentResult) -> Any:
    """Human vs simulated (linked) difficulty, one panel per simulated population."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(result.comparisons)
    fig, axes = plt.subplots(1, len(names), figsize=(4.2 * len(names), 4), squeeze=False)
    for ax, name in zip(axes[0], names, strict=True):
        comp = result.comparisons[name]
        both = comp.items[comp.items["estimated_both"]]
        ax.scatter(both["b_human"], both["b_simulated_linked"], s=18, alpha=0.75)
        top = comp.most_divergent(5)
        ax.scatter(top["b_human"], top["b_simulated_linked"], s=40, facecolors="none", edgecolors="red")
        values = np.concatenate([both["b_human"], both["b_simulated_linked"]]) if len(both) else np.zeros(1)
        lo, hi = float(np.nanmin(values)) - 0.3, float(np.nanmax(values)) + 0.3
        ax.plot([lo, hi], [lo, hi], color="grey", lw=1, ls="--")
        r = comp.correlations["difficulty"]["pearson"]
        ax.set_title(f"{name}\nPearson r = {r.r:.2f}" if np.isfinite(r.r) else name, fontsize=9)
        ax.set_xlabel("human difficulty")
        ax.set_ylabel("simulated difficulty (linked)")
    fig.tight_layout()
    return fig


def divergent_iccs(result: AlignmentResult, name: str, k: int = 5) -> Any:
    """Item characteristic curves of the ``k`` most divergent items: humans vs the linked simulated curve."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    comp = result.comparisons[name]
    top = comp.most_divergent(k)
    count = max(len(top), 1)
    fig, axes = plt.subplots(1, count, figsize=(3.2 * count, 3), squeeze=False)
    grid = np.linspace(-4, 4, 161)
    for ax, row in zip(axes[0], top.itertuples(), strict=False):
        for label, a, b, c, style in (
            ("humans", row.a_human, row.b_human, row.c_human, "-"),
            (name, row.a_simulated_linked, row.b_simulated_linked, row.c_simulated, "--"),
        ):
            c = 0.0 if not np.isfinite(c) else c
            curve = c + (1 - c) / (1 + np.exp(-a * (grid - b)))
            ax.plot(grid, curve, style, label=label)
        ax.set_title(f"{str(row.item_id)[:12]}\n|Δb| = {row.divergence:.2f}", fontsize=8)
        ax.set_ylim(0, 1)
        ax.set_xlabel("ability (human scale)")
    axes[0][0].set_ylabel("P(correct)" if result.model in BINARY_MODELS else "expected score")
    axes[0][0].legend(fontsize=7)
    fig.tight_layout()
    return fig


def accuracy_scatter(result: AlignmentResult) -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(4.2, 4))
    for name, comp in result.comparisons.items():
        ax.scatter(comp.items["p_human"], comp.items["p_simulated"], s=16, alpha=0.7, label=name)
    ax.plot([0, 1], [0, 1], color="grey", lw=1, ls="--")
    ax.set_xlabel("human accuracy per item")
    ax.set_ylabel("simulated accuracy per item")
    ax.legend(fontsize=7)
    fig.tight_layout()
    return fig


_STYLE = (
    "body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}"
    "table{border-collapse:collapse;margin:1em 0;font-size:13px}td,th{border:1px solid #ccc;padding:3px 7px;"
    "text-align:right}th{background:#f3f3f3}td.l,th.l{text-align:left}img{max-width:100%}"
    ".note{color:#8a5a00}"
)


def _fmt(x: Any, digits: int = 3) -> str:
    value = _num(x)
    return "–" if value is None else f"{value:.{digits}f}"


def _ci(c: Correlation) -> str:
    return f"{_fmt(c.r)} [{_fmt(c.ci[0])}, {_fmt(c.ci[1])}]"


def render_html(result: AlignmentResult, images: dict[str, bytes], *, top: int = 5) -> str:
    """A self-contained page (figures inlined as PNG data URIs); every name and id is escaped."""
    esc = html.escape
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'><title>proceval psychometric alignment</title>",
        f"<style>{_STYLE}</style></head><body>",
        "<h1>Psychometric alignment</h1>",
        f"<p>IRT model <b>{esc(result.model)}</b>, fitted separately to the humans "
        f"({result.human_fit.n_persons} respondents, {len(result.human_fit.items)} estimable items) and to each "
        "simulated population. Correlations are over items, with 95% percentile-bootstrap intervals.</p>",
        "<table><tr><th class='l'>population</th><th>respondents</th><th>items (both fits)</th>"
        "<th>difficulty Pearson</th><th>difficulty Spearman</th><th>discrimination Pearson</th>"
        "<th>accuracy Pearson</th><th>mean |Δ accuracy|</th></tr>",
    ]
    for name, comp in result.comparisons.items():
        corr = comp.correlations
        parts.append(
            f"<tr><td class='l'>{esc(name)}</td><td>{comp.fit.n_persons}</td>"
            f"<td>{int(comp.items['estimated_both'].sum())}</td>"
            f"<td>{_ci(corr['difficulty']['pearson'])}</td><td>{_ci(corr['difficulty']['spearman'])}</td>"
            f"<td>{_ci(corr['discrimination']['pearson'])}</td><td>{_ci(corr['accuracy']['pearson'])}</td>"
            f"<td>{_fmt(comp.accuracy['mean_abs_difference'])}</td></tr>"
        )
    parts.append("</table>")
    excluded = result.human_fit.excluded_items
    if excluded:
        parts.append(f"<p class='note'>{len(excluded)} item(s) excluded from the human fit "
                     "(reasons in summary.json).</p>")
    for label, key in (("Difficulty: humans vs simulated", "difficulty.png"),
                       ("Accuracy per item", "accuracy.png")):
        if key in images:
            parts.append(f"<h2>{esc(label)}</h2><img alt='{esc(label)}' src='data:image/png;base64,"
                         f"{base64.b64encode(images[key]).decode()}'>")
    for name, comp in result.comparisons.items():
        parts.append(f"<h2>{esc(name)}: most divergent items</h2>")
        for note in comp.notes:
            parts.append(f"<p class='note'>{esc(note)}</p>")
        key = f"icc_{_slug(name)}.png"
        if key in images:
            parts.append(f"<img alt='item characteristic curves' src='data:image/png;base64,"
                         f"{base64.b64encode(images[key]).decode()}'>")
        parts.append("<table><tr><th class='l'>item</th><th>b humans</th><th>b simulated (linked)</th>"
                     "<th>|Δb|</th><th>a humans</th><th>a simulated</th><th>p humans</th><th>p simulated</th></tr>")
        for row in comp.most_divergent(top).itertuples():
            parts.append(
                f"<tr><td class='l'>{esc(str(row.item_id))}</td><td>{_fmt(row.b_human)}</td>"
                f"<td>{_fmt(row.b_simulated_linked)}</td><td>{_fmt(row.divergence)}</td>"
                f"<td>{_fmt(row.a_human)}</td><td>{_fmt(row.a_simulated)}</td>"
                f"<td>{_fmt(row.p_human)}</td><td>{_fmt(row.p_simulated)}</td></tr>"
            )
        parts.append("</table>")
    parts.append(f"<p><small>proceval {esc(__version__)}</small></p></body></html>")
    return "\n".join(parts)


def _slug(name: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in name)[:80]


def write_alignment_report(result: AlignmentResult, out: str | os.PathLike[str], *, top: int = 5) -> Path:
    """Write ``summary.json``, ``items.csv`` (every shared item of every population), the human and simulated
    item and person parameters, PNG figures and ``report.html`` to ``out``."""
    root = Path(out)
    root.mkdir(parents=True, exist_ok=True)
    images: dict[str, bytes] = {}
    if any(c.items["estimated_both"].any() for c in result.comparisons.values()):
        images["difficulty.png"] = _figure_png(difficulty_scatter(result))
    images["accuracy.png"] = _figure_png(accuracy_scatter(result))
    for name, comp in result.comparisons.items():
        if comp.items["estimated_both"].any():
            images[f"icc_{_slug(name)}.png"] = _figure_png(divergent_iccs(result, name, top))
    for key, data in images.items():
        (root / key).write_bytes(data)
    tables = []
    for name, comp in result.comparisons.items():
        tables.append(comp.items.assign(population=name))
        comp.fit.items_frame().to_csv(root / f"irt_items_{_slug(name)}.csv", index=False)
        comp.fit.persons_frame().to_csv(root / f"irt_persons_{_slug(name)}.csv", index=False)
    result.human_fit.items_frame().to_csv(root / "irt_items_humans.csv", index=False)
    result.human_fit.persons_frame().to_csv(root / "irt_persons_humans.csv", index=False)
    items = pd.concat(tables, ignore_index=True)
    first = ["population", "item_id"]
    items[first + [c for c in items.columns if c not in first]].to_csv(root / "items.csv", index=False)
    summary = result.summary()
    (root / "summary.json").write_text(json.dumps(summary, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    (root / "report.html").write_text(render_html(result, images, top=top), encoding="utf-8")
    return root


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
        write_alignment_report(result, out, top=top)
    return result
