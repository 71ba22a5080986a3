"""Item response theory: response matrices and marginal-maximum-likelihood IRT models.

Models
  ``rasch``  P(correct) = σ(θ − b)                        (discrimination fixed at 1)
  ``1pl``    P(correct) = σ(a(θ − b))                     (one discrimination shared by all items)
  ``2pl``    P(correct) = σ(a_j(θ − b_j))
  ``3pl``    P(correct) = c_j + (1 − c_j) σ(a_j(θ − b_j))  (c_j: guessing, Beta prior)
  ``grm``    graded response model for ordered ratings: P(X ≥ k) = σ(a_j(θ − b_jk))

Estimation is marginal maximum likelihood by EM (Bock–Aitkin) with θ ~ N(0, 1) on a fixed quadrature grid.
Everything is a matrix product over (persons × items) and (items × quadrature points), so a 5,000 × 200
matrix fits in about a second. Missing answers (NaN) simply do not contribute. Abilities are EAP estimates
with posterior standard deviations; item standard errors come from the cross-product of the persons'
marginal score vectors (the empirical information, as in mirt's ``crossprod``), mapped to the reported
parameterisation by the delta method.

Items that everyone answered the same way, items with fewer than ``min_responses`` answers and respondents
with no usable answers cannot be estimated: they are excluded and listed with the reason, never returned as NaN.
"""

from __future__ import annotations

import csv
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
from scipy import optimize, special, stats

from proceval.errors import AnalysisError
from proceval.ui import progress_bar

BINARY_MODELS = ("rasch", "1pl", "2pl", "3pl")
ORDINAL_MODELS = ("grm",)
MODELS = BINARY_MODELS + ORDINAL_MODELS
MatrixKind = Literal["binary", "ordinal"]


# --------------------------------------------------------------------------------------------------------------
# Response matrices


