"""The figures the built-in families' papers lead with, for any template with the same design.

- ``belief_accuracy`` (BigToM): accuracy on the true- and false-belief versions of each item, one panel per
  inference type, models beside humans. It applies to any dataset with a factor whose levels come in
  ``true…``/``false…`` twins (:func:`proceval.analysis.joint.find_pair_factor`).
- ``rating_grid`` (OffTheRails): mean rating by the first two varying factors (structure × evitability for
  the ``moral`` template), one panel per question, models beside humans.
- ``agreement_by_inference`` (affective cognition): agreement with the modal human answer per inference type,
  against the inter-participant (leave-one-out) baseline.
"""

from __future__ import annotations

import pandas as pd

from proceval.analysis.accuracy import accuracy_table, scored_rows
from proceval.analysis.agreement import loo_credits, modal_credit
from proceval.analysis.base import (
    AnalysisContext,
    AnalysisResult,
    FigureSpec,
    NotApplicable,
    register_analysis,
)
from proceval.analysis.bootstrap import bootstrap_ci
from proceval.analysis.data import FACTOR_PREFIX, ResponseData
from proceval.analysis.humans import answer_column
from proceval.analysis.joint import find_pair_factor
from proceval.analysis.ratings import rating_means, rating_rows
from proceval.ids import content_id

PANEL_FACTORS = ("inference", "inference_type", "question_type")  # BigToM's name for its panels


def _panel_factor(data: ResponseData, rows: pd.DataFrame, exclude: str) -> str | None:
    """The factor that splits the panels: one named like BigToM's inference type, else the one with most levels."""
    varying = {f: rows[FACTOR_PREFIX + f].nunique() for f in data.factors
               if f != exclude and rows[FACTOR_PREFIX + f].nunique() > 1}
    named = [f for f in PANEL_FACTORS if f in varying]
    if named:
        return named[0]
    return max(varying, key=lambda f: varying[f]) if varying else None


@register_analysis("belief_accuracy", "Accuracy on true- vs false-belief versions")
def belief_accuracy_analysis(data: ResponseData, ctx: AnalysisContext) -> AnalysisResult:
    """BigToM's figure: accuracy per true/false-belief version, by inference type, models beside humans."""
    rows = scored_rows(data.frame)
    if rows.empty:
        raise NotApplicable("no choice items with a correct answer: accuracy does not apply")
    factor, _pairs = find_pair_factor(data)
    column = FACTOR_PREFIX + factor
    rows = rows[rows[column].notna()]
    panel = _panel_factor(data, rows, factor)
    by = [column] if panel is None else [FACTOR_PREFIX + panel, column]
    table = accuracy_table(data.frame[data.frame[column].notna()], by, seed=ctx.seed, n_boot=ctx.n_boot,
                           level=ctx.level)
    table = table.rename(columns={c: c[len(FACTOR_PREFIX):] for c in table.columns if c.startswith(FACTOR_PREFIX)})
    result = AnalysisResult("belief_accuracy", "Accuracy on true- vs false-belief versions",
                            tables={"belief_accuracy": table})
    for _, r in table.iterrows():
        key = str(r[factor]) if panel is None else f"{r[panel]}/{r[factor]}"
        result.numbers.setdefault(str(r["subject"]), {})[key] = {"accuracy": r["accuracy"],
                                                                 "ci": [r["ci_low"], r["ci_high"]], "n": int(r["n"])}
    chance = float(table["chance"].mean())
    result.notes.append(f"Versions: the levels of {factor}; panels: {panel or 'none'}. Bars: share correct with "
                        f"{int(ctx.level * 100)}% bootstrap intervals; dashed line: chance.")

    def draw():  # type: ignore[no-untyped-def]
        from proceval.figures import bar_ci_figure, panel_bar_figure

        title = f"Accuracy by {factor}" + (f" and {panel}" if panel else "")
        if panel is None:
            return bar_ci_figure(table, x=factor, y="accuracy", low="ci_low", high="ci_high", hue="subject",
                                 chance=chance, ylabel="accuracy", title=title)
        return panel_bar_figure(table, panel=panel, x=factor, y="accuracy", low="ci_low", high="ci_high",
                                hue="subject", chance=chance, ylabel="accuracy", title=title)

    result.figures.append(FigureSpec("belief_accuracy", "Accuracy on true- vs false-belief versions", draw,
                                     caption="As in BigToM: each version's accuracy per inference type, "
                                             "models beside humans."))
    return result


