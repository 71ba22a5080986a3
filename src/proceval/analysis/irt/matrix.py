"""Response matrices (persons × items, NaN = not answered): read from CSV, built from responses or run
directories, pooled across sources. The input of every IRT fit."""

from __future__ import annotations

import csv
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from proceval.errors import AnalysisError

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
