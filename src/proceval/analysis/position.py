"""Position bias (how often the first-shown option is chosen) and answer validity (invalid/failed rates)."""

from __future__ import annotations

from typing import Any

import pandas as pd
from scipy import stats

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


def _presentations(row: Any) -> list[tuple[str, str]]:
    """(chosen key, first-shown key) for each order the subject saw this item in."""
    out = []
    per_order = row.get("per_order") if isinstance(row, dict) else row["per_order"]
    if isinstance(per_order, list) and per_order:
        for entry in per_order:
            order = entry.get("order") or []
            if not order:
                continue
            chosen = entry.get("choice")
            probs = entry.get("probs")
            if chosen is None and isinstance(probs, dict) and probs:
                chosen = max(probs, key=lambda k: probs[k])
            if chosen is not None:
                out.append((str(chosen), str(order[0])))
        return out
    if row["choice"] is not None and row["first_shown"] is not None:
        out.append((str(row["choice"]), str(row["first_shown"])))
    return out


def position_bias_table(frame: pd.DataFrame, *, seed: int = 0, n_boot: int = 2000, level: float = 0.95) -> pd.DataFrame:
    """Per subject: presentations, share choosing the first-shown option, its CI, the unbiased rate and a
    two-sided binomial test against it. With several orders per item (logprob scoring) each order counts."""
    choice = frame[(frame["response_type"] == "choice") & frame["status"].eq("ok")]
    out = []
    for subject, part in choice.groupby("subject", sort=False):
        hits, expected = [], []
        for record in part.to_dict("records"):
            for chosen, first in _presentations(record):
                hits.append(float(chosen == first))
                expected.append(1.0 / float(record["n_options"]))
        if not hits:
            continue
        n = len(hits)
        k = int(sum(hits))
        p0 = sum(expected) / n
        low, high = bootstrap_ci(hits, n_boot=n_boot, level=level,
                                 seed=int(content_id(seed, "position", subject, length=8), 16))
        out.append({"subject": subject, "presentations": n, "first_chosen": k, "share_first": k / n,
                    "ci_low": low, "ci_high": high, "unbiased": p0,
                    "p_value": float(stats.binomtest(k, n, p0).pvalue)})
    return pd.DataFrame.from_records(out, columns=["subject", "presentations", "first_chosen", "share_first",
                                                   "ci_low", "ci_high", "unbiased", "p_value"])


def validity_table(frame: pd.DataFrame) -> pd.DataFrame:
    """Per subject: answers and how many were ok, invalid, too long or errors (counts and rates)."""
    out = []
    for subject, part in frame.groupby("subject", sort=False):
        counts = part["status"].value_counts()
        n = len(part)
        record: dict[str, Any] = {"subject": subject, "answers": n}
        for status in ("ok", "invalid", "too_long", "error"):
            record[status] = int(counts.get(status, 0))
        record["invalid_rate"] = record["invalid"] / n if n else float("nan")
        record["failed_rate"] = (record["too_long"] + record["error"]) / n if n else float("nan")
        out.append(record)
    return pd.DataFrame.from_records(out)


@register_analysis("position_bias", "Position bias")
def position_bias_analysis(data: ResponseData, ctx: AnalysisContext) -> AnalysisResult:
    """Share of choices of the first-shown option, against the rate expected without bias."""
    table = position_bias_table(data.frame, seed=ctx.seed, n_boot=ctx.n_boot, level=ctx.level)
    if table.empty:
        raise NotApplicable("no valid choice answers with a recorded presentation order")
    result = AnalysisResult("position_bias", "Position bias", tables={"position_bias": table})
    result.numbers = {str(r["subject"]): {"share_first": r["share_first"], "unbiased": r["unbiased"],
                                          "p_value": r["p_value"], "presentations": int(r["presentations"])}
                      for _, r in table.iterrows()}
    result.notes.append("Each presentation order counts once; p: two-sided binomial test against the unbiased rate.")

    def draw():  # type: ignore[no-untyped-def]
        from proceval.figures import bar_ci_figure

        return bar_ci_figure(table, x="subject", y="share_first", low="ci_low", high="ci_high",
                             chance=float(table["unbiased"].mean()), ylabel="share choosing the first option",
                             title="Position bias")

    result.figures.append(FigureSpec("position_bias", "Position bias", draw,
                                     caption="Dashed line: the share expected without position bias."))
    return result


@register_analysis("validity", "Answer validity")
def validity_analysis(data: ResponseData, ctx: AnalysisContext) -> AnalysisResult:
    """How many answers could be parsed, and how many calls failed, per subject."""
    table = validity_table(data.frame)
    empty = [{"subject": label, "answers": 0, "ok": 0, "invalid": 0, "too_long": 0, "error": 0,
              "invalid_rate": float("nan"), "failed_rate": float("nan")} for label in data.unanswered_runs().values()]
    if empty:  # a run without answers is shown, never left out of the table
        table = pd.concat([table, pd.DataFrame.from_records(empty)], ignore_index=True) if len(table) else \
            pd.DataFrame.from_records(empty)
    result = AnalysisResult("validity", "Answer validity", tables={"validity": table})
    result.numbers = {str(r["subject"]): {k: (int(r[k]) if k in ("answers", "ok", "invalid", "too_long", "error")
                                              else float(r[k]))
                                          for k in ("answers", "ok", "invalid", "too_long", "error", "invalid_rate",
                                                    "failed_rate")}
                      for _, r in table.iterrows()}
    if data.human_stats:
        stats_ = data.human_stats
        result.notes.append(
            f"Human table: {stats_['rows']} rows, {stats_['used']} used, {stats_['unknown_items']} naming items not "
            f"in the dataset (left out), {stats_['invalid']} responses that are not an option or scale point."
        )
        result.numbers["human_table"] = {k: v for k, v in stats_.items() if k != "invalid_examples"}
    return result
