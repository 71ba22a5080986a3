"""Agreement statistics: leave-one-out modal agreement, Cohen's kappa and Krippendorff's alpha.

All functions take plain long tables (one row per rater × item) so they apply to any data, not only runs.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Hashable, Sequence
from typing import Literal

import numpy as np
import pandas as pd


def _modes(values: Sequence[Hashable]) -> set[Hashable]:
    counts = Counter(values)
    if not counts:
        return set()
    top = max(counts.values())
    return {v for v, c in counts.items() if c == top}


def modal_credit(answer: Hashable, others: Sequence[Hashable]) -> float:
    """1 if ``answer`` is the modal answer of ``others``; with tied modes, 1/(number of modes) if it is one of
    them (the chance of matching a mode picked at random); 0 otherwise. NaN if ``others`` is empty."""
    modes = _modes(others)
    if not modes:
        return float("nan")
    return 1.0 / len(modes) if answer in modes else 0.0


def loo_credits(
    table: pd.DataFrame, *, rater: str = "participant", item: str = "item_id", response: str = "response"
) -> pd.DataFrame:
    """One row per answer: its :func:`modal_credit` against the other raters of the same item (NaN when
    nobody else answered it). Other columns of ``table`` (e.g. the condition) are kept."""
    data = table.dropna(subset=[response]).reset_index(drop=True)
    by_item: dict[Hashable, list[int]] = {}
    for index, key in enumerate(data[item]):
        by_item.setdefault(key, []).append(index)
    values = data[response].tolist()
    credits = np.full(len(data), np.nan)
    for rows in by_item.values():
        for index in rows:
            others = [values[j] for j in rows if j != index]
            if others:
                credits[index] = modal_credit(values[index], others)
    return data.assign(credit=credits)


def loo_agreement(
    table: pd.DataFrame, *, rater: str = "participant", item: str = "item_id", response: str = "response"
) -> pd.DataFrame:
    """Each rater's agreement with the modal answer of the *other* raters of the same items.

    Returns one row per rater: ``n_items`` (items that someone else also answered), ``n_alone`` (items only
    this rater answered, not scored) and ``agreement`` (mean :func:`modal_credit`).
    """
    credits = loo_credits(table[[rater, item, response]], rater=rater, item=item, response=response)
    out = []
    for key, part in credits.groupby(rater, sort=False):
        scored = part["credit"].dropna()
        out.append({rater: key, "n_items": len(scored), "n_alone": int(part["credit"].isna().sum()),
                    "agreement": float(scored.mean()) if len(scored) else float("nan")})
    return pd.DataFrame.from_records(out, columns=[rater, "n_items", "n_alone", "agreement"])


def modal_agreement(
    target: pd.DataFrame, reference: pd.DataFrame, *, item: str = "item_id", response: str = "response"
) -> tuple[float, int]:
    """Agreement of ``target``'s answers with the modal answer of all ``reference`` raters per item.

    Returns (mean credit, items scored). Items the reference did not answer are not scored.
    """
    groups = reference.dropna(subset=[response]).groupby(item)[response].apply(list).to_dict()
    credits = [modal_credit(v, groups[i]) for i, v in zip(target[item], target[response], strict=True)
               if i in groups and v is not None and v == v]
    return (float(np.mean(credits)) if credits else float("nan")), len(credits)


def cohen_kappa(a: Sequence[Hashable], b: Sequence[Hashable]) -> float:
    """Cohen's kappa of two raters' labels on the same units (nominal)."""
    if len(a) != len(b):
        raise ValueError("cohen_kappa: both raters must label the same units")
    if not len(a):
        return float("nan")
    labels = sorted(set(a) | set(b), key=str)
    index = {label: k for k, label in enumerate(labels)}
    matrix = np.zeros((len(labels), len(labels)))
    for x, y in zip(a, b, strict=True):
        matrix[index[x], index[y]] += 1
    n = matrix.sum()
    observed = np.trace(matrix) / n
    expected = float((matrix.sum(axis=1) * matrix.sum(axis=0)).sum() / n**2)
    if expected == 1.0:
        return 1.0 if observed == 1.0 else float("nan")
    return float((observed - expected) / (1 - expected))


def krippendorff_alpha(
    table: pd.DataFrame,
    *,
    rater: str = "participant",
    item: str = "item_id",
    response: str = "response",
    level: Literal["nominal", "ordinal", "interval"] = "nominal",
) -> float:
    """Krippendorff's alpha from a long table, via the coincidence matrix (units with one value are ignored).

    ``nominal`` for categories, ``interval`` for numeric ratings, ``ordinal`` for ranked categories (values
    sorted; numeric values sort numerically).
    """
    data = table[[rater, item, response]].dropna()
    units = [list(part[response]) for _, part in data.groupby(item) if len(part) >= 2]
    values = sorted({v for unit in units for v in unit}, key=lambda v: (isinstance(v, str), v))
    if len(values) < 2:
        return float("nan")
    index = {v: k for k, v in enumerate(values)}
    coincidence = np.zeros((len(values), len(values)))
    for unit in units:
        m = len(unit)
        counts = np.zeros(len(values))
        for v in unit:
            counts[index[v]] += 1
        pair = np.outer(counts, counts) - np.diag(counts)
        coincidence += pair / (m - 1)
    totals = coincidence.sum(axis=1)
    n = totals.sum()
    if level == "nominal":
        delta = 1.0 - np.eye(len(values))
    elif level == "interval":
        numeric = np.array([float(v) for v in values])
        delta = (numeric[:, None] - numeric[None, :]) ** 2
    else:  # ordinal: squared cumulative frequencies between ranks
        cum = np.cumsum(totals)
        delta = np.zeros((len(values), len(values)))
        for g in range(len(values)):
            for h in range(len(values)):
                lo, hi = min(g, h), max(g, h)
                between = cum[hi] - (cum[lo - 1] if lo > 0 else 0.0)
                delta[g, h] = (between - (totals[g] + totals[h]) / 2) ** 2 if g != h else 0.0
    observed = float((coincidence * delta).sum() / n)
    expected = float((np.outer(totals, totals) * delta).sum() / (n * (n - 1)))
    if expected == 0:
        return float("nan")
    return 1.0 - observed / expected