@register_analysis("rating_grid", "Mean ratings by the two main factors")
def rating_grid_analysis(data: ResponseData, ctx: AnalysisContext) -> AnalysisResult:
    """OffTheRails' figure: mean rating by the first two varying factors, one panel per question."""
    rows = rating_rows(data.frame)
    if rows.empty:
        raise NotApplicable("the dataset has no rating items: rating means do not apply")
    factors = [f for f in data.factors if f in rows and rows[f].notna().all() and rows[f].nunique() > 1][:2]
    if len(factors) < 2:
        raise NotApplicable("fewer than two factors vary across the rating items: the two-factor grid does not "
                            "apply (the ratings analysis shows each factor)")
    first, second = factors
    table = rating_means(rows, ["subject", "question_name", first, second], value="value", seed=ctx.seed,
                         n_boot=ctx.n_boot, level=ctx.level)
    result = AnalysisResult("rating_grid", f"Mean ratings by {first} × {second}", tables={"rating_grid": table})
    for _, r in table.iterrows():
        result.numbers.setdefault(str(r["subject"]), {}).setdefault(str(r["question_name"]), {})[
            f"{r[first]}/{r[second]}"] = {"mean": r["mean"], "ci": [r["ci_low"], r["ci_high"]], "n": int(r["n"])}
    result.notes.append(f"Mean rating per {first} × {second} cell with {int(ctx.level * 100)}% bootstrap "
                        "intervals (people resampled by participant); model ratings are expected ratings where "
                        "a distribution over the scale exists.")
    low, high = float(rows["value"].min()), float(rows["value"].max())
    plot = table.assign(cell=table[first].astype(str) + " · " + table[second].astype(str))

    def draw():  # type: ignore[no-untyped-def]
        from proceval.figures import panel_bar_figure

        return panel_bar_figure(plot, panel="question_name", x="cell", y="mean", low="ci_low", high="ci_high",
                                hue="subject", ylabel="mean rating", title=f"Mean rating by {first} × {second}",
                                ylim=(min(0.0, low), high + 0.5))

    result.figures.append(FigureSpec("rating_grid", f"Mean ratings by {first} × {second}", draw,
                                     caption="As in OffTheRails: one panel per question, models beside humans."))
    return result


BASELINE_LABEL = "humans (leave-one-out baseline)"


@register_analysis("agreement_by_inference", "Agreement with people by inference type")
def agreement_by_inference_analysis(data: ResponseData, ctx: AnalysisContext) -> AnalysisResult:
    """Affective cognition's figure: each subject's agreement with the modal human answer per inference type,
    against the inter-participant (leave-one-out) baseline."""
    if not data.has_humans:
        raise NotApplicable("no human data given: agreement with people needs --humans FILE")
    frame = data.frame.assign(answer_value=answer_column(data.frame))
    frame = frame[frame["answer_value"].notna()]
    factor = _panel_factor(data, frame, exclude="")
    if factor is None:
        raise NotApplicable("no condition factor varies: agreement by inference type does not apply "
                            "(the humans analysis gives overall agreement)")
    column = FACTOR_PREFIX + factor
    humans = frame[frame["subject_kind"] == "human"]
    groups = humans.groupby("item_id")["answer_value"].apply(list).to_dict()
    records = []
    credits = loo_credits(humans, response="answer_value")
    for level, part in credits.groupby(column, sort=True):
        per_person = part.groupby("participant")["credit"].mean().dropna()
        if per_person.empty:
            continue
        low, high = bootstrap_ci(per_person.to_numpy(), n_boot=ctx.n_boot, level=ctx.level,
                                 seed=int(content_id(ctx.seed, "loo", str(level), length=8), 16))
        records.append({"subject": BASELINE_LABEL, factor: level, "raters": len(per_person),
                        "n": int(part["credit"].notna().sum()), "agreement": float(per_person.mean()),
                        "ci_low": low, "ci_high": high})
    for (subject, level), part in frame[frame["subject_kind"] != "human"].groupby(["subject", column], sort=True):
        scored = [modal_credit(v, groups[i]) for i, v in zip(part["item_id"], part["answer_value"], strict=True)
                  if i in groups]
        if not scored:
            continue
        low, high = bootstrap_ci(scored, n_boot=ctx.n_boot, level=ctx.level,
                                 seed=int(content_id(ctx.seed, "modal", str(subject), str(level), length=8), 16))
        records.append({"subject": subject, factor: level, "raters": int(part["participant"].nunique()),
                        "n": len(scored), "agreement": float(sum(scored) / len(scored)), "ci_low": low,
                        "ci_high": high})
    if not any(r["subject"] != BASELINE_LABEL for r in records):
        raise NotApplicable("no model answered an item the people answered: agreement by inference type does "
                            "not apply")
    table = pd.DataFrame.from_records(records)
    result = AnalysisResult("agreement_by_inference", f"Agreement with people by {factor}",
                            tables={"agreement_by_inference": table})
    for _, r in table.iterrows():
        result.numbers.setdefault(str(r["subject"]), {})[str(r[factor])] = {
            "agreement": r["agreement"], "ci": [r["ci_low"], r["ci_high"]], "n": int(r["n"])}
    result.notes.append("Agreement: share of answers equal to the modal human answer of the item (tied modes give "
                        "1/k). The baseline scores each participant against the other participants "
                        "(leave-one-out), averaged over participants; intervals resample participants for the "
                        "baseline and items for models.")

    def draw():  # type: ignore[no-untyped-def]
        from proceval.figures import bar_ci_figure

        return bar_ci_figure(table, x=factor, y="agreement", low="ci_low", high="ci_high", hue="subject",
                             ylabel="agreement with the modal human answer", title=f"Agreement with people by {factor}")

    result.figures.append(FigureSpec("agreement_by_inference", f"Agreement with people by {factor}", draw,
                                     caption="As in the affective cognition study: models against the "
                                             "inter-participant baseline, per inference type."))
    return result
