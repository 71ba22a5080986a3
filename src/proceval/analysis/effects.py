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
    CannotEstimate,
    FigureSpec,
    NotApplicable,
    register_analysis,
)
from proceval.analysis.data import ResponseData
from proceval.analysis.ratings import rating_rows
from proceval.errors import AnalysisError, describe_error

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
    needed = [response, *factors, *groups]
    missing = [c for c in needed if c not in df.columns]
    if missing:
        raise AnalysisError(f"mixed_effects: no column(s) {', '.join(missing)} (has {', '.join(map(str, df.columns))})")
    data = df[needed].copy()
    data[response] = pd.to_numeric(data[response], errors="coerce")
    complete = data.dropna()
    n_dropped = len(data) - len(complete)
    if len(complete) < 3:
        raise CannotEstimate(f"only {len(complete)} complete rows: too few for a model of {response}")
    if complete[response].nunique() < 2:
        raise CannotEstimate(f"the values of {response} do not vary (all {complete[response].iloc[0]:g}): "
                             "effects cannot be estimated")
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
        raise CannotEstimate(f"no factor varies in the data ({', '.join(factors)} each have one level): "
                             "effects cannot be estimated")
    # a grouping column needs two levels and some level with several rows, else its variance is not identified
    used_groups = [g for g in groups if 1 < complete[g].astype(str).nunique() < len(complete)]
    for i, group in enumerate(used_groups):
        frame[f"g{i}"] = complete[group].astype(str)
    terms = {f: f"C({names[f]}, Treatment(reference={refs[f]!r}))" for f in used_factors}
    formula = f"y ~ {' + '.join(terms.values())}"
    _check_design(frame, terms)
    caught: list[str] = []
    with warnings.catch_warnings(record=True) as log:
        warnings.simplefilter("always")
        try:
            fit, kind = _fit(formula, frame, used_groups)
        except (np.linalg.LinAlgError, ValueError, ZeroDivisionError) as exc:
            if not used_groups:
                raise CannotEstimate(f"the model of {response} could not be fitted ({describe_error(exc)}): "
                                     "effects cannot be estimated") from None
            # a random-intercept variance at zero makes the mixed model singular; the fixed effects are still
            # estimable without it, which the model column and a warning say
            caught.append(f"the mixed model could not be fitted ({describe_error(exc)}; a random-intercept "
                          f"variance is probably zero): fitted without random intercepts")
            fit, kind = _fit(formula, frame, [])
            kind += f"; the random intercepts for {' and '.join(used_groups)} could not be estimated"
            used_groups = []
        caught += sorted({str(w.message) for w in log if "converge" in str(w.message).lower()
                          or "boundary" in str(w.message).lower() or "singular" in str(w.message).lower()})
    if not np.all(np.isfinite(np.asarray(fit.params, dtype=float))):
        raise CannotEstimate(f"the model of {response} gave no finite estimates: effects cannot be estimated")
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


def _fit(formula: str, frame: pd.DataFrame, groups: list[str]) -> tuple[Any, str]:
    """Fit with crossed random intercepts (two groups), one random intercept, or OLS (none)."""
    import statsmodels.formula.api as smf

    if len(groups) == 2:
        frame = frame.assign(all=1)
        model = smf.mixedlm(formula, frame, groups="all", re_formula="0",
                            vc_formula={"g0": "0 + C(g0)", "g1": "0 + C(g1)"}, use_sparse=True)
        return model.fit(reml=True, method=["lbfgs"]), \
            f"linear mixed model, crossed random intercepts for {groups[0]} and {groups[1]}"
    if len(groups) == 1:
        return smf.mixedlm(formula, frame, groups="g0").fit(reml=True, method=["lbfgs"]), \
            f"linear mixed model, random intercept for {groups[0]}"
    return smf.ols(formula, frame).fit(), "ordinary least squares (no grouping column has two or more levels)"


