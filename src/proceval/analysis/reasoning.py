"""Analyses of deductive reasoning (the ``prontoqa`` and ``syllogisms`` tasks, the ``logic-guide`` solver).

- ``reasoning_accuracy``: accuracy with bootstrap CIs by hops × ontology × condition (the solver's condition is
  the record's ``strategy``: ``cot``, ``guided``, ``guided-formalised``; a plain model's prompt strategy; people);
- ``soundness``: the share of inference steps that were valid — 100% by construction under the guide, measured
  when unguided — with certified answers, refused blocks and the samples drawn (constraint retries on servers
  that do not mask tokens);
- ``content_effect``: accuracy on the true minus the false ontology (prontoqa), believable minus unbelievable
  and congruent minus incongruent (syllogisms: logic and belief agree vs conflict), per subject and condition,
  so the effect with and without the guide, and in people where a study collected them, stand side by side.

``guided-formalised`` is an ablation (proceval's parser formalised the problem; only the inferences are the
model's); every table that shows it says so in its notes.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from proceval.analysis.accuracy import accuracy_table, scored_rows
from proceval.analysis.base import AnalysisContext, AnalysisResult, NotApplicable, register_analysis
from proceval.analysis.data import FACTOR_PREFIX, ResponseData
from proceval.ids import content_id

ABLATION = ("guided-formalised is an ablation, not the paper's setting: proceval's parser formalised each problem "
            "from the task's own sentences, so only the inference steps were the model's.")
CONDITION = "condition"


def with_condition(frame: pd.DataFrame) -> pd.DataFrame:
    """The frame with a ``condition`` column: the record's strategy, ``people`` for human answers."""
    condition = frame["strategy"].where(frame["strategy"].notna(), frame["subject_kind"].map(
        lambda kind: "people" if kind == "human" else "—"))
    return frame.assign(condition=condition.astype(str))


def _notes(frame: pd.DataFrame) -> list[str]:
    return [ABLATION] if (frame[CONDITION] == "guided-formalised").any() else []


@register_analysis("reasoning_accuracy", "Accuracy by hops × ontology × condition")
def reasoning_accuracy(data: ResponseData, ctx: AnalysisContext) -> AnalysisResult:
    """Accuracy with bootstrap CIs per subject × condition × every factor of the dataset (hops, ontology, …)."""
    if not data.factors or scored_rows(data.frame).empty:
        raise NotApplicable("no scored answers to items with factors")
    frame = with_condition(data.frame)
    factors = [FACTOR_PREFIX + f for f in data.factors]
    table = accuracy_table(frame, [CONDITION, *factors], seed=ctx.seed, n_boot=ctx.n_boot, level=ctx.level)
    table = table.rename(columns={FACTOR_PREFIX + f: f for f in data.factors})
    overall = accuracy_table(frame, [CONDITION], seed=ctx.seed, n_boot=ctx.n_boot, level=ctx.level)
    result = AnalysisResult("reasoning_accuracy", "Accuracy by hops × ontology × condition",
                            tables={"by_condition": overall, "by_cell": table})
    result.numbers = {f"{r['subject']} / {r[CONDITION]}": {"accuracy": r["accuracy"], "ci": [r["ci_low"], r["ci_high"]],
                                                          "n": int(r["n"])} for _, r in overall.iterrows()}
    result.notes = [*_notes(frame), "Under the logic guide an answer that was not proved is 'unknown' and scored "
                    f"wrong. Intervals: {int(ctx.level * 100)}% percentile bootstrap, {ctx.n_boot} resamples."]
    return result


def logic_rows(data: ResponseData) -> pd.DataFrame:
    """One row per record that carries the logic solver's ``logic`` field, with the frame's subject label,
    condition and factors."""
    frame = with_condition(data.frame)
    keep = ["run", "item_id", "subject", CONDITION, *[FACTOR_PREFIX + f for f in data.factors]]
    logic = [{"run": run.name, "item_id": r["item_id"], **r["logic"]} for run in data.runs for r in run.responses
             if isinstance(r.get("logic"), dict)]
    if not logic:
        return pd.DataFrame()
    joined = pd.DataFrame.from_records(logic).drop(columns=[CONDITION], errors="ignore")
    return frame[keep].drop_duplicates(["run", "item_id"]).merge(joined, on=["run", "item_id"])


