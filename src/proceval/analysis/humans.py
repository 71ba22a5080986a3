"""Human comparison: human accuracy beside each model's, leave-one-out modal agreement for participants and
models, the inter-participant baseline, per-item rating correlations, Cohen's kappa and Krippendorff's alpha."""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
import pandas as pd
from scipy import stats

from proceval.analysis.accuracy import accuracy_table, scored_rows
from proceval.analysis.agreement import (
    cohen_kappa,
    krippendorff_alpha,
    loo_agreement,
    loo_credits,
    modal_credit,
)
from proceval.analysis.base import (
    AnalysisContext,
    AnalysisResult,
    FigureSpec,
    NotApplicable,
    register_analysis,
)
from proceval.analysis.bootstrap import bootstrap_ci
from proceval.analysis.data import ResponseData
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


@register_analysis("humans", "Models compared with people")
def humans_analysis(data: ResponseData, ctx: AnalysisContext) -> AnalysisResult:
    """Human vs model accuracy, leave-one-out agreement, rating correlations and inter-rater reliability."""
    if not data.has_humans:
        raise NotApplicable("no human data given (pass --humans FILE, the long table of docs/formats.md)")
    frame = data.frame.assign(answer_value=answer_column(data.frame))
    humans = frame[(frame["subject_kind"] == "human") & frame["answer_value"].notna()]
    others = frame[frame["subject_kind"] != "human"]
    result = AnalysisResult("humans", "Models compared with people")
    numbers: dict[str, Any] = {}

    # Leave-one-out agreement of each participant; the inter-participant baseline is their mean.
    per_participant = loo_agreement(humans, response="answer_value")
    result.tables["participant_agreement"] = per_participant
    scored = per_participant.dropna(subset=["agreement"])
    rows = []
    if len(scored):
        low, high = bootstrap_ci(scored["agreement"].to_numpy(), n_boot=ctx.n_boot, level=ctx.level,
                                 seed=int(content_id(ctx.seed, "loo", length=8), 16))
        rows.append({"subject": "humans (leave-one-out, inter-participant baseline)", "kind": "human",
                     "raters": len(scored), "n_items": int(scored["n_items"].sum()),
                     "agreement": float(scored["agreement"].mean()), "ci_low": low, "ci_high": high,
                     "kappa_vs_modal": np.nan})
    modal = humans.groupby("item_id")["answer_value"].agg(lambda s: s.mode().tolist())
    unique_modal = {i: m[0] for i, m in modal.items() if len(m) == 1}
    groups = humans.groupby("item_id")["answer_value"].apply(list).to_dict()
    for subject, part in others.groupby("subject", sort=False):
        part = part[part["answer_value"].notna()]
        credits = [modal_credit(v, groups[i]) for i, v in zip(part["item_id"], part["answer_value"], strict=True)
                   if i in groups]
        if not credits:
            continue
        agreement, n_items = float(np.mean(credits)), len(credits)
        low, high = bootstrap_ci(credits, n_boot=ctx.n_boot, level=ctx.level,
                                 seed=int(content_id(ctx.seed, "modal", subject, length=8), 16))
        paired = [(v, unique_modal[i]) for i, v in zip(part["item_id"], part["answer_value"], strict=True)
                  if i in unique_modal]
        kappa = cohen_kappa([a for a, _ in paired], [b for _, b in paired]) if paired else np.nan
        rows.append({"subject": subject, "kind": str(part["subject_kind"].iloc[0]),
                     "raters": int(part["participant"].nunique()), "n_items": n_items, "agreement": agreement,
                     "ci_low": low, "ci_high": high, "kappa_vs_modal": kappa})
    agreement_table = pd.DataFrame.from_records(rows)

    # The same per condition: the inter-participant baseline beside each model.
    by_condition = []
    human_credits = loo_credits(humans, response="answer_value")
    for condition, part in human_credits.groupby("condition_name", sort=False):
        per_person = part.groupby("participant")["credit"].mean().dropna()
        if len(per_person):
            by_condition.append({"subject": "humans (leave-one-out)", "condition_name": condition,
                                 "raters": len(per_person), "agreement": float(per_person.mean())})
    for subject, part in others[others["answer_value"].notna()].groupby("subject", sort=False):
        scored = [(c, modal_credit(v, groups[i])) for i, v, c in
                  zip(part["item_id"], part["answer_value"], part["condition_name"], strict=True) if i in groups]
        for condition, credits_here in pd.DataFrame(scored, columns=["condition_name", "credit"]).groupby(
                "condition_name", sort=False)["credit"]:
            by_condition.append({"subject": subject, "condition_name": condition,
                                 "raters": int(part["participant"].nunique()), "agreement": float(credits_here.mean())})
    if by_condition:
        result.tables["agreement_by_condition"] = pd.DataFrame.from_records(by_condition)
    result.tables["agreement"] = agreement_table
    numbers["agreement"] = {str(r["subject"]): {"agreement": r["agreement"], "ci": [r["ci_low"], r["ci_high"]],
                                                "n_items": int(r["n_items"]), "kappa_vs_modal": r["kappa_vs_modal"]}
                            for _, r in agreement_table.iterrows()}

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
                from proceval.report.figures import scatter_figure

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
        "Agreement: share of answers equal to the modal answer of the other participants (leave-one-out; tied "
        "modes give partial credit 1/k). Models are compared with the modal answer of all participants. Kappa: "
        "Cohen's kappa between a model and the unique human mode, on items that have one."
    )
    if len(agreement_table):
        plot = agreement_table.assign(subject=agreement_table["subject"].str.replace(
            " (leave-one-out, inter-participant baseline)", " (LOO)", regex=False))

        def draw_agreement():  # type: ignore[no-untyped-def]
            from proceval.report.figures import bar_ci_figure

            return bar_ci_figure(plot, x="subject", y="agreement", low="ci_low", high="ci_high",
                                 ylabel="agreement with the modal human answer", title="Agreement with people")

        result.figures.append(FigureSpec("agreement", "Agreement with people", draw_agreement))
    return result
