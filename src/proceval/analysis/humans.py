"""Human comparison: human accuracy beside each model's, leave-one-out modal agreement for participants and
models, the inter-participant baseline, per-item rating correlations, Cohen's kappa and Krippendorff's alpha."""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
import pandas as pd
from scipy import stats

from proceval.analysis.accuracy import accuracy_table, scored_rows
from proceval.analysis.agreement import (
    HUMAN_BASELINE,
    MODEL_DEFINITIONS,
    TIES,
    ModelDefinition,
    Ties,
    agreement_table,
    agreement_units,
    cohen_kappa,
    krippendorff_alpha,
    loo_agreement,
)
from proceval.analysis.base import (
    AnalysisContext,
    AnalysisResult,
    FigureSpec,
    NotApplicable,
    register_analysis,
)
from proceval.analysis.bootstrap import bootstrap_ci
from proceval.analysis.data import FACTOR_PREFIX, ResponseData
from proceval.errors import AnalysisError
from proceval.ids import content_id


def answer_column(frame: pd.DataFrame) -> pd.Series:
    """The answer compared across raters: the option key for choice items, the scale point for ratings."""
    rating = frame["rating"].map(lambda v: None if v is None or v != v else float(v))
    return frame["choice"].where(frame["response_type"] == "choice", rating)


def pearson_with_ci(x: np.ndarray, y: np.ndarray, level: float = 0.95) -> dict[str, float]:
    """Pearson r with a Fisher-z interval and two-sided p; Spearman rho beside it."""
    n = len(x)
    if n < 3 or np.std(x) == 0 or np.std(y) == 0:
        return {"n_items": n, "r": np.nan, "ci_low": np.nan, "ci_high": np.nan, "p": np.nan, "spearman": np.nan}
    r, p = stats.pearsonr(x, y)
    z = np.arctanh(np.clip(r, -0.999999, 0.999999))
    half = stats.norm.ppf(0.5 + level / 2) / np.sqrt(n - 3) if n > 3 else np.inf
    rho = stats.spearmanr(x, y).statistic
    return {"n_items": n, "r": float(r), "ci_low": float(np.tanh(z - half)), "ci_high": float(np.tanh(z + half)),
            "p": float(p), "spearman": float(rho)}


def _factor_names(column: str) -> str:
    return column[len(FACTOR_PREFIX):] if column.startswith(FACTOR_PREFIX) else column


def _agreement_options(ctx: AnalysisContext, data: ResponseData) -> tuple[ModelDefinition, Ties, list[str]]:
    """The model definition, tie rule and grouping columns asked for in ``ctx.options`` (checked)."""
    definition: ModelDefinition = ctx.options.get("agreement_definition") or "mode_of_all"
    ties: Ties = ctx.options.get("agreement_ties") or "split"
    if definition not in MODEL_DEFINITIONS:
        raise AnalysisError(f"unknown agreement definition {definition!r}",
                            hint="one of: " + "; ".join(f"{k}: {v}" for k, v in MODEL_DEFINITIONS.items()))
    if ties not in TIES:
        raise AnalysisError(f"unknown tie rule {ties!r}", hint="one of: " + "; ".join(f"{k}: {v}" for k, v in TIES.items()))
    by = ctx.options.get("agreement_by") or []
    if isinstance(by, str):
        by = [b.strip() for b in by.split(",") if b.strip()]
    columns = []
    for name in by:
        column = FACTOR_PREFIX + name if FACTOR_PREFIX + name in data.frame.columns else name
        if column not in data.frame.columns:
            raise AnalysisError(f"cannot group agreement by {name!r}: it is no factor of the dataset",
                                hint=f"factors: {', '.join(data.factors)}; or condition_name, question_name")
        columns.append(column)
    return definition, ties, columns


@register_analysis("humans", "Models compared with people", options={
    "agreement_by": [], "agreement_definition": "mode_of_all", "agreement_ties": "split"})
