"""BigToM's joint metric: a scenario counts only when both its true- and false-belief versions are right.

Pairs are found from the condition factors: a factor whose levels come in ``true…``/``false…`` twins
(``true``/``false``, ``true_belief``/``false_belief``, ``true_control``/``false_control``) is the pair
factor; two items pair when they share scenario, question and every other factor level, and their pair-factor
levels are twins. Humans are paired within a participant.
"""

from __future__ import annotations

import pandas as pd

from proceval.analysis.accuracy import scored_rows
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


def twin_levels(levels: list[str]) -> dict[str, str]:
    """Map each ``true…`` level to its ``false…`` twin where both exist."""
    pairs = {}
    for level in levels:
        for true, false in (("true", "false"), ("True", "False"), ("TRUE", "FALSE"), ("tb", "fb"), ("TB", "FB")):
            if true in level:
                twin = level.replace(true, false, 1)
                if twin in levels:
                    pairs[level] = twin
                    break
    return pairs


def find_pair_factor(data: ResponseData) -> tuple[str, dict[str, str]]:
    for factor in data.factors:
        levels = [str(v) for v in data.frame[FACTOR_PREFIX + factor].dropna().unique()]
        pairs = twin_levels(levels)
        if pairs:
            return factor, pairs
    raise NotApplicable(
        "no condition factor has true/false twin levels (e.g. belief: true_belief/false_belief): "
        "the joint true-and-false-belief metric does not apply"
    )


def joint_table(
    frame: pd.DataFrame, factor: str, pairs: dict[str, str], other_factors: list[str], *,
    seed: int = 0, n_boot: int = 2000, level: float = 0.95, overall: bool = False,
) -> pd.DataFrame:
    """Per subject and group: pairs found, TB / FB accuracy on them, and the share with both right.
    With ``overall``, one row per subject pooling every pair."""
    rows = scored_rows(frame)
    rows = rows[rows["score"].notna()]
    column = FACTOR_PREFIX + factor
    reverse = {v: k for k, v in pairs.items()}
    rows = rows[rows[column].isin(list(pairs) + list(reverse))].copy()
    rows["pair"] = rows[column].map(lambda v: v if v in pairs else reverse[v])
    rows["side"] = rows[column].map(lambda v: "true" if v in pairs else "false")
    others = [FACTOR_PREFIX + f for f in other_factors if f != factor]
    keys = ["subject", "participant", "scenario_id", "question_name", "pair", *others]
    wide = rows.pivot_table(index=keys, columns="side", values="score", aggfunc="mean", dropna=False)
    wide = wide.dropna(subset=[c for c in ("true", "false") if c in wide.columns])
    if "true" not in wide.columns or "false" not in wide.columns or wide.empty:
        return pd.DataFrame()
    wide = wide.reset_index()
    wide["both"] = ((wide["true"] == 1) & (wide["false"] == 1)).astype(float)
    group_keys = ["subject"] if overall else ["subject", "question_name", "pair", *others]
    out = []
    for group, part in wide.groupby(group_keys, sort=False, dropna=False):
        is_human = part["subject"].iloc[0] != part["participant"].iloc[0]
        low, high = bootstrap_ci(part["both"].to_numpy(), n_boot=n_boot, level=level,
                                 seed=int(content_id(seed, "joint", *map(str, group), length=8), 16),
                                 clusters=part["participant"].to_numpy() if is_human else None)
        record = dict(zip(group_keys, group, strict=True))
        record.update(n_pairs=len(part), true_accuracy=float(part["true"].mean()),
                      false_accuracy=float(part["false"].mean()), joint_accuracy=float(part["both"].mean()),
                      ci_low=low, ci_high=high)
        out.append(record)
    table = pd.DataFrame.from_records(out)
    return table.rename(columns={c: c[len(FACTOR_PREFIX):] for c in table.columns if c.startswith(FACTOR_PREFIX)})


@register_analysis("joint", "Joint true/false-belief accuracy")
def joint_analysis(data: ResponseData, ctx: AnalysisContext) -> AnalysisResult:
    """BigToM's joint metric: both the true-belief and false-belief version of a scenario right."""
    factor, pairs = find_pair_factor(data)
    table = joint_table(data.frame, factor, pairs, data.factors, seed=ctx.seed, n_boot=ctx.n_boot, level=ctx.level)
    if table.empty:
        raise NotApplicable(f"no scenario was answered in both versions of factor {factor!r}")
    result = AnalysisResult("joint", "Joint true/false-belief accuracy")
    result.tables["joint"] = table
    label_cols = [c for c in table.columns if c not in {"subject", "n_pairs", "true_accuracy", "false_accuracy",
                                                          "joint_accuracy", "ci_low", "ci_high"}]
    varying = [c for c in label_cols if table[c].nunique(dropna=False) > 1] or ["pair"]
    plot = table.assign(group=table[varying].astype(str).agg(" / ".join, axis=1))
    pooled = joint_table(data.frame, factor, pairs, data.factors, seed=ctx.seed, n_boot=ctx.n_boot,
                         level=ctx.level, overall=True)
    result.tables["joint_overall"] = pooled
    result.numbers = {"pair_factor": factor, "pairs": pairs, "joint": {}, "overall": {
        str(r["subject"]): {"true": r["true_accuracy"], "false": r["false_accuracy"], "joint": r["joint_accuracy"],
                            "ci": [r["ci_low"], r["ci_high"]], "n_pairs": int(r["n_pairs"])}
        for _, r in pooled.iterrows()}}
    for _, r in plot.iterrows():
        result.numbers["joint"].setdefault(str(r["subject"]), {})[r["group"]] = {
            "true": r["true_accuracy"], "false": r["false_accuracy"], "joint": r["joint_accuracy"],
            "ci": [r["ci_low"], r["ci_high"]], "n_pairs": int(r["n_pairs"])}
    result.notes.append(
        f"Pairs of items that differ only in {factor} ({', '.join(f'{a}/{b}' for a, b in pairs.items())}); "
        "true/false accuracy are on the paired items; joint = both right."
    )

    def draw():  # type: ignore[no-untyped-def]
        from proceval.figures import bar_ci_figure

        return bar_ci_figure(plot, x="group", y="joint_accuracy", low="ci_low", high="ci_high", hue="subject",
                             chance=0.25 if (table["pair"].notna().all()) else None, ylabel="both versions right",
                             title="Joint accuracy (true and false version both right)")

    result.figures.append(FigureSpec("joint_accuracy", "Joint accuracy", draw,
                                     caption="Dashed line: chance for two independent two-option answers (0.25)."))
    return result
