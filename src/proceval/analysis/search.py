"""Stream of Search: solve rates of countdown runs (a stream solves its problem when the verifier's score is
above 0 — a reached goal scores below 1, so ``accuracy`` would count none), with Wilson intervals, by split,
by number of inputs and by the heuristic search the solved stream resembles; several runs side by side."""

from __future__ import annotations

import difflib
from functools import lru_cache

import pandas as pd

from proceval.analysis.base import AnalysisContext, AnalysisResult, NotApplicable, register_analysis
from proceval.analysis.bootstrap import wilson_ci
from proceval.analysis.data import ResponseData
from proceval.tasks.countdown.search import STRATEGIES, run_strategy
from proceval.tasks.countdown.verify import parse_operations

FAILED = ("error", "too_long")


@lru_cache(maxsize=4096)
def _explored(strategy: str, target: int, numbers: tuple[int, ...]) -> tuple[str, ...]:
    return explored_operations(run_strategy(strategy, target, list(numbers)).stream)


def explored_operations(stream: str) -> tuple[str, ...]:
    """The operations a stream explores, in order (``Exploring Operation`` lines)."""
    return tuple(str(op) for line in stream.splitlines() if line.startswith("Exploring Operation:")
                 for op in parse_operations(line.split(",")[0]))


def resembled_strategy(stream: str, numbers: list[int], target: int) -> str:
    """The search strategy whose stream for this problem explores the most similar sequence of operations
    (difflib's ratio; ties go to the first in :data:`STRATEGIES`)."""
    mine = explored_operations(stream)
    scores = [difflib.SequenceMatcher(None, mine, _explored(s, target, tuple(numbers)), autojunk=False).ratio()
              for s in STRATEGIES]
    return STRATEGIES[max(range(len(STRATEGIES)), key=lambda i: (scores[i], -i))]


def solve_rate_table(rows: pd.DataFrame, by: list[str], level: float) -> pd.DataFrame:
    """Per subject and ``by`` group: n, solved, solve rate and its Wilson interval at ``level``."""
    out = []
    for group, part in rows.groupby(["subject", *by], sort=True, dropna=False):
        n, k = len(part), int(part["solved"].sum())
        low, high = wilson_ci(k, n, level)
        out.append({**dict(zip(["subject", *by], group, strict=True)), "n": n, "solved": k,
                    "solve_rate": k / n, "ci_low": float(low), "ci_high": float(high)})
    return pd.DataFrame.from_records(out)


def solved_rows(data: ResponseData) -> pd.DataFrame:
    """One row per answer to a countdown problem: subject, split, inputs, solved (score > 0), the strategy its
    stream resembles (solved streams only). Failed calls (errors, too long) are left out."""
    items = data.items
    raws = {(run.name, r["item_id"]): r.get("raw") or "" for run in data.runs for r in run.responses}
    frame = data.frame
    if frame.empty or "verifier_score" not in frame:
        raise NotApplicable("no answers scored by a verifier")
    rows = []
    for record in frame.itertuples(index=False):
        item = items.get(str(record.item_id))
        if item is None or "target" not in item.metadata or record.status in FAILED:
            continue
        score = record.verifier_score
        solved = score is not None and not pd.isna(score) and float(score) > 0
        raw = raws.get((str(record.run), str(record.item_id)), "")
        numbers, target = list(item.metadata["numbers"]), int(item.metadata["target"])
        rows.append({"subject": record.subject, "split": record.condition_name, "inputs": len(numbers),
                     "solved": solved, "resembles": resembled_strategy(raw, numbers, target) if solved else None})
    if not rows:
        raise NotApplicable("no answers to countdown problems (this analysis reads `proceval run` of a countdown "
                            "dataset)")
    return pd.DataFrame.from_records(rows)


@register_analysis("search", "Stream of Search: solve rates",
                   "countdown runs: solve rate (score > 0) with Wilson CIs by split, inputs and resembled strategy")
def search_analysis(data: ResponseData, ctx: AnalysisContext) -> AnalysisResult:
    if data.dataset.template_name != "countdown":
        raise NotApplicable("not a countdown dataset")
    rows = solved_rows(data)
    by_split = solve_rate_table(rows, ["split"], ctx.level)
    solved = rows[rows["solved"]]
    by_strategy = (solved.groupby(["subject", "resembles"]).size().rename("solved").reset_index()
                   if not solved.empty else pd.DataFrame(columns=["subject", "resembles", "solved"]))
    if not by_strategy.empty:
        by_strategy["share"] = by_strategy["solved"] / by_strategy.groupby("subject")["solved"].transform("sum")
    side = by_split.pivot(index="split", columns="subject", values="solve_rate").reset_index()
    result = AnalysisResult("search", "Stream of Search: solve rates", tables={
        "by_split": by_split, "by_inputs": solve_rate_table(rows, ["inputs"], ctx.level),
        "by_strategy": by_strategy, "side_by_side": side})
    for row in solve_rate_table(rows, [], ctx.level).itertuples(index=False):
        result.numbers[f"solve_rate[{row.subject}]"] = {"n": row.n, "solved": row.solved, "rate": row.solve_rate,
                                                        "ci": [row.ci_low, row.ci_high]}
    result.notes.append("solved = the verifier's score is above 0 (the goal reached with valid operations); the "
                        f"intervals are Wilson score intervals at {ctx.level:.0%}; 'resembles' is the heuristic "
                        "search whose stream explores the most similar operations")
    return result
