"""Accuracy per subject × condition (and per factor level) with seeded bootstrap CIs and chance level."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from proceval.analysis.base import (
    AnalysisContext,
    AnalysisResult,
    FigureSpec,
    NotApplicable,
    register_analysis,
)
from proceval.analysis.bootstrap import bootstrap_ci
from proceval.analysis.data import FACTOR_PREFIX, ResponseData
from proceval.ids import content_id

FAILED = ("error", "too_long")


def scored_rows(frame: pd.DataFrame) -> pd.DataFrame:
    """Choice answers to items with a correct option, with ``score`` = 1/0 (invalid answers score 0), and
    answers a task's verifier scored, with its score (1/0 or graded).

    Rows that failed (``error``/``too_long``) are kept with ``score`` NaN so they can be counted.
    """
    verified = frame["verifier_score"].notna() if "verifier_score" in frame else False
    rows = frame[((frame["response_type"] == "choice") & frame["answer"].notna()) | verified].copy()
    failed = rows["status"].isin(FAILED)
    score = rows["verifier_score"].astype(float) if "verifier_score" in rows else rows["correct"]
    rows["score"] = score.where(score.notna(), rows["correct"]).fillna(0.0)
    rows.loc[failed, "score"] = np.nan
    return rows


def accuracy_table(
    frame: pd.DataFrame,
    by: Sequence[str] = ("condition_name",),
    *,
    seed: int = 0,
    n_boot: int = 2000,
    level: float = 0.95,
) -> pd.DataFrame:
    """Accuracy of each subject in each group of ``by`` columns.

    Columns: ``subject``, the ``by`` columns, ``n`` (answers scored), ``n_invalid`` (unparseable answers,
    scored as wrong), ``n_failed`` (errors/too long, not scored), ``correct``, ``accuracy``, ``ci_low``,
    ``ci_high`` (percentile bootstrap; humans are resampled by participant) and ``chance`` (mean of
    1/number of options). Each group's bootstrap seed is derived from ``seed`` and the group, so adding a
    subject does not change another's interval.
    """
    rows = scored_rows(frame)
    keys = ["subject", *by]
    out = []
    for group, part in rows.groupby(keys, sort=False, dropna=False):
        group = group if isinstance(group, tuple) else (group,)
        scored = part[part["score"].notna()]
        n = len(scored)
        is_human = bool((part["subject_kind"] == "human").any())
        clusters = scored["participant"].to_numpy() if is_human else None
        group_seed = int(content_id(seed, *map(str, group), length=8), 16)
        low, high = bootstrap_ci(scored["score"].to_numpy(), n_boot=n_boot, level=level, seed=group_seed,
                                 clusters=clusters)
        record = dict(zip(keys, group, strict=True))
        record.update(
            n=n,
            n_invalid=int((part["status"] == "invalid").sum()),
            n_failed=int(part["status"].isin(FAILED).sum()),
            correct=int(scored["score"].sum()),
            accuracy=float(scored["score"].mean()) if n else float("nan"),
            ci_low=low,
            ci_high=high,
            chance=float((1.0 / part["n_options"].astype(float)).mean()),
        )
        out.append(record)
    return pd.DataFrame.from_records(out, columns=[*keys, "n", "n_invalid", "n_failed", "correct", "accuracy",
                                                    "ci_low", "ci_high", "chance"])


@register_analysis("accuracy", "Accuracy by condition")
def accuracy_analysis(data: ResponseData, ctx: AnalysisContext) -> AnalysisResult:
    """Accuracy per subject × condition and per factor level, with bootstrap CIs and chance."""
    rows = scored_rows(data.frame)
    if rows.empty:
        raise NotApplicable("no choice items with a correct answer and no verified answers: accuracy does not apply")
    result = AnalysisResult("accuracy", "Accuracy by condition")
    by_condition = accuracy_table(data.frame, ["question_name", "condition_name"], seed=ctx.seed,
                                  n_boot=ctx.n_boot, level=ctx.level)
    # the question column only when a condition holds several questions (else the condition names it)
    if (rows.groupby("condition_name")["question_name"].nunique() <= 1).all():
        by_condition = by_condition.drop(columns="question_name")
    result.tables["by_condition"] = by_condition
    overall = accuracy_table(data.frame, [], seed=ctx.seed, n_boot=ctx.n_boot, level=ctx.level)
    empty = [{"subject": label, "n": 0, "n_invalid": 0, "n_failed": 0, "correct": 0, "accuracy": float("nan"),
              "ci_low": float("nan"), "ci_high": float("nan"), "chance": float(overall["chance"].mean())}
             for label in data.unanswered_runs().values()]
    if empty:  # a run without answers is shown with zero answers, never left out
        overall = pd.concat([overall, pd.DataFrame.from_records(empty, columns=overall.columns)], ignore_index=True)
    result.tables["overall"] = overall
    for factor in data.factors:
        column = FACTOR_PREFIX + factor
        if rows[column].notna().any() and rows[column].nunique() > 1:
            table = accuracy_table(data.frame[data.frame[column].notna()], [column], seed=ctx.seed,
                                   n_boot=ctx.n_boot, level=ctx.level).rename(columns={column: factor})
            result.tables[f"by_{factor}"] = table
    result.numbers = {
        "overall": {
            str(r["subject"]): {"accuracy": r["accuracy"], "ci": [r["ci_low"], r["ci_high"]], "n": int(r["n"]),
                                "n_invalid": int(r["n_invalid"]), "n_failed": int(r["n_failed"]),
                                "chance": r["chance"]}
            for _, r in overall.iterrows()
        },
        "by_condition": {
            str(r["subject"]): {} for _, r in overall.iterrows()
        },
    }
    for _, r in by_condition.iterrows():
        key = str(r["condition_name"]) if "question_name" not in by_condition else f"{r['question_name']}/{r['condition_name']}"
        result.numbers["by_condition"][str(r["subject"])][key] = {
            "accuracy": r["accuracy"], "ci": [r["ci_low"], r["ci_high"]], "n": int(r["n"])}
    n_invalid = int(overall["n_invalid"].sum())
    n_failed = int(overall["n_failed"].sum())
    result.notes.append(
        f"Invalid (unparseable) answers count as wrong ({n_invalid} in all); failed calls are not scored "
        f"({n_failed} in all). Intervals: {int(ctx.level * 100)}% percentile bootstrap, {ctx.n_boot} resamples, "
        f"seed {ctx.seed}; human answers are resampled by participant."
    )
    chance = float(overall["chance"].mean())
    x = "condition_name"
    plot_table = by_condition
    if "question_name" in by_condition:
        plot_table = by_condition.assign(condition_name=by_condition["question_name"] + " / " + by_condition["condition_name"])
    result.figures.append(FigureSpec(
        "accuracy_by_condition", "Accuracy by condition",
        lambda: _bar(plot_table, x, "Accuracy by condition", chance),
        caption="Bars: share correct; whiskers: bootstrap CI; dashed line: chance.",
    ))
    for factor in data.factors:
        table = result.tables.get(f"by_{factor}")
        if table is not None:
            result.figures.append(FigureSpec(
                f"accuracy_by_{factor}", f"Accuracy by {factor}",
                _bar_drawer(table, factor, f"Accuracy by {factor}", chance),
            ))
    return result


def _bar_drawer(table: pd.DataFrame, x: str, title: str, chance: float):  # type: ignore[no-untyped-def]
    return lambda: _bar(table, x, title, chance)


def _bar(table: pd.DataFrame, x: str, title: str, chance: float):  # type: ignore[no-untyped-def]
    from proceval.figures import bar_ci_figure

    return bar_ci_figure(table, x=x, y="accuracy", low="ci_low", high="ci_high", hue="subject", chance=chance,
                         ylabel="accuracy", title=title)