def humans_analysis(data: ResponseData, ctx: AnalysisContext) -> AnalysisResult:
    """Human vs model accuracy, leave-one-out agreement, rating correlations and inter-rater reliability."""
    if not data.has_humans:
        raise NotApplicable("no human data given (pass --humans FILE, the long table of docs/formats.md)")
    frame = data.frame.assign(answer_value=answer_column(data.frame))
    humans = frame[(frame["subject_kind"] == "human") & frame["answer_value"].notna()]
    others = frame[frame["subject_kind"] != "human"]
    result = AnalysisResult("humans", "Models compared with people")
    numbers: dict[str, Any] = {}

    # Modal agreement: the humans' leave-one-out baseline and each model, overall, per condition and per
    # the grouping asked for (options: agreement_by, agreement_definition, agreement_ties).
    definition, ties, by = _agreement_options(ctx, data)
    result.tables["participant_agreement"] = loo_agreement(humans, response="answer_value", ties=ties)
    models = others[others["answer_value"].notna()]

    def table_by(columns: list[str]) -> pd.DataFrame:
        return agreement_table(humans, models, by=columns, definition=definition, ties=ties,
                               response="answer_value").rename(columns=_factor_names)

    units = agreement_units(humans, models, definition=definition, ties=ties, response="answer_value")
    modal = humans.groupby("item_id")["answer_value"].agg(lambda s: s.mode().tolist())
    unique_modal = {i: m[0] for i, m in modal.items() if len(m) == 1}
    rows = []
    for subject, part in units.groupby("subject", sort=False):
        scores = part["score"].to_numpy()
        low, high = bootstrap_ci(scores, n_boot=ctx.n_boot, level=ctx.level,
                                 seed=int(content_id(ctx.seed, "agreement", subject, length=8), 16))
        kind, raters, kappa = "human", len(part), np.nan
        if subject != HUMAN_BASELINE:
            answered = models[models["subject"] == subject]
            kind, raters = str(answered["subject_kind"].iloc[0]), int(answered["participant"].nunique())
            paired = [(v, unique_modal[i]) for i, v in zip(answered["item_id"], answered["answer_value"],
                                                           strict=True) if i in unique_modal]
            kappa = cohen_kappa([a for a, _ in paired], [b for _, b in paired]) if paired else np.nan
        rows.append({"subject": subject, "kind": kind, "definition": "leave_one_out" if kind == "human"
                     else definition, "raters": raters, "n_items": int(part["n"].sum()),
                     "agreement": float(scores.mean()), "ci_low": low, "ci_high": high, "kappa_vs_modal": kappa})
    agreement_frame = pd.DataFrame.from_records(rows)
    by_condition = table_by(["condition_name"])
    if len(by_condition):
        result.tables["agreement_by_condition"] = by_condition
    if by:
        grouped = table_by(by)
        result.tables["agreement_by_" + "_".join(_factor_names(c) for c in by)] = grouped
        numbers["agreement_by"] = {
            "by": [_factor_names(c) for c in by],
            "rows": [{k: (v if not isinstance(v, float) or v == v else None) for k, v in r.items()}
                     for r in grouped.to_dict("records")]}
    result.tables["agreement"] = agreement_table_ = agreement_frame
    numbers["agreement_settings"] = {"definition": definition, "ties": ties}
    numbers["agreement"] = {str(r["subject"]): {"agreement": r["agreement"], "ci": [r["ci_low"], r["ci_high"]],
                                                "n_items": int(r["n_items"]), "kappa_vs_modal": r["kappa_vs_modal"]}
                            for _, r in agreement_frame.iterrows()}

    # Human accuracy per condition beside each model's.
    if not scored_rows(frame).empty:
        acc = accuracy_table(frame, ["condition_name"], seed=ctx.seed, n_boot=ctx.n_boot, level=ctx.level)
        human_acc = acc[acc["subject"] == "humans"].set_index("condition_name")
        side = []
        for _, r in acc[acc["subject"] != "humans"].iterrows():
            if r["condition_name"] in human_acc.index:
                h = human_acc.loc[r["condition_name"]]
                side.append({"subject": r["subject"], "condition_name": r["condition_name"],
                             "model_accuracy": r["accuracy"], "model_ci_low": r["ci_low"],
                             "model_ci_high": r["ci_high"], "human_accuracy": h["accuracy"],
                             "human_ci_low": h["ci_low"], "human_ci_high": h["ci_high"], "human_n": int(h["n"])})
        if side:
            side_table = pd.DataFrame.from_records(side)
            result.tables["accuracy_vs_humans"] = side_table

            def draw_acc():  # type: ignore[no-untyped-def]
                from proceval.figures import scatter_figure

                return scatter_figure(side_table, x="human_accuracy", y="model_accuracy", hue="subject",
                                      xlabel="human accuracy", ylabel="model accuracy",
                                      title="Accuracy per condition: models vs people")

            result.figures.append(FigureSpec("model_vs_human_accuracy", "Models vs people (accuracy)", draw_acc,
                                             caption="One point per condition; the diagonal is equal accuracy."))

    # Per-item correlation of mean ratings, and Krippendorff's alpha among participants.
    ratings = frame[frame["response_type"] == "rating"].copy()
    ratings["value"] = ratings["expected_rating"].where(ratings["expected_rating"].notna(), ratings["rating"])
    corr_rows = []
    human_means = ratings[ratings["subject_kind"] == "human"].groupby("item_id")["value"].mean()
    for (subject, question), part in ratings[ratings["subject_kind"] != "human"].groupby(
            ["subject", "question_name"], sort=False):
        model_means = part.groupby("item_id")["value"].mean()
        joined = pd.concat([human_means.rename("human"), model_means.rename("model")], axis=1, join="inner").dropna()
        corr_rows.append({"subject": subject, "question_name": question,
                          **pearson_with_ci(joined["human"].to_numpy(), joined["model"].to_numpy(), ctx.level)})
    if corr_rows:
        result.tables["rating_correlation"] = pd.DataFrame.from_records(corr_rows)
        numbers["rating_correlation"] = {f"{r['subject']}/{r['question_name']}": {k: r[k] for k in
                                         ("n_items", "r", "ci_low", "ci_high", "p", "spearman")} for r in corr_rows}
    alpha_rows = []
    for (question, kind), part in humans.groupby(["question_name", "response_type"], sort=False):
        level: Literal["nominal", "interval"] = "interval" if kind == "rating" else "nominal"
        alpha_rows.append({"question_name": question, "response_type": kind, "level": level,
                           "participants": int(part["participant"].nunique()),
                           "alpha": krippendorff_alpha(part, response="answer_value", level=level)})
    if alpha_rows:
        result.tables["krippendorff_alpha"] = pd.DataFrame.from_records(alpha_rows)
        numbers["krippendorff_alpha"] = {r["question_name"]: r["alpha"] for r in alpha_rows}
    result.numbers = numbers
    result.notes.append(
        "Agreement: share of answers equal to the modal answer of the other participants (leave-one-out), "
        f"averaged within participant, then over participants. Ties: {TIES[ties]}. Models: "
        f"{MODEL_DEFINITIONS[definition]}. Kappa: Cohen's kappa between a model and the unique human mode, on "
        "items that have one."
    )
    if len(agreement_table_):
        plot = agreement_table_.assign(subject=agreement_table_["subject"].str.replace(
            HUMAN_BASELINE, "humans (LOO)", regex=False))

        def draw_agreement():  # type: ignore[no-untyped-def]
            from proceval.figures import bar_ci_figure

            return bar_ci_figure(plot, x="subject", y="agreement", low="ci_low", high="ci_high",
                                 ylabel="agreement with the modal human answer", title="Agreement with people")

        result.figures.append(FigureSpec("agreement", "Agreement with people", draw_agreement))
    return result
