"""Queries to generate and evaluate on: ``builtin`` (128 short everyday questions written for proceval, so the
example runs offline), or a file: ``.txt`` (one query a line), ``.jsonl`` or ``.csv`` (a ``query`` column; ``text``
or ``prompt`` are accepted too). Empty rows are skipped and counted; ids are content hashes of the text.

``builtin[:N]`` / ``builtin[N:]`` slice the built-in set (the example trains on the first 96 and holds out the rest).
"""

from __future__ import annotations

import csv
import json
import re
from dataclasses import dataclass, field
from importlib.resources import files
from pathlib import Path

from proceval.ids import text_id
from proceval.train.sami.constitutions import SamiError

COLUMNS = ("query", "text", "prompt")
_SLICE = re.compile(r"^builtin(?:\[(-?\d*):(-?\d*)\])?$")


@dataclass
class Query:
    id: str
    text: str


@dataclass
class QuerySet:
    queries: list[Query]
    source: str
    skipped: dict[str, int] = field(default_factory=dict)


def builtin_queries() -> list[str]:
    text = files("proceval.train.sami").joinpath("queries.txt").read_text(encoding="utf-8")
    return [line.strip() for line in text.splitlines() if line.strip()]


def _rows(path: Path) -> list[tuple[int, object]]:
    """(line number, the query cell or None) for each data row of ``path``."""
    if not path.is_file():
        raise SamiError("no such query file", file=path, hint="give a .txt, .jsonl or .csv file, or `builtin`")
    text = path.read_text(encoding="utf-8-sig")
    if path.suffix == ".txt":
        return [(n, line) for n, line in enumerate(text.splitlines(), 1)]
    if path.suffix == ".jsonl":
        rows = []
        for n, line in enumerate(text.splitlines(), 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                raise SamiError(f"not JSON: {exc.msg}", file=path, line=n) from None
            if not isinstance(record, dict):
                raise SamiError("each line must be a JSON object with a `query` field", file=path, line=n)
            rows.append((n, next((record[c] for c in COLUMNS if c in record), None)))
        return rows
    if path.suffix == ".csv":
        reader = csv.DictReader(text.splitlines())
        column = next((c for c in COLUMNS if c in (reader.fieldnames or [])), None)
        if column is None:
            raise SamiError(f"no query column (columns: {', '.join(reader.fieldnames or [])})", file=path,
                            field="query", hint=f"name the column one of {', '.join(COLUMNS)}")
        return [(n, row.get(column)) for n, row in enumerate(reader, 2)]
    raise SamiError(f"unknown query file type {path.suffix!r}", file=path, hint="use .txt, .jsonl or .csv")


def load_queries(source: str | Path) -> QuerySet:
    """The queries of ``source`` in file order, empty and duplicate rows skipped and counted."""
    spec = str(source)
    match = _SLICE.match(spec)
    if match:
        start, stop = (int(v) if v else None for v in match.groups())
        texts: list[object] = list(builtin_queries()[start:stop])
        rows = list(enumerate(texts, 1))
    else:
        rows = _rows(Path(spec))
    skipped = {"empty": 0, "duplicate": 0}
    seen: set[str] = set()
    queries = []
    for _, cell in rows:
        text = cell.strip() if isinstance(cell, str) else ""
        if not text:
            skipped["empty"] += 1
            continue
        if text in seen:
            skipped["duplicate"] += 1
            continue
        seen.add(text)
        queries.append(Query(id=text_id(text, length=12), text=text))
    if not queries:
        raise SamiError("no queries (every row is empty)", file=spec)
    return QuerySet(queries=queries, source=spec, skipped=skipped)


__all__ = ["Query", "QuerySet", "builtin_queries", "load_queries"]