@dataclass
class ResponseMatrix:
    """Answers as a persons × items array: 1/0 (binary) or integer categories (ordinal), NaN where missing.

    ``skipped`` lists the answers that did not enter the matrix and why (failed model calls, invalid human
    answers, duplicates), so that nothing is dropped silently. ``item_meta`` carries per-item information for
    reports (condition, factors, question).
    """

    values: np.ndarray
    persons: list[str]
    items: list[str]
    kind: MatrixKind = "binary"
    source: str = ""
    skipped: list[dict[str, Any]] = field(default_factory=list)
    item_meta: dict[str, dict[str, Any]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.values = np.asarray(self.values, dtype=float)
        if self.values.ndim != 2 or self.values.shape != (len(self.persons), len(self.items)):
            raise AnalysisError(
                f"response matrix shape {self.values.shape} does not match "
                f"{len(self.persons)} persons × {len(self.items)} items"
            )

    @property
    def n_persons(self) -> int:
        return len(self.persons)

    @property
    def n_items(self) -> int:
        return len(self.items)

    @property
    def n_missing(self) -> int:
        return int(np.isnan(self.values).sum())

    def select_items(self, items: Sequence[str]) -> ResponseMatrix:
        """The same persons on ``items`` (in that order); items it lacks raise an error."""
        index = {item: j for j, item in enumerate(self.items)}
        missing = [item for item in items if item not in index]
        if missing:
            raise AnalysisError(f"{len(missing)} item(s) not in the response matrix (first: {missing[0]})")
        columns = [index[item] for item in items]
        return ResponseMatrix(
            self.values[:, columns], list(self.persons), list(items), self.kind, self.source,
            list(self.skipped), {k: v for k, v in self.item_meta.items() if k in set(items)},
        )

    def proportion(self) -> np.ndarray:
        """Mean answer per item over the persons who answered it (accuracy for binary items)."""
        answered = (~np.isnan(self.values)).sum(axis=0)
        totals = np.nansum(self.values, axis=0)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(answered > 0, totals / np.maximum(answered, 1), np.nan)

    def to_frame(self) -> pd.DataFrame:
        return pd.DataFrame(self.values, index=pd.Index(self.persons, name="person"), columns=self.items)


def _check_kind(values: np.ndarray, kind: str, where: str) -> None:
    observed = values[~np.isnan(values)]
    if kind == "binary":
        bad = observed[(observed != 0) & (observed != 1)]
        if bad.size:
            raise AnalysisError(
                f"non-binary value {bad[0]:g} in a binary response matrix",
                file=where or None,
                hint="right/wrong models (rasch, 1pl, 2pl, 3pl) need 0/1 answers; use --model grm for ratings",
            )
    elif np.any(observed != np.round(observed)):
        raise AnalysisError(
            "ordinal responses must be whole numbers (scale points)", file=where or None,
        )


def read_matrix_csv(path: str | os.PathLike[str], *, kind: MatrixKind | None = None) -> ResponseMatrix:
    """A plain wide CSV: a header of item names, one row per person, first column the person id.

    Cells hold 0/1 (or ratings); an empty cell, ``NA`` or ``.`` is a missing answer. Anything else is an
    error naming the line and column. ``kind`` defaults to ``binary`` when every value is 0/1.
    """
    file = Path(path)
    if not file.is_file():
        raise AnalysisError("no such response matrix file", file=file)
    with file.open(newline="", encoding="utf-8-sig") as f:
        rows = list(csv.reader(f))
    if len(rows) < 2 or len(rows[0]) < 2:
        raise AnalysisError(
            "a response matrix CSV needs a header (person column, then item names) and at least one row",
            file=file,
        )
    header = rows[0]
    items = [name.strip() for name in header[1:]]
    if len(set(items)) != len(items):
        raise AnalysisError("duplicate item names in the header", file=file, line=1)
    persons: list[str] = []
    values = np.full((len(rows) - 1, len(items)), np.nan)
    for i, row in enumerate(rows[1:]):
        line = i + 2
        if len(row) != len(header):
            raise AnalysisError(f"{len(row)} fields, the header has {len(header)}", file=file, line=line)
        persons.append(row[0].strip() or f"row{line}")
        for j, cell in enumerate(row[1:]):
            text = cell.strip()
            if text in ("", "NA", "NaN", "nan", "."):
                continue
            try:
                values[i, j] = float(text)
            except ValueError:
                raise AnalysisError(
                    f"not a number: {text[:40]!r}", file=file, line=line, field=items[j],
                    hint="cells must be 0/1 (or scale points); leave missing answers empty",
                ) from None
    if len(set(persons)) != len(persons):
        raise AnalysisError("duplicate person ids in the first column", file=file)
    observed = values[~np.isnan(values)]
    inferred: MatrixKind = "binary" if np.isin(observed, (0.0, 1.0)).all() else "ordinal"
    kind = kind or inferred
    try:
        _check_kind(values, kind, str(file))
    except AnalysisError as exc:
        (i_bad, j_bad) = np.argwhere((~np.isnan(values)) & (values != 0) & (values != 1))[0]
        raise AnalysisError(exc.message, file=file, line=int(i_bad) + 2, field=items[j_bad], hint=exc.hint) from None
    return ResponseMatrix(values, persons, items, kind, source=str(file))


def matrix_from_frame(
    frame: pd.DataFrame,
    *,
    value: Literal["correct", "rating"] = "correct",
    person_column: str = "participant",
    source: str = "",
) -> ResponseMatrix:
    """Pivot a tidy answers frame (one row per answer, as :func:`proceval.analysis.data.load_responses` gives)
    into a :class:`ResponseMatrix`. Rows whose ``status`` is not ``ok`` or whose value is missing become
    missing cells, counted in ``skipped`` with the reason; a second answer of a person to the same item is
    skipped too (the first is kept)."""
    if value not in frame.columns:
        raise AnalysisError(f"the responses have no {value!r} column")
    skipped: list[dict[str, Any]] = []
    rows = frame
    if "status" in rows.columns:
        bad = rows["status"].fillna("ok") != "ok"
        for status, count in rows.loc[bad, "status"].value_counts().items():
            skipped.append({"reason": f"status {status}", "count": int(count)})
        rows = rows.loc[~bad]
    numeric = pd.to_numeric(rows[value], errors="coerce")
    no_value = numeric.isna()
    if no_value.any():
        skipped.append({"reason": f"no {value} value", "count": int(no_value.sum())})
    rows = rows.loc[~no_value].assign(_value=numeric[~no_value])
    duplicated = rows.duplicated([person_column, "item_id"], keep="first")
    if duplicated.any():
        skipped.append({"reason": "second answer of a person to the same item", "count": int(duplicated.sum())})
        rows = rows.loc[~duplicated]
    persons = list(dict.fromkeys(str(p) for p in frame[person_column]))
    items = list(dict.fromkeys(str(i) for i in frame["item_id"]))
    p_index = {p: i for i, p in enumerate(persons)}
    i_index = {it: j for j, it in enumerate(items)}
    values = np.full((len(persons), len(items)), np.nan)
    if len(rows):
        pi = np.fromiter((p_index[str(p)] for p in rows[person_column]), dtype=int, count=len(rows))
        ii = np.fromiter((i_index[str(i)] for i in rows["item_id"]), dtype=int, count=len(rows))
        values[pi, ii] = rows["_value"].to_numpy(dtype=float)
    kind: MatrixKind = "binary" if value == "correct" else "ordinal"
    meta: dict[str, dict[str, Any]] = {}
    meta_columns = [c for c in ("condition_name", "question_name", "scenario_id") if c in frame.columns]
    meta_columns += [c for c in frame.columns if str(c).startswith("factor:")]
    if meta_columns:
        first = frame.drop_duplicates("item_id").set_index("item_id")[meta_columns]
        for item_id, record in first.to_dict("index").items():
            meta[str(item_id)] = {k: (None if pd.isna(v) else v) for k, v in record.items()}
    if kind == "ordinal":
        values = np.where(np.isnan(values), np.nan, np.round(values))
    return ResponseMatrix(values, persons, items, kind, source, skipped, meta)


def load_matrices(
    paths: Sequence[str | os.PathLike[str]],
    *,
    dataset: str | os.PathLike[str] | None = None,
    value: Literal["auto", "correct", "rating"] = "auto",
    by: Literal["source", "subject"] = "source",
) -> dict[str, ResponseMatrix]:
    """Response matrices from run directories, long human tables and wide matrix CSVs.

    Each path is one population (``by="source"``): a run with personas gives one row per persona; several
    model runs passed together with ``by="subject"`` are pooled into one matrix whose rows are the models.
    A long human table (columns ``participant, item_id, response``) is scored against the dataset (``dataset``
    or the one the runs answered); one that has a ``correct`` column needs no dataset. ``value="auto"``
    picks ``correct`` for choice items and ``rating`` for rating items.
    """
    from proceval.analysis.data import load_responses, read_humans

    if not paths:
        raise AnalysisError("no responses given", hint="pass run directories, a human table or a matrix CSV")
    runs = [Path(p) for p in paths if Path(p).is_dir()]
    tables = [Path(p) for p in paths if not Path(p).is_dir()]
    out: dict[str, ResponseMatrix] = {}
    frames: list[tuple[str, pd.DataFrame, str]] = []
    resolved_dataset: Any = dataset
    if runs:
        data = load_responses(runs, dataset=dataset)
        resolved_dataset = data.dataset
        for run_path in runs:
            frames.append((run_path.name, data.frame[data.frame["run"] == run_path.name], str(run_path)))
    for table in tables:
        if not table.is_file():
            raise AnalysisError("no such file or run directory", file=table)
        with table.open(encoding="utf-8-sig", errors="replace") as f:
            header = [h.strip() for h in f.readline().split(",")]
        if {"participant", "item_id"} <= set(header) or table.suffix.lower() in (".tsv", ".jsonl", ".parquet"):
            raw = read_humans(table)
            if "correct" in raw.columns and value != "rating":
                frame = raw.assign(correct=raw["correct"].map(_truth))
                bad = frame["correct"].isna() & raw["correct"].astype(str).str.strip().ne("")
                if bad.any():
                    line = int(np.flatnonzero(bad.to_numpy())[0]) + 2
                    raise AnalysisError(
                        f"correct must be 1/0/true/false, got {raw['correct'].iloc[line - 2]!r}",
                        file=table, line=line, field="correct",
                    )
                frames.append((table.stem, frame, str(table)))
            else:
                if resolved_dataset is None:
                    raise AnalysisError(
                        "a human table of responses needs the dataset to score them",
                        file=table, hint="pass --dataset DIR (or add a `correct` column to the table)",
                    )
                data = load_responses([], dataset=getattr(resolved_dataset, "path", resolved_dataset), humans=table)
                resolved_dataset = data.dataset
                frames.append((table.stem, data.frame, str(table)))
        else:
            matrix = read_matrix_csv(table, kind=None if value == "auto" else _kind_of(value))
            out[_unique(table.stem, out)] = matrix
    for name, frame, source in frames:
        column = value
        if value == "auto":
            kinds = set(frame.get("response_type", pd.Series(["choice"])).dropna())
            column = "rating" if kinds == {"rating"} else "correct"
        person_column = "participant"
        if by == "subject":
            # pooled: a model run is one respondent named by its run; personas and humans keep their own ids
            kinds = frame.get("subject_kind", pd.Series(["human"] * len(frame), index=frame.index))
            frame = frame.assign(_respondent=np.where(
                kinds == "model", name, name + "#" + frame["participant"].astype(str)
            ))
            person_column = "_respondent"
        out[_unique(name, out)] = matrix_from_frame(
            frame, value=column, person_column=person_column, source=source  # type: ignore[arg-type]
        )
    if by == "subject" and len(out) > 1:
        return {"pooled": concat_persons(list(out.values()))}
    return out


def _kind_of(value: str) -> MatrixKind:
    return "binary" if value == "correct" else "ordinal"


def _truth(value: Any) -> float:
    text = str(value).strip().lower()
    if text in ("1", "1.0", "true", "t", "yes"):
        return 1.0
    if text in ("0", "0.0", "false", "f", "no"):
        return 0.0
    return float("nan")


def _unique(name: str, taken: dict[str, Any]) -> str:
    candidate, k = name, 2
    while candidate in taken:
        candidate, k = f"{name}-{k}", k + 1
    return candidate


def concat_persons(matrices: Sequence[ResponseMatrix]) -> ResponseMatrix:
    """Stack matrices of different respondents (rows) over the union of their items."""
    items = list(dict.fromkeys(item for m in matrices for item in m.items))
    index = {item: j for j, item in enumerate(items)}
    blocks, persons, skipped, meta = [], [], [], {}
    for m in matrices:
        block = np.full((m.n_persons, len(items)), np.nan)
        block[:, [index[i] for i in m.items]] = m.values
        blocks.append(block)
        persons.extend(m.persons)
        skipped.extend(m.skipped)
        meta.update(m.item_meta)
    if len(set(persons)) != len(persons):
        raise AnalysisError("the same respondent id appears in two of the pooled inputs")
    return ResponseMatrix(np.vstack(blocks), persons, items, matrices[0].kind, "pooled", skipped, meta)


# --------------------------------------------------------------------------------------------------------------
# Fitting


@dataclass
class IrtFit:
    """A fitted IRT model: item and person parameters with standard errors, fit statistics, exclusions.

    Item arrays follow ``items`` (the estimated items); ``a``/``b``/``c`` are discrimination, difficulty
    (location) and guessing. For the GRM ``b`` is the mean of the item's ``thresholds`` and ``c`` is zero.
    """

    model: str
    items: list[str]
    persons: list[str]
    a: np.ndarray
    b: np.ndarray
    c: np.ndarray
    se_a: np.ndarray
    se_b: np.ndarray
    se_c: np.ndarray
    theta: np.ndarray
    theta_se: np.ndarray
    loglik: float
    n_params: int
    n_obs: int
    converged: bool
    n_iter: int
    item_fit: pd.DataFrame
    thresholds: list[np.ndarray] = field(default_factory=list)
    threshold_se: list[np.ndarray] = field(default_factory=list)
    categories: list[list[float]] = field(default_factory=list)
    excluded_items: dict[str, str] = field(default_factory=dict)
    excluded_persons: dict[str, str] = field(default_factory=dict)
    proportion: np.ndarray = field(default_factory=lambda: np.zeros(0))
    n_answers: np.ndarray = field(default_factory=lambda: np.zeros(0))
    warnings: list[str] = field(default_factory=list)

    @property
    def n_persons(self) -> int:
        return len(self.persons)

    @property
    def aic(self) -> float:
        return -2 * self.loglik + 2 * self.n_params

    @property
    def bic(self) -> float:
        return -2 * self.loglik + self.n_params * math.log(max(self.n_persons, 1))

    def icc(self, theta: np.ndarray | float, items: Sequence[str] | None = None) -> np.ndarray:
        """Probability of a correct answer (binary) or expected score (GRM, in category units from 0)
        at ``theta``: an (items × len(theta)) array."""
        grid = np.atleast_1d(np.asarray(theta, dtype=float))
        idx = self._indices(items)
        if self.model == "grm":
            out = np.zeros((len(idx), grid.size))
            for row, j in enumerate(idx):
                star = special.expit(self.a[j] * (grid[None, :] - self.thresholds[j][:, None]))
                out[row] = star.sum(axis=0)
            return out
        p = special.expit(self.a[idx, None] * (grid[None, :] - self.b[idx, None]))
        return self.c[idx, None] + (1 - self.c[idx, None]) * p

    def item_information(self, theta: np.ndarray | float, items: Sequence[str] | None = None) -> np.ndarray:
        """Fisher information of each item at ``theta`` (items × len(theta))."""
        grid = np.atleast_1d(np.asarray(theta, dtype=float))
        idx = self._indices(items)
        if self.model == "grm":
            out = np.zeros((len(idx), grid.size))
            for row, j in enumerate(idx):
                star = special.expit(self.a[j] * (grid[None, :] - self.thresholds[j][:, None]))
                full = np.vstack([np.ones_like(grid), star, np.zeros_like(grid)])
                w = full * (1 - full)
                probs = np.clip(full[:-1] - full[1:], 1e-12, None)
                deriv = self.a[j] * (w[:-1] - w[1:])
                out[row] = (deriv**2 / probs).sum(axis=0)
            return out
        a, b, c = self.a[idx, None], self.b[idx, None], self.c[idx, None]
        s = special.expit(a * (grid[None, :] - b))
        p = c + (1 - c) * s
        return a**2 * ((p - c) / (1 - c)) ** 2 * (1 - p) / np.clip(p, 1e-12, None)

    def test_information(self, theta: np.ndarray | float) -> np.ndarray:
        return self.item_information(theta).sum(axis=0)

    def _indices(self, items: Sequence[str] | None) -> list[int]:
        if items is None:
            return list(range(len(self.items)))
        index = {item: j for j, item in enumerate(self.items)}
        return [index[item] for item in items]

    def items_frame(self) -> pd.DataFrame:
        """One row per estimated item: parameters, standard errors, accuracy, answers and item fit."""
        frame = pd.DataFrame({
            "item_id": self.items,
            "a": self.a, "se_a": self.se_a,
            "b": self.b, "se_b": self.se_b,
        })
        if self.model == "3pl":
            frame["c"], frame["se_c"] = self.c, self.se_c
        if self.model == "grm":
            frame["thresholds"] = [" ".join(f"{t:.4f}" for t in th) for th in self.thresholds]
            frame["threshold_se"] = [" ".join(f"{t:.4f}" for t in se) for se in self.threshold_se]
            frame["categories"] = [" ".join(f"{v:g}" for v in cats) for cats in self.categories]
            frame["mean_response"] = self.proportion
        else:
            frame["p_correct"] = self.proportion
        frame["n_answers"] = self.n_answers.astype(int)
        return frame.merge(self.item_fit, on="item_id", how="left")

    def persons_frame(self) -> pd.DataFrame:
        return pd.DataFrame({"person": self.persons, "theta": self.theta, "se": self.theta_se})

    def summary(self) -> dict[str, Any]:
        """Plain-JSON headline numbers: sizes, log-likelihood, AIC/BIC, convergence, exclusions."""
        fit = self.item_fit
        misfit = int((fit["q1_p"] < 0.01).sum()) if "q1_p" in fit and len(fit) else 0
        return {
            "model": self.model,
            "n_items": len(self.items),
            "n_persons": self.n_persons,
            "n_observations": self.n_obs,
            "n_params": self.n_params,
            "loglik": round(self.loglik, 4),
            "aic": round(self.aic, 4),
            "bic": round(self.bic, 4),
            "converged": self.converged,
            "iterations": self.n_iter,
            "mean_theta_se": _round(float(np.mean(self.theta_se))) if self.n_persons else None,
            "items_misfitting_q1_p_lt_0.01": misfit,
            "max_item_rmsd": _round(float(fit["rmsd"].max())) if len(fit) else None,
            "excluded_items": dict(self.excluded_items),
            "excluded_persons": dict(self.excluded_persons),
            "warnings": list(self.warnings),
        }


def _round(x: float, digits: int = 4) -> float | None:
    return None if not np.isfinite(x) else round(x, digits)


def _screen(
    values: np.ndarray, persons: list[str], items: list[str], min_responses: int
) -> tuple[np.ndarray, list[int], list[int], dict[str, str], dict[str, str]]:
    """Drop persons without answers and items that carry no information, until nothing changes."""
    keep_p = np.arange(values.shape[0])
    keep_i = np.arange(values.shape[1])
    ex_items: dict[str, str] = {}
    ex_persons: dict[str, str] = {}
    while True:
        sub = values[np.ix_(keep_p, keep_i)]
        answered = ~np.isnan(sub)
        n_per_person = answered.sum(axis=1)
        drop_p = n_per_person == 0
        for row in np.flatnonzero(drop_p):
            ex_persons[persons[keep_p[row]]] = (
                "no answers" if np.isnan(values[keep_p[row]]).all() else "answered only excluded items"
            )
        n_per_item = answered.sum(axis=0)
        with np.errstate(invalid="ignore"):
            low = np.nanmin(np.where(answered, sub, np.inf), axis=0)
            high = np.nanmax(np.where(answered, sub, -np.inf), axis=0)
        drop_i = np.zeros(len(keep_i), dtype=bool)
        for k in range(len(keep_i)):
            name = items[keep_i[k]]
            if n_per_item[k] < min_responses:
                drop_i[k] = True
                ex_items[name] = f"only {int(n_per_item[k])} answer(s) (fewer than {min_responses})"
            elif low[k] == high[k]:
                drop_i[k] = True
                what = {1.0: "everyone answered correctly", 0.0: "everyone answered incorrectly"}
                ex_items[name] = what.get(float(low[k]), f"everyone gave the same answer ({low[k]:g})")
        if not drop_p.any() and not drop_i.any():
            return sub, list(keep_p), list(keep_i), ex_items, ex_persons
        keep_p = keep_p[~drop_p]
        keep_i = keep_i[~drop_i]
        if len(keep_p) == 0 or len(keep_i) == 0:
            return values[np.ix_(keep_p, keep_i)], list(keep_p), list(keep_i), ex_items, ex_persons


def fit_irt(
    data: ResponseMatrix | np.ndarray,
    model: str = "2pl",
    *,
    n_quad: int = 41,
    theta_range: float = 5.0,
    max_iter: int = 1000,
    tol: float = 1e-4,
    a_prior_sd: float | None = 3.0,
    c_prior: tuple[float, float] = (5.0, 17.0),
    min_responses: int = 2,
    item_fit_groups: int = 10,
    progress: bool = False,
    blas_threads: int | None = 1,
) -> IrtFit:
    """Fit ``model`` (rasch, 1pl, 2pl, 3pl or grm) to a persons × items matrix by MML-EM.

    ``a_prior_sd`` puts a weak normal prior N(1, sd²) on discriminations (``None`` for none) so that items
    with nearly perfect separation keep finite estimates; ``c_prior`` is the Beta prior on 3PL guessing.
    Iteration stops when no parameter moves more than ``tol``; a fit that reaches ``max_iter`` first says so
    in ``converged`` and ``warnings``. ``blas_threads`` caps BLAS threads during the fit (``None``: no cap):
    the products are thin (one column per grid point), so extra threads mostly wait on each other, and on a
    busy two-core machine one thread is several times faster.
    """
    with _blas_limit(blas_threads):
        return _fit_irt(data, model, n_quad=n_quad, theta_range=theta_range, max_iter=max_iter, tol=tol,
                        a_prior_sd=a_prior_sd, c_prior=c_prior, min_responses=min_responses,
                        item_fit_groups=item_fit_groups, progress=progress)


def _blas_limit(threads: int | None) -> Any:
    import contextlib

    if threads is None:
        return contextlib.nullcontext()
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - threadpoolctl is a dependency
        return contextlib.nullcontext()
    return threadpool_limits(limits=threads, user_api="blas")


def _fit_irt(
    data: ResponseMatrix | np.ndarray,
    model: str,
    *,
    n_quad: int,
    theta_range: float,
    max_iter: int,
    tol: float,
    a_prior_sd: float | None,
    c_prior: tuple[float, float],
    min_responses: int,
    item_fit_groups: int,
    progress: bool,
) -> IrtFit:
    model = model.lower()
    if model not in MODELS:
        raise AnalysisError(f"unknown IRT model {model!r}", hint=f"choose one of {', '.join(MODELS)}")
    if isinstance(data, ResponseMatrix):
        matrix = data
    else:
        array = np.asarray(data, dtype=float)
        if array.ndim != 2:
            raise AnalysisError("a response matrix must be two-dimensional (persons × items)")
        matrix = ResponseMatrix(
            array, [f"p{i}" for i in range(array.shape[0])], [f"i{j}" for j in range(array.shape[1])],
            "binary" if model in BINARY_MODELS else "ordinal",
        )
    _check_kind(matrix.values, "binary" if model in BINARY_MODELS else "ordinal", matrix.source)
    values, keep_p, keep_i, ex_items, ex_persons = _screen(
        matrix.values, matrix.persons, matrix.items, min_responses
    )
    persons = [matrix.persons[k] for k in keep_p]
    items = [matrix.items[k] for k in keep_i]
    if len(items) < 2 or len(persons) < 2:
        raise AnalysisError(
            f"too little variation to fit an IRT model: {len(items)} usable item(s), {len(persons)} respondent(s) "
            f"({len(ex_items)} item(s) excluded, {len(ex_persons)} respondent(s) excluded)",
            hint="IRT needs items that some respondents get right and others wrong",
        )
    nodes = np.linspace(-theta_range, theta_range, n_quad)
    log_prior = stats.norm.logpdf(nodes)
    log_prior -= special.logsumexp(log_prior)
    if model == "grm":
        result = _fit_grm(values, nodes, log_prior, max_iter, tol, a_prior_sd, progress)
    else:
        result = _fit_binary(values, model, nodes, log_prior, max_iter, tol, a_prior_sd, c_prior, progress)
    answered = ~np.isnan(values)
    result.update(
        items=items, persons=persons, excluded_items=ex_items, excluded_persons=ex_persons,
        n_obs=int(answered.sum()), n_answers=answered.sum(axis=0),
        proportion=np.nanmean(values, axis=0),
    )
    rmsd = result.pop("_rmsd")
    fit = IrtFit(model=model, **result)
    fit.item_fit = _item_fit(fit, values, item_fit_groups, rmsd)
    if not fit.converged:
        fit.warnings.append(f"EM did not converge in {max_iter} iterations (tolerance {tol})")
    return fit


def _posterior(log_like: np.ndarray, log_prior: np.ndarray) -> tuple[np.ndarray, float]:
    """Normalised posterior weights over the grid per person, and the marginal log-likelihood."""
    joint = log_like + log_prior[None, :]
    top = joint.max(axis=1, keepdims=True)
    weights = np.exp(joint - top)
    total = weights.sum(axis=1, keepdims=True)
    weights /= total
    return weights, float((top[:, 0] + np.log(total[:, 0])).sum())


def _fit_binary(
    x: np.ndarray, model: str, nodes: np.ndarray, log_prior: np.ndarray, max_iter: int, tol: float,
    a_prior_sd: float | None, c_prior: tuple[float, float], progress: bool,
) -> dict[str, Any]:
    n_items = x.shape[1]
    mask = ~np.isnan(x)
    complete = bool(mask.all())
    right = np.where(mask, x, 0.0)
    wrong = mask.astype(float) - right
    # the iterations run their large products in float32 (0/1 data are exact; weights need no more);
    # the final pass that reports log-likelihood, abilities and standard errors is float64
    right32 = right.astype(np.float32)
    mask32 = mask.astype(np.float32)
    prec = 0.0 if a_prior_sd is None or model in ("rasch",) else 1.0 / a_prior_sd**2
    # starting values: intercepts from the logit of the proportion correct
    prop = np.clip(right.sum(0) / mask.sum(0), 0.02, 0.98)
    a = np.ones(n_items)
    d = special.logit(prop) * 1.2
    c = np.full(n_items, 0.2) if model == "3pl" else np.zeros(n_items)
    alpha, beta = c_prior

    def em_map(a: np.ndarray, d: np.ndarray, c: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
        """One EM cycle: the E-step at (a, d, c) (whose marginal log-likelihood it returns) and the M-step."""
        s = special.expit(a[:, None] * nodes[None, :] + d[:, None])  # items × nodes
        p = np.clip(c[:, None] + (1 - c[:, None]) * s, 1e-10, 1 - 1e-10)
        lq = np.log1p(-p)
        logit = (np.log(p) - lq).astype(np.float32)
        if complete:
            log_like = (right32 @ logit).astype(float) + lq.sum(0)[None, :]
        else:
            log_like = (right32 @ logit).astype(float) + mask32 @ lq.astype(np.float32)
        weights, loglik = _posterior(log_like, log_prior)
        # flush negligible weights to zero: float32 subnormals would slow the products down a hundredfold
        weights32 = np.where(weights < 1e-30, 0.0, weights).astype(np.float32)
        # expected correct answers per item and node; (W'X)' is many times faster in OpenBLAS than X'W here
        r = (weights32.T @ right32).T.astype(float)
        n = np.broadcast_to(weights.sum(0), r.shape) if complete else (weights32.T @ mask32).T.astype(float)
        if model == "3pl":
            known = r * s / p  # expected correct answers that were not guesses
            c_new = ((r - known).sum(1) + alpha - 1) / ((n - known).sum(1) + alpha + beta - 2)
            c_new = np.clip(c_new, 1e-4, 0.9)
            r = known
        else:
            c_new = c
        a_new, d_new = _m_step_logistic(a, d, r, n, nodes, model, prec)
        return a_new, d_new, c_new, loglik

    def pack(a: np.ndarray, d: np.ndarray, c: np.ndarray) -> np.ndarray:
        return np.concatenate([a, d, c])

    def unpack(v: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        return v[:n_items], v[n_items : 2 * n_items], np.clip(v[2 * n_items :], 0.0, 0.9)

    converged, iteration = False, 0
    current = pack(a, d, c)
    # SQUAREM (Varadhan & Roland 2008): two EM cycles, a squared extrapolation along their steps, then an EM
    # cycle from the extrapolated point; fall back to plain EM whenever the extrapolation lowers the likelihood
    with progress_bar(f"IRT {model} EM", total=None, unit="EM cycles", enabled=progress) as bar:
        while iteration < max_iter:
            before = iteration
            one = pack(*em_map(*unpack(current))[:3])
            *step, ll_one = em_map(*unpack(one))
            two = pack(*step)
            iteration += 2
            r_vec = one - current
            v_vec = two - one - r_vec
            v_norm = float(np.sqrt(v_vec @ v_vec))
            new = two
            if v_norm > 0:
                step_len = -max(1.0, float(np.sqrt(r_vec @ r_vec)) / v_norm)
                jump = current - 2 * step_len * r_vec + step_len**2 * v_vec
                *after, ll_jump = em_map(*unpack(jump))
                iteration += 1
                if np.isfinite(ll_jump) and ll_jump >= ll_one - 1e-8 * abs(ll_one):
                    new = pack(*after)
            delta = float(np.abs(new - two).max()) if new is not two else float(np.abs(two - one).max())
            current = new
            bar.advance(iteration - before)
            bar.status(f"largest change {delta:.2e}")
            if delta < tol:
                converged = True
                break
    a, d, c = unpack(current)
    # final E-step at the estimates: abilities, log-likelihood and scores for standard errors
    s = special.expit(a[:, None] * nodes[None, :] + d[:, None])
    p = np.clip(c[:, None] + (1 - c[:, None]) * s, 1e-10, 1 - 1e-10)
    log_like = right @ np.log(p) + wrong @ np.log1p(-p)
    weights, loglik = _posterior(log_like, log_prior)
    theta = weights @ nodes
    theta_se = np.sqrt(np.clip(weights @ nodes**2 - theta**2, 0, None))
    se_a, se_b, se_c, n_params = _binary_se(right, mask, weights, nodes, a, d, c, s, p, model, prec, c_prior)
    b = -d / a
    r = right.T @ weights
    n = mask.T.astype(float) @ weights
    with np.errstate(invalid="ignore", divide="ignore"):
        observed = np.where(n > 1e-9, r / n, p)
    freq = n / np.clip(n.sum(1, keepdims=True), 1e-12, None)
    rmsd = np.sqrt((freq * (observed - p) ** 2).sum(1))
    return {
        "a": a, "b": b, "c": c if model == "3pl" else np.zeros(n_items),
        "se_a": se_a, "se_b": se_b, "se_c": se_c,
        "theta": theta, "theta_se": theta_se, "loglik": loglik, "n_params": n_params,
        "converged": converged, "n_iter": iteration, "item_fit": pd.DataFrame(), "_rmsd": rmsd,
    }


def _m_step_logistic(
    a: np.ndarray, d: np.ndarray, r: np.ndarray, n: np.ndarray, nodes: np.ndarray, model: str, prec: float,
    steps: int = 2,
) -> tuple[np.ndarray, np.ndarray]:
    """Newton steps on the expected complete-data log-likelihood Σ_q r log σ + (n − r) log(1 − σ) of every
    item at once (2×2 systems solved in closed form); concave, so a few steps per EM cycle suffice."""
    a, d = a.copy(), d.copy()
    for _ in range(steps):
        s = special.expit(a[:, None] * nodes[None, :] + d[:, None])
        resid = r - n * s
        w = n * s * (1 - s)
        g_d = resid.sum(1)
        h_dd = w.sum(1) + 1e-9
        if model == "rasch":
            d += np.clip(g_d / h_dd, -2, 2)
            continue
        g_a = resid @ nodes - prec * (a - 1)
        h_ad = w @ nodes
        h_aa = w @ nodes**2 + prec
        if model == "1pl":
            d += np.clip(g_d / h_dd, -2, 2)
            # common slope: the item intercepts profiled out (Schur complement)
            g = g_a.sum()  # the prior enters once per item, matching the standard errors
            h = (h_aa - h_ad**2 / h_dd).sum()
            a = a + np.clip(g / max(h, 1e-9), -1, 1)
            continue
        det = h_aa * h_dd - h_ad**2
        det = np.where(det > 1e-12, det, 1e-12)
        step_a = (h_dd * g_a - h_ad * g_d) / det
        step_d = (h_aa * g_d - h_ad * g_a) / det
        a = a + np.clip(step_a, -1, 1)
        d = d + np.clip(step_d, -2, 2)
    return a, d


def _binary_se(
    right: np.ndarray, mask: np.ndarray, weights: np.ndarray, nodes: np.ndarray, a: np.ndarray, d: np.ndarray,
    c: np.ndarray, s: np.ndarray, p: np.ndarray, model: str, prec: float, c_prior: tuple[float, float],
) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """Standard errors from the cross-product of per-person marginal scores (plus the priors' curvature)."""
    n_items = a.size
    # d log P(x|θ)/d η = (x − p) g with g = (1 − c) s (1 − s) / (p (1 − p)); η = a θ + d
    g = (1 - c[:, None]) * s * (1 - s) / (p * (1 - p))
    xw = right  # x where answered, 0 elsewhere
    maskf = mask.astype(float)

    def score(factor: np.ndarray) -> np.ndarray:
        # Σ_q w_nq (x_nj − p_jq) factor_jq over answered cells
        return xw * (weights @ factor.T) - maskf * (weights @ (p * factor).T)

    blocks = [score(g)]  # intercepts d
    names = ["d"]
    if model == "1pl":
        blocks.append(score(g * nodes[None, :]).sum(1, keepdims=True))
        names.append("a_common")
    elif model in ("2pl", "3pl"):
        blocks.append(score(g * nodes[None, :]))
        names.append("a")
    if model == "3pl":
        blocks.append(score((1 - s) / (p * (1 - p))))
        names.append("c")
    scores = np.hstack(blocks)
    info = scores.T @ scores
    k = info.shape[0]
    diag = np.zeros(k)
    if model == "2pl" or model == "3pl":
        diag[n_items : 2 * n_items] = prec
    if model == "1pl":
        diag[n_items] = prec * n_items
    if model == "3pl":
        alpha, beta = c_prior
        diag[2 * n_items :] = (alpha - 1) / c**2 + (beta - 1) / (1 - c) ** 2
    info[np.diag_indices(k)] += diag
    cov = _invert(info)
    var_d = np.diag(cov)[:n_items]
    if model == "rasch":
        var_a = np.zeros(n_items)
        cov_ad = np.zeros(n_items)
    elif model == "1pl":
        var_a = np.full(n_items, cov[n_items, n_items])
        cov_ad = cov[:n_items, n_items]
    else:
        var_a = np.diag(cov)[n_items : 2 * n_items]
        cov_ad = np.diag(cov[:n_items, n_items : 2 * n_items])
    b = -d / a
    var_b = (var_d + b**2 * var_a + 2 * b * cov_ad) / a**2
    se_c = np.sqrt(np.clip(np.diag(cov)[2 * n_items :], 0, None)) if model == "3pl" else np.zeros(n_items)
    n_params = {"rasch": n_items, "1pl": n_items + 1, "2pl": 2 * n_items, "3pl": 3 * n_items}[model]
    return np.sqrt(np.clip(var_a, 0, None)), np.sqrt(np.clip(var_b, 0, None)), se_c, n_params


def _invert(info: np.ndarray) -> np.ndarray:
    try:
        return np.linalg.inv(info)
    except np.linalg.LinAlgError:
        return np.linalg.pinv(info)


# --------------------------------------------------------------------------------------------------------------
# Graded response model


def _grm_probs(a: float, d: np.ndarray, nodes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Category probabilities (K × Q) and the cumulative curves with the 1/0 ends ((K+1) × Q)."""
    star = special.expit(a * nodes[None, :] + d[:, None])
    full = np.vstack([np.ones_like(nodes), star, np.zeros_like(nodes)])
    return np.clip(full[:-1] - full[1:], 1e-12, None), full


def _grm_unpack(params: np.ndarray) -> tuple[float, np.ndarray]:
    """(a, d_1 > d_2 > ...) from (a, d_1, log gaps): the ordering holds by construction."""
    a = params[0]
    d = params[1] - np.concatenate([[0.0], np.cumsum(np.exp(params[2:]))])
    return a, d


def _grm_item_objective(
    params: np.ndarray, counts: np.ndarray, nodes: np.ndarray, prec: float
) -> tuple[float, np.ndarray]:
    a, d = _grm_unpack(params)
    probs, full = _grm_probs(a, d, nodes)
    ratio = counts / probs  # K × Q
    value = -(counts * np.log(probs)).sum() + 0.5 * prec * (a - 1) ** 2
    w = full * (1 - full)  # (K+1) × Q, zero at the ends
    # d ℓ / d d_k = Σ_q w_k (r_{k}/P_{k} − r_{k−1}/P_{k−1}) for cumulative index k = 1..K−1 (category k, k−1)
    inner = w[1:-1] * (ratio[1:] - ratio[:-1])  # (K−1) × Q
    grad_d = inner.sum(1)
    grad_a = (inner * nodes[None, :]).sum() - prec * (a - 1)
    grad = np.empty_like(params)
    grad[0] = -grad_a
    grad[1] = -grad_d.sum()
    gaps = np.exp(params[2:])
    # d_k = d_1 − Σ_{m ≤ k} gap_m: ∂/∂log gap_m = −gap_m Σ_{k ≥ m} ∂/∂d_k
    tail = np.cumsum(grad_d[::-1])[::-1][1:]
    grad[2:] = gaps * tail  # sign: −(−gap · tail)
    return float(value), grad


def _fit_grm(
    x: np.ndarray, nodes: np.ndarray, log_prior: np.ndarray, max_iter: int, tol: float,
    a_prior_sd: float | None, progress: bool,
) -> dict[str, Any]:
    n_persons, n_items = x.shape
    prec = 0.0 if a_prior_sd is None else 1.0 / a_prior_sd**2
    categories: list[list[float]] = []
    codes = np.full(x.shape, -1, dtype=int)
    offsets = [0]
    for j in range(n_items):
        observed = np.unique(x[~np.isnan(x[:, j]), j])
        categories.append([float(v) for v in observed])
        lookup = {v: k for k, v in enumerate(observed)}
        col = x[:, j]
        codes[:, j] = [lookup[v] if v == v else -1 for v in col]
        offsets.append(offsets[-1] + len(observed))
    total = offsets[-1]
    # one-hot design: persons × (all categories of all items)
    onehot = np.zeros((n_persons, total))
    rows, cols = np.nonzero(codes >= 0)
    onehot[rows, np.array(offsets[:-1])[cols] + codes[rows, cols]] = 1.0
    params: list[np.ndarray] = []
    for j in range(n_items):
        k = len(categories[j])
        counts = np.bincount(codes[codes[:, j] >= 0, j], minlength=k).astype(float) + 0.5
        cum = np.cumsum(counts[::-1])[::-1][1:] / counts.sum()  # P(X ≥ k), k = 1..K−1
        d0 = special.logit(np.clip(cum, 0.01, 0.99)) * 1.2
        gaps = np.log(np.clip(-np.diff(d0), 0.05, None))
        params.append(np.concatenate([[1.0, d0[0]], gaps]))
    converged, iteration = False, 0

    def log_table() -> np.ndarray:
        table = np.empty((total, nodes.size))
        for j in range(n_items):
            a, d = _grm_unpack(params[j])
            table[offsets[j] : offsets[j + 1]] = np.log(_grm_probs(a, d, nodes)[0])
        return table

    previous = -np.inf
    with progress_bar("IRT grm EM", total=None, unit="EM cycles", enabled=progress) as bar:
        for cycle in range(1, max_iter + 1):
            iteration = cycle
            weights, current = _posterior(onehot @ log_table(), log_prior)
            if abs(current - previous) < 1e-9 * abs(current):  # flat likelihood: parameters barely matter
                converged = True
                break
            previous = current
            expected = onehot.T @ weights  # categories × nodes
            delta = 0.0
            for j in range(n_items):
                counts = expected[offsets[j] : offsets[j + 1]]
                res = optimize.minimize(
                    _grm_item_objective, params[j], args=(counts, nodes, prec), jac=True,
                    method="BFGS", options={"maxiter": 20, "gtol": 1e-6},
                )
                new = res.x
                old_a, old_d = _grm_unpack(params[j])
                new_a, new_d = _grm_unpack(new)
                delta = max(delta, abs(new_a - old_a), float(np.abs(new_d - old_d).max()))
                params[j] = new
            bar.advance()
            bar.status(f"largest change {delta:.2e}")
            if delta < tol:
                converged = True
                break
    weights, loglik = _posterior(onehot @ log_table(), log_prior)
    theta = weights @ nodes
    theta_se = np.sqrt(np.clip(weights @ nodes**2 - theta**2, 0, None))
    # standard errors: per-person marginal scores for (a, d_1..d_{K−1}) of every item
    blocks = []
    for j in range(n_items):
        a, d = _grm_unpack(params[j])
        probs, full = _grm_probs(a, d, nodes)
        w = full * (1 - full)
        answered = codes[:, j] >= 0
        code = np.where(answered, codes[:, j], 0)
        k = len(categories[j])
        # ∂ log P_x / ∂ d_m = (w_m [m = x] − w_m [m = x + 1]) / P_x, m = 1..K−1 (cumulative index)
        block = np.zeros((n_persons, k))
        for m in range(1, k):
            factor = np.zeros((k, nodes.size))
            factor[m] = w[m] / probs[m]  # category x = m: +w_m / P_m
            factor[m - 1] = -w[m] / probs[m - 1]  # category x = m − 1: −w_m / P_{m−1}
            block[:, m] = np.einsum("nq,nq->n", weights, factor[code])
        slope = ((w[:-1] - w[1:]) / probs) * nodes[None, :]
        block[:, 0] = np.einsum("nq,nq->n", weights, slope[code])
        block[~answered] = 0.0
        blocks.append(block)
    scores = np.hstack(blocks)
    info = scores.T @ scores
    info[np.diag_indices(info.shape[0])] += np.concatenate(
        [np.r_[prec, np.zeros(len(c) - 1)] for c in categories]
    )
    cov = _invert(info)
    a_all, b_all, se_a, se_b, thresholds, threshold_se, rmsd = [], [], [], [], [], [], []
    expected = onehot.T @ weights
    for j in range(n_items):
        a, d = _grm_unpack(params[j])
        start = offsets[j]
        block = cov[start : offsets[j + 1], start : offsets[j + 1]]
        var_a, var_d, cov_ad = block[0, 0], np.diag(block)[1:], block[0, 1:]
        th = -d / a
        th_se = np.sqrt(np.clip((var_d + th**2 * var_a + 2 * th * cov_ad) / a**2, 0, None))
        # location = mean threshold; its variance through the gradient of mean(−d/a)
        grad = np.concatenate([[np.mean(d) / a**2], -np.ones(d.size) / (a * d.size)])
        loc_se = math.sqrt(max(float(grad @ block @ grad), 0.0))
        a_all.append(a)
        b_all.append(float(th.mean()))
        se_a.append(math.sqrt(max(var_a, 0.0)))
        se_b.append(loc_se)
        thresholds.append(th)
        threshold_se.append(th_se)
        counts = expected[start : offsets[j + 1]]
        probs, _ = _grm_probs(a, d, nodes)
        n_q = counts.sum(0)
        observed = np.where(n_q > 1e-9, counts / np.clip(n_q, 1e-12, None), probs)
        freq = n_q / max(n_q.sum(), 1e-12)
        rmsd.append(float(np.sqrt((freq * ((observed - probs) ** 2).sum(0)).sum())))
    n_params = sum(len(c) for c in categories)
    return {
        "a": np.array(a_all), "b": np.array(b_all), "c": np.zeros(n_items),
        "se_a": np.array(se_a), "se_b": np.array(se_b), "se_c": np.zeros(n_items),
        "theta": theta, "theta_se": theta_se, "loglik": loglik, "n_params": n_params,
        "converged": converged, "n_iter": iteration, "item_fit": pd.DataFrame(),
        "thresholds": thresholds, "threshold_se": threshold_se, "categories": categories,
        "_rmsd": np.array(rmsd),
    }


# --------------------------------------------------------------------------------------------------------------
# Item fit


def _item_fit(fit: IrtFit, x: np.ndarray, groups: int, rmsd: np.ndarray) -> pd.DataFrame:
    """RMSD between posterior-expected and model curves, and a Yen-Q1-style χ² over ability groups."""
    frame = pd.DataFrame({"item_id": fit.items, "rmsd": rmsd})
    if fit.model == "grm" or fit.n_persons < 2 * groups:
        return frame
    mask = ~np.isnan(x)
    cuts = np.quantile(fit.theta, np.linspace(0, 1, groups + 1)[1:-1])
    group = np.searchsorted(cuts, fit.theta, side="right")
    member = np.zeros((fit.n_persons, groups))
    member[np.arange(fit.n_persons), group] = 1.0
    expected_p = fit.icc(fit.theta).T  # persons × items
    maskf = mask.astype(float)
    n_g = member.T @ maskf
    obs = member.T @ np.where(mask, x, 0.0)
    exp = member.T @ (maskf * expected_p)
    with np.errstate(invalid="ignore", divide="ignore"):
        e = exp / n_g
        o = obs / n_g
        terms = np.where(n_g > 0, n_g * (o - e) ** 2 / np.clip(e * (1 - e), 1e-9, None), 0.0)
    chi2 = terms.sum(0)
    n_free = {"rasch": 1, "1pl": 1, "2pl": 2, "3pl": 3}[fit.model]
    df = np.clip((n_g > 0).sum(0) - n_free, 1, None)
    frame["q1_chi2"] = chi2
    frame["q1_df"] = df
    frame["q1_p"] = stats.chi2.sf(chi2, df)
    return frame


# --------------------------------------------------------------------------------------------------------------
# Files


def run_irt(
    paths: Sequence[str | os.PathLike[str]],
    out: str | os.PathLike[str] | None = None,
    *,
    model: str = "2pl",
    dataset: str | os.PathLike[str] | None = None,
    by: Literal["source", "subject"] = "source",
    fit_options: dict[str, Any] | None = None,
    progress: bool = False,
) -> dict[str, IrtFit]:
    """Fit ``model`` to every population in ``paths`` (runs, human tables, matrix CSVs; see
    :func:`load_matrices`) and, with ``out``, write ``items_<name>.csv``, ``persons_<name>.csv``,
    ``information.png`` and ``summary.json``."""
    matrices = load_matrices(paths, dataset=dataset, by=by,
                             value="rating" if model in ORDINAL_MODELS else "correct")
    fits = {name: fit_irt(matrix, model, progress=progress, **(fit_options or {}))
            for name, matrix in matrices.items()}
    if out is not None:
        write_irt_outputs(fits, matrices, out)
    return fits


def _slug(name: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in name)[:80]


def write_irt_outputs(
    fits: dict[str, IrtFit], matrices: dict[str, ResponseMatrix], out: str | os.PathLike[str]
) -> Path:
    import json
    from datetime import UTC, datetime

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from proceval import __version__

    root = Path(out)
    root.mkdir(parents=True, exist_ok=True)
    grid = np.linspace(-4, 4, 161)
    fig, ax = plt.subplots(figsize=(5, 3.5))
    for name, fit in fits.items():
        fit.items_frame().to_csv(root / f"items_{_slug(name)}.csv", index=False)
        fit.persons_frame().to_csv(root / f"persons_{_slug(name)}.csv", index=False)
        ax.plot(grid, fit.test_information(grid), label=name)
    ax.set_xlabel("ability θ")
    ax.set_ylabel("test information")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(root / "information.png", dpi=110)
    plt.close(fig)
    summary = {
        "proceval_version": __version__,
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "populations": {
            name: fit.summary() | {
                "source": matrices[name].source,
                "matrix": {"persons": matrices[name].n_persons, "items": matrices[name].n_items,
                           "missing_cells": matrices[name].n_missing},
                "skipped_answers": matrices[name].skipped,
            }
            for name, fit in fits.items()
        },
    }
    (root / "summary.json").write_text(json.dumps(summary, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return root


# --------------------------------------------------------------------------------------------------------------
# The registered analysis (``proceval analyze``): a 2PL per population that has several respondents


def _register() -> None:
    from proceval.analysis.base import AnalysisResult, FigureSpec, NotApplicable, register_analysis

    @register_analysis("irt", "Item response theory (2PL per population)", options={"irt_model": "2pl"})
    def irt_analysis(data: Any, ctx: Any) -> AnalysisResult:
        """2PL item difficulties and discriminations for each run with personas, and for the humans."""
        frame = data.frame
        frame = frame[frame["response_type"] == "choice"] if "response_type" in frame else frame
        model = str(ctx.options.get("irt_model", "2pl"))
        fits: dict[str, IrtFit] = {}
        notes: list[str] = []
        for name, group in frame.groupby("run", sort=False):
            if group["participant"].nunique() < 2:
                humans = (group["subject_kind"] == "human").all()
                notes.append(f"{name}: one respondent, no IRT (" + ("IRT needs several participants)" if humans
                             else "run it with --personas for a population)"))
                continue
            try:
                fits[str(name)] = fit_irt(matrix_from_frame(group, source=str(name)), model)
            except AnalysisError as exc:
                notes.append(f"{name}: {exc.message}")
        if not fits:
            raise NotApplicable("no population with several respondents and informative items"
                                + (f" ({'; '.join(notes)})" if notes else ""))
        tables = {f"items_{name}": fit.items_frame() for name, fit in fits.items()}
        result = AnalysisResult("irt", "Item response theory", tables=tables,
                                numbers={name: fit.summary() for name, fit in fits.items()}, notes=notes)

        def draw() -> Any:
            import matplotlib

            matplotlib.use("Agg")
            import matplotlib.pyplot as plt

            grid = np.linspace(-4, 4, 161)
            fig, ax = plt.subplots(figsize=(5, 3.5))
            for name, fit in fits.items():
                ax.plot(grid, fit.test_information(grid), label=name)
            ax.set_xlabel("ability θ")
            ax.set_ylabel("test information")
            ax.legend(fontsize=7)
            fig.tight_layout()
            return fig

        result.figures.append(FigureSpec("irt_information", "Test information", draw,
                                         caption=f"{model.upper()} test information per population."))
        return result


_register()
