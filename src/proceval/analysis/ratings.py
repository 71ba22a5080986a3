"""Rating means with bootstrap CIs per factor level (library functions plus the ``ratings`` analysis)."""

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


def rating_means(
    df: pd.DataFrame,
    by: Sequence[str],
    *,
    value: str = "rating",
    cluster: str | None = "participant",
    seed: int = 0,
    n_boot: int = 2000,
    level: float = 0.95,
) -> pd.DataFrame:
    """Mean of ``value`` per group of ``by`` columns with a percentile bootstrap CI.

    Works on any long table (e.g. the OffTheRails human ratings). ``cluster`` names the column whose values
    are resampled whole (participants: their ratings are not independent); a table whose participant column is
    named otherwise must say so (``cluster="worker_id"``), and ``cluster=None`` resamples single ratings. A
    ``cluster`` column the table lacks is an error, never a silent fall-back. Rows with a missing ``value``
    are left out and counted in ``n_missing``. Columns: the ``by`` columns, ``n``, ``n_missing``, ``mean``,
    ``sd``, ``ci_low``, ``ci_high``.
    """
    missing = [c for c in [*by, value] if c not in df.columns]
    if missing:
        raise KeyError(f"rating_means: no column(s) {missing} in the table (has {list(df.columns)})")
    if cluster is not None and cluster not in df.columns:
        raise KeyError(f"rating_means: no cluster column {cluster!r} in the table (has {list(df.columns)}); "
                       "name the participant column with cluster=..., or pass cluster=None to resample ratings")
    use_cluster = cluster
    out = []
    groups = df.groupby(list(by), sort=True, dropna=False) if by else [((), df)]
    for group, part in groups:
        group = group if isinstance(group, tuple) else (group,)
        values = pd.to_numeric(part[value], errors="coerce")
        ok = values.notna()
        clusters = part.loc[ok, use_cluster].to_numpy() if use_cluster else None
        if clusters is not None and len(set(map(str, clusters))) < 2:
            clusters = None
        low, high = bootstrap_ci(values[ok].to_numpy(), n_boot=n_boot, level=level, clusters=clusters,
                                 seed=int(content_id(seed, "ratings", *map(str, group), length=8), 16))
        record = dict(zip(by, group, strict=True))
        record.update(n=int(ok.sum()), n_missing=int((~ok).sum()), mean=float(values[ok].mean()) if ok.any() else np.nan,
                      sd=float(values[ok].std(ddof=1)) if ok.sum() > 1 else np.nan, ci_low=low, ci_high=high)
        out.append(record)
    return pd.DataFrame.from_records(out, columns=[*by, "n", "n_missing", "mean", "sd", "ci_low", "ci_high"])


def rating_rows(frame: pd.DataFrame) -> pd.DataFrame:
    """Rating answers with one ``value`` column: the expected rating when the model gave a distribution,
    else the rating itself. Factor columns are renamed to the factor names."""
    rows = frame[frame["response_type"] == "rating"].copy()
    rows["value"] = rows["expected_rating"].where(rows["expected_rating"].notna(), rows["rating"])
    return rows.rename(columns={c: c[len(FACTOR_PREFIX):] for c in rows.columns if c.startswith(FACTOR_PREFIX)})


@register_analysis("ratings", "Rating means")
def ratings_analysis(data: ResponseData, ctx: AnalysisContext) -> AnalysisResult:
    """Mean rating per subject × question × factor level, with bootstrap CIs (humans resampled by participant)."""
    rows = rating_rows(data.frame)
    if rows.empty:
        raise NotApplicable("the dataset has no rating items: rating means do not apply "
                            "(choice items are analysed by accuracy)")
    result = AnalysisResult("ratings", "Rating means")
    factors = [f for f in data.factors if rows[f].notna().any() and rows[f].nunique() > 1]
    result.numbers = {}
    for factor in factors:
        table = rating_means(rows[rows[factor].notna()], ["subject", "question_name", factor], value="value",
                             seed=ctx.seed, n_boot=ctx.n_boot, level=ctx.level)
        result.tables[f"by_{factor}"] = table
        for _, r in table.iterrows():
            result.numbers.setdefault(str(r["subject"]), {}).setdefault(str(r["question_name"]), {}).setdefault(
                factor, {})[str(r[factor])] = {"mean": r["mean"], "ci": [r["ci_low"], r["ci_high"]], "n": int(r["n"])}
    by_condition = rating_means(rows, ["subject", "question_name", "condition_name"], value="value",
                                seed=ctx.seed, n_boot=ctx.n_boot, level=ctx.level)
    result.tables["by_condition"] = by_condition
    low = float(rows["value"].min())
    high = float(rows["value"].max())
    for factor in factors:
        table = result.tables[f"by_{factor}"].assign(
            label=lambda t, f=factor: t["question_name"].astype(str) + ": " + t[f].astype(str))

        def draw(t: pd.DataFrame = table, f: str = factor):  # type: ignore[no-untyped-def]
            from proceval.figures import bar_ci_figure

            return bar_ci_figure(t, x="label", y="mean", low="ci_low", high="ci_high", hue="subject",
                                 ylabel="mean rating", title=f"Mean rating by {f}",
                                 ylim=(min(0.0, low), high + 0.5))

        result.figures.append(FigureSpec(f"ratings_by_{factor}", f"Mean rating by {factor}", draw))
    result.notes.append("Model ratings use the expected rating where a distribution over scale points exists.")
    return result
