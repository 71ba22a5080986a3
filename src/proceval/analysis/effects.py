"""Condition effects with linear mixed models (statsmodels): random intercepts for participant and scenario.

:func:`mixed_effects` is the library entry point: any long table, a numeric response, categorical factors
(treatment-coded against a reference level), and up to two crossed grouping columns. It returns a tidy
table (one row per factor level vs its reference): estimate, standard error, CI, z and p.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from proceval.analysis.base import (
    AnalysisContext,
    AnalysisResult,
    FigureSpec,
    NotApplicable,
    register_analysis,
)
from proceval.analysis.data import ResponseData
from proceval.analysis.ratings import rating_rows
from proceval.errors import AnalysisError

EFFECT_COLUMNS = ["factor", "level", "reference", "term", "estimate", "se", "ci_low", "ci_high", "z", "p",
                  "n_obs", "model"]


def mixed_effects(
    df: pd.DataFrame,
    *,
    response: str = "rating",
    factors: Sequence[str],
    groups: Sequence[str] = ("participant", "scenario"),
    reference: Mapping[str, object] | None = None,
    level: float = 0.95,
) -> pd.DataFrame:
    """Fit ``response ~ factors`` with random intercepts for each column of ``groups``.

    Factors are categorical, treatment-coded: each non-reference level gets a row (its difference from
    ``reference[factor]``, default the first level in sorted order). Grouping columns with fewer than two
    levels are left out (a single model has no between-subject variance); two grouping columns are fitted as
    crossed random intercepts, one as a plain random intercept, none as ordinary least squares. The ``model``
    column and ``table.attrs`` say what was fitted; ``attrs["n_dropped"]`` counts rows with missing values;
    ``attrs["warnings"]`` holds convergence warnings.
    """
    import statsmodels.formula.api as smf

    needed = [response, *factors, *groups]
    missing = [c for c in needed if c not in df.columns]
    if missing:
        raise AnalysisError(f"mixed_effects: no column(s) {', '.join(missing)} (has {', '.join(map(str, df.columns))})")
    data = df[needed].copy()
    data[response] = pd.to_numeric(data[response], errors="coerce")
    complete = data.dropna()
    n_dropped = len(data) - len(complete)
    if len(complete) < 3:
        raise NotApplicable(f"only {len(complete)} complete rows: too few for a model of {response}")
    names = {f: f"f{i}" for i, f in enumerate(factors)}
    frame = pd.DataFrame({"y": complete[response].astype(float)})
    refs: dict[str, str] = {}
    used_factors = []
    for factor in factors:
        values = complete[factor].astype(str)
        levels = sorted(values.unique())
        if len(levels) < 2:
            continue
        ref = str(reference[factor]) if reference and factor in reference else levels[0]
        if ref not in levels:
            raise AnalysisError(f"mixed_effects: reference level {ref!r} is not a level of {factor} ({levels})")
        refs[factor] = ref
        frame[names[factor]] = values
        used_factors.append(factor)
    if not used_factors:
        raise NotApplicable(f"no factor varies in the data ({', '.join(factors)})")
    used_groups = [g for g in groups if complete[g].astype(str).nunique() > 1]
    for i, group in enumerate(used_groups):
        frame[f"g{i}"] = complete[group].astype(str)
    rhs = " + ".join(f"C({names[f]}, Treatment(reference={refs[f]!r}))" for f in used_factors)
    formula = f"y ~ {rhs}"
    caught: list[str] = []
    with warnings.catch_warnings(record=True) as log:
        warnings.simplefilter("always")
        if len(used_groups) == 2:
            frame["all"] = 1
            model = smf.mixedlm(formula, frame, groups="all", re_formula="0",
                                vc_formula={"g0": "0 + C(g0)", "g1": "0 + C(g1)"}, use_sparse=True)
            fit = model.fit(reml=True, method=["lbfgs"])
            kind = f"linear mixed model, crossed random intercepts for {used_groups[0]} and {used_groups[1]}"
        elif len(used_groups) == 1:
            model = smf.mixedlm(formula, frame, groups="g0")
            fit = model.fit(reml=True, method=["lbfgs"])
            kind = f"linear mixed model, random intercept for {used_groups[0]}"
        else:
            fit = smf.ols(formula, frame).fit()
            kind = "ordinary least squares (no grouping column has two or more levels)"
        caught = sorted({str(w.message) for w in log if "converge" in str(w.message).lower()
                         or "boundary" in str(w.message).lower() or "singular" in str(w.message).lower()})
    z_crit = stats.norm.ppf(0.5 + level / 2)
    rows = []
    for factor in used_factors:
        prefix = f"C({names[factor]}, Treatment(reference={refs[factor]!r}))[T."
        for term in fit.params.index:
            if not term.startswith(prefix):
                continue
            lvl = term[len(prefix):-1]
            est = float(fit.params[term])
            se = float(fit.bse[term])
            z = est / se if se > 0 else np.nan
            p = float(2 * stats.norm.sf(abs(z))) if se > 0 else np.nan
            rows.append({"factor": factor, "level": lvl, "reference": refs[factor],
                         "term": f"{factor}: {lvl} vs {refs[factor]}", "estimate": est, "se": se,
                         "ci_low": est - z_crit * se, "ci_high": est + z_crit * se, "z": z, "p": p,
                         "n_obs": len(frame), "model": kind})
    table = pd.DataFrame.from_records(rows, columns=EFFECT_COLUMNS)
    table.attrs.update(n_dropped=n_dropped, warnings=caught, model=kind, groups=used_groups,
                       intercept=float(fit.params.get("Intercept", np.nan)))
    return table


def _effects_for(rows: pd.DataFrame, factors: list[str], groups: tuple[str, ...], ctx: AnalysisContext,
                 label: dict[str, Any]) -> tuple[pd.DataFrame | None, str | None]:
    try:
        table = mixed_effects(rows, response="value", factors=factors, groups=groups, level=ctx.level)
    except NotApplicable as exc:
        return None, exc.message
    for key, value in reversed(label.items()):
        table.insert(0, key, value)
    return table, None


@register_analysis("effects", "Condition effects (mixed models)")
def effects_analysis(data: ResponseData, ctx: AnalysisContext) -> AnalysisResult:
    """Per subject and rating question: rating ~ factors + (1|participant) + (1|scenario)."""
    rows = rating_rows(data.frame).rename(columns={"scenario_id": "scenario"})
    if rows.empty:
        raise NotApplicable("the dataset has no rating items: condition effects on ratings do not apply")
    factors = [f for f in data.factors if rows[f].notna().all() and rows[f].nunique() > 1]
    if not factors:
        raise NotApplicable("no condition factor varies across the rating items")
    tables, notes = [], []
    for (subject, question), part in rows.groupby(["subject", "question_name"], sort=False):
        table, problem = _effects_for(part, factors, ("participant", "scenario"), ctx,
                                      {"subject": subject, "question_name": question})
        if table is None:
            notes.append(f"{subject} / {question}: {problem}")
            continue
        if table.attrs.get("n_dropped"):
            notes.append(f"{subject} / {question}: {table.attrs['n_dropped']} answers without a rating left out.")
        for warning in table.attrs.get("warnings", []):
            notes.append(f"{subject} / {question}: statsmodels warned: {warning}")
        tables.append(table)
    if not tables:
        raise NotApplicable("no subject and question had enough ratings for a model: " + "; ".join(notes))
    effects = pd.concat(tables, ignore_index=True)
    result = AnalysisResult("effects", "Condition effects (mixed models)", tables={"effects": effects}, notes=notes)
    result.numbers = {}
    for _, r in effects.iterrows():
        result.numbers.setdefault(str(r["subject"]), {}).setdefault(str(r["question_name"]), {})[str(r["term"])] = {
            "estimate": r["estimate"], "ci": [r["ci_low"], r["ci_high"]], "p": r["p"], "model": r["model"]}
    result.notes.insert(0, f"Treatment coding: each row is a level's difference from the reference level; "
                           f"{int(ctx.level * 100)}% Wald intervals; REML fits.")
    plot = effects.assign(group=effects["subject"].astype(str) + " · " + effects["question_name"].astype(str))

    def draw():  # type: ignore[no-untyped-def]
        from proceval.report.figures import effects_figure

        return effects_figure(plot, title="Condition effects on ratings")

    result.figures.append(FigureSpec("effects", "Condition effects", draw))
    return result
