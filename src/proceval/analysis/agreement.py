"""Agreement statistics: leave-one-out modal agreement, Cohen's kappa and Krippendorff's alpha.

All functions take plain long tables (one row per rater × item) so they apply to any data, not only runs.

Modal agreement scores an answer 1 when it is the modal answer of a reference group of people. Two choices
change the figure and are named everywhere they apply:

- **Ties** (several answers equally common): ``split`` (the default) gives 1/k for each of k tied modes — the
  chance of matching a mode drawn at random, so the figure does not depend on the order of the rows;
  ``first`` lets the mode seen first (in the table's row order) win, as the affective-cognition paper's
  released notebook does.
- **A model's reference** (:data:`MODEL_DEFINITIONS`): ``mode_of_all`` compares each model answer with the
  mode of all participants of the item (the default); ``loo_per_participant`` is the affective-cognition
  paper's: for each participant, the model is compared with the mode of the *other* participants on the
  items that participant answered — exactly the comparison each participant gets in the human baseline —
  and the per-participant scores are averaged.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Hashable, Sequence
from typing import Literal

import numpy as np
import pandas as pd

Ties = Literal["split", "first"]
ModelDefinition = Literal["mode_of_all", "loo_per_participant"]
TIES: dict[str, str] = {
    "split": "tied modes share the credit: 1/k for each of k tied modes (default)",
    "first": "the mode seen first in the table's row order wins a tie (the released affective-cognition notebook)",
}
MODEL_DEFINITIONS: dict[str, str] = {
    "mode_of_all": "each model answer against the modal answer of all participants of the item (default)",
    "loo_per_participant": "the model against each participant's leave-one-out modal answer (the mode of the "
                           "other participants), averaged within participant, then over participants "
                           "(Gandhi et al. 2024)",
}
HUMAN_BASELINE = "humans (leave-one-out, inter-participant baseline)"


def _modes(values: Sequence[Hashable]) -> list[Hashable]:
    """The most common values, in the order they are first seen."""
    counts = Counter(values)  # keeps first-seen order
    if not counts:
        return []
    top = max(counts.values())
    return [v for v, c in counts.items() if c == top]


def modal_credit(answer: Hashable, others: Sequence[Hashable], ties: Ties = "split") -> float:
    """1 if ``answer`` is the modal answer of ``others``; with tied modes, 1/(number of modes) if it is one of
    them (``ties="split"``) or 1 only if it is the first-seen of them (``ties="first"``); 0 otherwise. NaN if
    ``others`` is empty."""
    modes = _modes(others)
    if not modes:
        return float("nan")
    if ties == "first":
        return float(answer == modes[0])
    if ties != "split":
        raise ValueError(f"ties must be one of {', '.join(TIES)}, not {ties!r}")
    return 1.0 / len(modes) if answer in modes else 0.0


def loo_credits(
    table: pd.DataFrame, *, rater: str = "participant", item: str = "item_id", response: str = "response",
    ties: Ties = "split",
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
                credits[index] = modal_credit(values[index], others, ties)
    return data.assign(credit=credits)


def loo_agreement(
    table: pd.DataFrame, *, rater: str = "participant", item: str = "item_id", response: str = "response",
    ties: Ties = "split",
) -> pd.DataFrame:
    """Each rater's agreement with the modal answer of the *other* raters of the same items.

    Returns one row per rater: ``n_items`` (items that someone else also answered), ``n_alone`` (items only
    this rater answered, not scored) and ``agreement`` (mean :func:`modal_credit`).
    """
    credits = loo_credits(table[[rater, item, response]], rater=rater, item=item, response=response, ties=ties)
    out = []
    for key, part in credits.groupby(rater, sort=False):
        scored = part["credit"].dropna()
        out.append({rater: key, "n_items": len(scored), "n_alone": int(part["credit"].isna().sum()),
                    "agreement": float(scored.mean()) if len(scored) else float("nan")})
    return pd.DataFrame.from_records(out, columns=[rater, "n_items", "n_alone", "agreement"])


def modal_agreement(
    target: pd.DataFrame, reference: pd.DataFrame, *, item: str = "item_id", response: str = "response",
    ties: Ties = "split",
) -> tuple[float, int]:
    """Agreement of ``target``'s answers with the modal answer of all ``reference`` raters per item.

    Returns (mean credit, items scored). Items the reference did not answer are not scored.
    """
    groups = reference.dropna(subset=[response]).groupby(item, sort=False)[response].apply(list).to_dict()
    credits = [modal_credit(v, groups[i], ties) for i, v in zip(target[item], target[response], strict=True)
               if i in groups and v is not None and v == v]
    return (float(np.mean(credits)) if credits else float("nan")), len(credits)


def agreement_units(
    humans: pd.DataFrame,
    models: pd.DataFrame | None = None,
    *,
    by: Sequence[str] = (),
    definition: ModelDefinition = "mode_of_all",
    ties: Ties = "split",
    rater: str = "participant",
    item: str = "item_id",
    response: str = "response",
    subject: str = "subject",
) -> pd.DataFrame:
    """The units agreement is averaged over, per group of ``by`` (columns of both tables, e.g. a factor):
    one row per participant for the human leave-one-out baseline and for ``loo_per_participant``, one row per
    model answer for ``mode_of_all``. Columns: the ``by`` columns, ``subject``, ``unit``, ``n`` (answers
    scored in the unit), ``score``. Answers that cannot be compared (nobody else answered the item) are left
    out. :func:`agreement_table` averages these; a bootstrap over them gives the interval."""
    if definition not in MODEL_DEFINITIONS:
        raise ValueError(f"definition must be one of {', '.join(MODEL_DEFINITIONS)}, not {definition!r}")
    by = list(by)
    people = humans.dropna(subset=[response])
    answers: dict[Hashable, list[tuple[Hashable, Hashable]]] = {}  # item → [(participant, answer)] in row order
    for p, i, v in zip(people[rater], people[item], people[response], strict=True):
        answers.setdefault(i, []).append((p, v))
    units: list[dict[str, object]] = []

    def per_participant(label: str, rows: list[tuple[tuple[Hashable, ...], Hashable, float]]) -> None:
        scores: dict[tuple[tuple[Hashable, ...], Hashable], list[float]] = {}
        for group, person, credit in rows:
            if credit == credit:
                scores.setdefault((group, person), []).append(credit)
        for (group, person), credits in scores.items():
            units.append({**dict(zip(by, group, strict=True)), subject: label, "unit": person,
                          "n": len(credits), "score": float(np.mean(credits))})

    def others_of(i: Hashable, person: Hashable) -> list[Hashable]:
        return [v for q, v in answers.get(i, []) if q != person]

    groups = [tuple(row) for row in people[by].itertuples(index=False)] if by else [()] * len(people)
    per_participant(HUMAN_BASELINE, [
        (g, p, modal_credit(v, others_of(i, p), ties))
        for g, p, i, v in zip(groups, people[rater], people[item], people[response], strict=True)])
    if models is not None and len(models):
        answered = models.dropna(subset=[response])
        model_groups = [tuple(row) for row in answered[by].itertuples(index=False)] if by else [()] * len(answered)
        for label in dict.fromkeys(answered[subject]):
            mask = (answered[subject] == label).to_numpy()
            rows = [(g, i, v) for g, i, v, keep in zip(model_groups, answered[item], answered[response], mask,
                                                       strict=True) if keep]
            if definition == "loo_per_participant":
                per_participant(str(label), [(g, p, modal_credit(v, others_of(i, p), ties))
                                             for g, i, v in rows for p, _ in answers.get(i, [])])
            else:
                for g, i, v in rows:
                    reference = [w for _, w in answers.get(i, [])]
                    if reference:
                        units.append({**dict(zip(by, g, strict=True)), subject: str(label), "unit": i, "n": 1,
                                      "score": modal_credit(v, reference, ties)})
    return pd.DataFrame.from_records(units, columns=[*by, subject, "unit", "n", "score"])


def agreement_table(
    humans: pd.DataFrame,
    models: pd.DataFrame | None = None,
    *,
    by: Sequence[str] = (),
    definition: ModelDefinition = "mode_of_all",
    ties: Ties = "split",
    rater: str = "participant",
    item: str = "item_id",
    response: str = "response",
    subject: str = "subject",
) -> pd.DataFrame:
    """Modal agreement per group of ``by``: the human leave-one-out baseline (:data:`HUMAN_BASELINE`) and each
    model of ``models`` (a ``subject`` column names it) under ``definition``, ties broken by ``ties``.

    One row per group × subject: the ``by`` columns, ``subject``, ``definition``, ``ties``, ``units``
    (participants, or model answers for ``mode_of_all``), ``n`` (answers scored) and ``agreement``.
    """
    units = agreement_units(humans, models, by=by, definition=definition, ties=ties, rater=rater, item=item,
                            response=response, subject=subject)
    keys = [*by, subject]
    table = (units.groupby(keys, sort=False, dropna=False)
             .agg(units=("score", "size"), n=("n", "sum"), agreement=("score", "mean")).reset_index())
    table.insert(len(keys), "definition", ["leave_one_out" if s == HUMAN_BASELINE else definition
                                           for s in table[subject]])
    table.insert(len(keys) + 1, "ties", ties)
    return table


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
