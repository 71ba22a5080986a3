"""Calibration of option probabilities: Brier score, reliability curve and expected calibration error."""

from __future__ import annotations

import numpy as np
import pandas as pd

from proceval.analysis.base import (
    AnalysisContext,
    AnalysisResult,
    FigureSpec,
    NotApplicable,
    register_analysis,
)
from proceval.analysis.data import ResponseData


def probability_rows(frame: pd.DataFrame) -> pd.DataFrame:
    """One row per (answer, option) with the probability given and whether the option is correct."""
    records = []
    rows = frame[(frame["response_type"] == "choice") & frame["answer"].notna() & frame["status"].eq("ok")]
    for record in rows.to_dict("records"):
        probs = record["probs"]
        if not isinstance(probs, dict) or not probs:
            continue
        total = sum(float(v) for v in probs.values())
        if total <= 0:
            continue
        best = max(probs, key=lambda k: probs[k])
        for key, p in probs.items():
            records.append({"subject": record["subject"], "item_id": record["item_id"], "option": key,
                            "p": float(p) / total, "is_correct": float(key == record["answer"]),
                            "is_top": key == best})
    return pd.DataFrame.from_records(records, columns=["subject", "item_id", "option", "p", "is_correct", "is_top"])


def brier_score(p: np.ndarray, outcome: np.ndarray, n_answers: int) -> float:
    """Multi-class Brier score: summed squared error over options, averaged over answers (0 best, 2 worst)."""
    return float(((p - outcome) ** 2).sum() / n_answers) if n_answers else float("nan")


def reliability_curve(confidence: np.ndarray, correct: np.ndarray, bins: int = 10) -> pd.DataFrame:
    """Equal-width bins of the top option's probability: mean confidence vs share correct."""
    edges = np.linspace(0.0, 1.0, bins + 1)
    index = np.clip(np.digitize(confidence, edges[1:-1], right=True), 0, bins - 1)
    out = []
    for b in range(bins):
        mask = index == b
        if mask.any():
            out.append({"bin_low": edges[b], "bin_high": edges[b + 1], "n": int(mask.sum()),
                        "mean_predicted": float(confidence[mask].mean()), "observed": float(correct[mask].mean())})
    return pd.DataFrame.from_records(out)


def expected_calibration_error(curve: pd.DataFrame) -> float:
    n = curve["n"].sum()
    return float((curve["n"] * (curve["mean_predicted"] - curve["observed"]).abs()).sum() / n) if n else float("nan")


@register_analysis("calibration", "Calibration of option probabilities", options={"calibration_bins": 10})
def calibration_analysis(data: ResponseData, ctx: AnalysisContext) -> AnalysisResult:
    """Brier score and reliability of the probabilities subjects gave to options (logprob scoring)."""
    rows = probability_rows(data.frame)
    if rows.empty:
        raise NotApplicable("no option probabilities recorded (calibration needs logprob scoring)")
    bins = int(ctx.options.get("calibration_bins", 10))
    summary, curves = [], []
    for subject, part in rows.groupby("subject", sort=False):
        n_answers = part["item_id"].nunique()
        top = part[part["is_top"]].drop_duplicates("item_id")
        curve = reliability_curve(top["p"].to_numpy(), top["is_correct"].to_numpy(), bins)
        curves.append(curve.assign(subject=subject))
        summary.append({"subject": subject, "answers": n_answers,
                        "brier": brier_score(part["p"].to_numpy(), part["is_correct"].to_numpy(), n_answers),
                        "mean_confidence": float(top["p"].mean()), "accuracy_of_top": float(top["is_correct"].mean()),
                        "ece": expected_calibration_error(curve)})
    table = pd.DataFrame.from_records(summary)
    curve_table = pd.concat(curves, ignore_index=True)[["subject", "bin_low", "bin_high", "n", "mean_predicted",
                                                         "observed"]]
    result = AnalysisResult("calibration", "Calibration of option probabilities",
                            tables={"calibration": table, "reliability": curve_table})
    result.numbers = {str(r["subject"]): {"brier": r["brier"], "ece": r["ece"], "answers": int(r["answers"]),
                                          "mean_confidence": r["mean_confidence"]} for _, r in table.iterrows()}
    result.notes.append(f"Brier: squared error summed over options, mean over answers. Reliability: top option's "
                        f"probability in {bins} equal-width bins; ECE weights bins by size.")

    def draw():  # type: ignore[no-untyped-def]
        from proceval.figures import reliability_figure

        return reliability_figure(curve_table, title="Reliability of the top option's probability")

    result.figures.append(FigureSpec("reliability", "Reliability curve", draw))
    return result