def _check_design(frame: pd.DataFrame, terms: dict[str, str]) -> None:
    """Refuse a fixed-effects design that is singular (confounded factors, too few answers) before fitting."""
    import patsy

    design = patsy.dmatrix(" + ".join(terms.values()), frame, return_type="dataframe")
    if len(design) <= design.shape[1]:
        raise CannotEstimate(f"{len(design)} answers for {design.shape[1]} coefficients: effects cannot be "
                             "estimated")
    columns = design.to_numpy(dtype=float)
    for j in range(columns.shape[1]):
        if np.linalg.matrix_rank(columns[:, : j + 1]) == j:  # column j adds nothing: it is confounded
            term = design.columns[j]
            factor = next((f for f, t in terms.items() if term.startswith(t)), term)
            raise CannotEstimate(f"the design is singular: {factor} is confounded with the other factors in "
                                 "these answers (some level combinations never occur): effects cannot be "
                                 "estimated")


def _effects_for(rows: pd.DataFrame, subject: str, question: str, factors: list[str], ctx: AnalysisContext,
                 ) -> pd.DataFrame:
    """One subject's effects on one question; degenerate answers raise :class:`CannotEstimate` naming them."""
    values = pd.to_numeric(rows["value"], errors="coerce").dropna()
    if len(values) and values.nunique() < 2:
        raise CannotEstimate(f"the ratings of {subject} do not vary ({question}: all {values.iloc[0]:g}): "
                             "effects cannot be estimated")
    varying = [f for f in factors if rows[f].nunique() > 1]
    if not varying:
        raise CannotEstimate(f"{subject} rated {question} in one level of each factor: effects cannot be estimated")
    try:
        ratings = rows.drop(columns="rating").rename(columns={"value": "rating"})
        table = mixed_effects(ratings, response="rating", factors=varying, groups=("participant", "scenario"),
                              level=ctx.level)
    except CannotEstimate as exc:
        raise CannotEstimate(f"{subject} / {question}: {exc.message}") from None
    table.insert(0, "question_name", question)
    table.insert(0, "subject", subject)
    return table


@register_analysis("effects", "Condition effects (mixed models)")
def effects_analysis(data: ResponseData, ctx: AnalysisContext) -> AnalysisResult:
    """Per subject and rating question: rating ~ factors + (1|participant) + (1|scenario).

    A subject whose ratings cannot support a model (no variance, one level, a singular design) is listed in
    ``failures`` with the reason; the others are still estimated. When none can be, the analysis fails.
    """
    rows = rating_rows(data.frame).rename(columns={"scenario_id": "scenario"})
    if rows.empty:
        raise NotApplicable("the dataset has no rating items: condition effects on ratings do not apply")
    factors = [f for f in data.factors if rows[f].notna().all() and rows[f].nunique() > 1]
    if not factors:
        raise CannotEstimate("every condition factor has a single level across the rating items: effects "
                             "cannot be estimated")
    tables, notes, failures = [], [], {}
    for (subject, question), part in rows.groupby(["subject", "question_name"], sort=False):
        try:
            table = _effects_for(part, str(subject), str(question), factors, ctx)
        except CannotEstimate as exc:
            failures[f"{subject} / {question}"] = exc.message
            continue
        if table.attrs.get("n_dropped"):
            notes.append(f"{subject} / {question}: {table.attrs['n_dropped']} answers without a rating left out.")
        for warning in table.attrs.get("warnings", []):
            notes.append(f"{subject} / {question}: statsmodels warned: {warning}")
        tables.append(table)
    if not tables:
        raise CannotEstimate("; ".join(dict.fromkeys(failures.values())))
    effects = pd.concat(tables, ignore_index=True)
    result = AnalysisResult("effects", "Condition effects (mixed models)", tables={"effects": effects}, notes=notes,
                            failures=failures)
    result.numbers = {}
    for _, r in effects.iterrows():
        result.numbers.setdefault(str(r["subject"]), {}).setdefault(str(r["question_name"]), {})[str(r["term"])] = {
            "estimate": r["estimate"], "ci": [r["ci_low"], r["ci_high"]], "p": r["p"], "model": r["model"]}
    result.notes.insert(0, f"Treatment coding: each row is a level's difference from the reference level; "
                           f"{int(ctx.level * 100)}% Wald intervals; REML fits.")
    plot = effects.assign(group=effects["subject"].astype(str) + " · " + effects["question_name"].astype(str))

    def draw():  # type: ignore[no-untyped-def]
        from proceval.figures import effects_figure

        return effects_figure(plot, title="Condition effects on ratings")

    result.figures.append(FigureSpec("effects", "Condition effects", draw))
    return result