@register_analysis("soundness", "Soundness of the inference steps")
def soundness(data: ResponseData, ctx: AnalysisContext) -> AnalysisResult:
    """Share of inference steps that were valid, per subject × condition (100% under the guide)."""
    rows = logic_rows(data)
    if rows.empty:
        raise NotApplicable("no answers of the logic-guide solver (records with 'logic')")
    out = []
    for (subject, condition), part in rows.groupby(["subject", CONDITION], sort=False):
        steps, valid = int(part["inferences"].sum()), int(part["valid_inferences"].sum())
        out.append({"subject": subject, CONDITION: condition, "problems": len(part), "inference_steps": steps,
                    "valid_steps": valid, "soundness": valid / steps if steps else float("nan"),
                    "with_inferences": int((part["inferences"] > 0).sum()),
                    "certified": float(part["certified"].mean()),
                    "unknown": float((part["answer"] == "unknown").mean()),
                    "refused_blocks": int(part["block_errors"].sum()),
                    "samples_drawn": int(part["attempts"].sum()),
                    "redraws": int(part["redraws"].fillna(0).sum()) if "redraws" in part else 0})
    table = pd.DataFrame.from_records(out)
    result = AnalysisResult("soundness", "Soundness of the inference steps", tables={"soundness": table})
    result.numbers = {f"{r['subject']} / {r[CONDITION]}": {"soundness": r["soundness"],
                                                          "steps": int(r["inference_steps"])}
                      for _, r in table.iterrows()}
    result.notes = [*_notes(rows), "soundness: valid inference blocks / all inference blocks, pooled over problems "
                    "(NaN where no inference was written); certified: every block accepted and the answer proved; "
                    "refused blocks: blocks the engine could not read or accept (under the guide the model was shown "
                    "the error); samples drawn: more than the blocks where a server without token masking was asked "
                    "again; redraws: those draws, after a text that broke the guide (at most the provider's "
                    "constraint_retries per block)."]
    return result


CONTRASTS = {  # factor → (name, level counted as +, level counted as −)
    "ontology": [("true − false ontology", {"true"}, {"false"})],
    "believability": [("believable − unbelievable", {"believable"}, {"unbelievable"})],
}


def _difference(plus: np.ndarray, minus: np.ndarray, ctx: AnalysisContext, *key: str) -> dict[str, Any]:
    """Difference of mean accuracies with a percentile bootstrap CI (each group resampled on its own)."""
    if not plus.size or not minus.size:
        return {"effect": float("nan"), "ci_low": float("nan"), "ci_high": float("nan")}
    rng = np.random.default_rng(int(content_id(ctx.seed, *key, length=8), 16))
    draws = (plus[rng.integers(0, plus.size, (ctx.n_boot, plus.size))].mean(axis=1)
             - minus[rng.integers(0, minus.size, (ctx.n_boot, minus.size))].mean(axis=1))
    alpha = (1 - ctx.level) / 2
    low, high = np.quantile(draws, [alpha, 1 - alpha])
    return {"effect": float(plus.mean() - minus.mean()), "ci_low": float(low), "ci_high": float(high)}


@register_analysis("content_effect", "Content effect with and without the guide")
def content_effect(data: ResponseData, ctx: AnalysisContext) -> AnalysisResult:
    """Accuracy on true − false ontology (prontoqa); believable − unbelievable and congruent − incongruent
    (syllogisms), per subject × condition, with bootstrap CIs."""
    frame = with_condition(scored_rows(data.frame))
    frame = frame[frame["score"].notna()]
    columns = set(frame.columns)
    if not ({FACTOR_PREFIX + "ontology", FACTOR_PREFIX + "believability"} & columns):
        raise NotApplicable("no ontology or believability factor (prontoqa, syllogisms)")
    if FACTOR_PREFIX + "validity" in columns and FACTOR_PREFIX + "believability" in columns:
        congruent = frame[FACTOR_PREFIX + "validity"].map({"valid": "believable", "invalid": "unbelievable"})
        frame = frame.assign(**{FACTOR_PREFIX + "congruence": np.where(
            congruent == frame[FACTOR_PREFIX + "believability"], "congruent", "incongruent")})
    contrasts = {**CONTRASTS, "congruence": [("congruent − incongruent", {"congruent"}, {"incongruent"})]}
    out = []
    for factor, specs in contrasts.items():
        column = FACTOR_PREFIX + factor
        if column not in frame:
            continue
        for (subject, condition), part in frame.groupby(["subject", CONDITION], sort=False):
            for name, plus, minus in specs:
                a = part.loc[part[column].isin(plus), "score"].to_numpy(float)
                b = part.loc[part[column].isin(minus), "score"].to_numpy(float)
                out.append({"subject": subject, CONDITION: condition, "contrast": name, "n_plus": a.size,
                            "n_minus": b.size, **_difference(a, b, ctx, str(subject), str(condition), name)})
    table = pd.DataFrame.from_records(out)
    result = AnalysisResult("content_effect", "Content effect with and without the guide",
                            tables={"content_effect": table})
    result.numbers = {f"{r['subject']} / {r[CONDITION]} / {r['contrast']}": r["effect"] for _, r in table.iterrows()}
    result.notes = [*_notes(frame), "A content effect is accuracy where the content agrees with world knowledge "
                    "minus where it does not; 0 means the content did not sway the answers. Intervals: "
                    f"{int(ctx.level * 100)}% percentile bootstrap of the difference, {ctx.n_boot} resamples."]
    return result
