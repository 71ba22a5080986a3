"""Import already-filled rows (a published CSV) using the template's table layout."""

from __future__ import annotations

import csv
import fnmatch
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from proceval.dataset import Scenario, SkippedRow
from proceval.errors import SourceError
from proceval.scenarios.matching import assign
from proceval.templates import Template

# A sentence ends at . ! or ? (optionally followed by a closing quote) before whitespace and a capital.
_SENTENCE_END = re.compile(r"(?:(?<=[.!?])|(?<=[.!?][\"'”’]))\s+(?=[A-Z0-9\"'“‘])")


def split_sentences(text: str) -> list[str]:
    return [part.strip() for part in _SENTENCE_END.split(text.strip()) if part.strip()]


def read_text(path: Path) -> str:
    """The file as text; a clear error for a missing, empty or non-UTF-8 file."""
    if not path.is_file():
        raise SourceError("no such file", file=path)
    data = path.read_bytes()
    if not data.strip():
        raise SourceError("the file is empty", file=path, hint="give a file with one filled row per line")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise SourceError(
            f"not UTF-8 text (byte 0x{data[exc.start]:02x} at offset {exc.start})",
            file=path,
            line=line,
            hint="re-save the file as UTF-8 (e.g. `iconv -f latin1 -t utf-8 IN > OUT`)",
        ) from None


def table_scenarios(template: Template, files: list[Path]) -> Iterator[Scenario | SkippedRow]:
    """One scenario per valid row of each file, in order; a :class:`SkippedRow` for every row that is not.

    With a zipped layout (``table.files``) a scenario combines row i of one file per entry; the files given
    are matched to the entries by name, in order (the k-th file of each entry form the k-th set).
    A scenario repaired by ``table.recover`` carries the repair in ``source["recovered"]``.
    """
    layout = template.spec.table
    if layout is None:
        raise SourceError(
            f"template {template.name!r} declares no table layout, so it cannot import rows",
            hint="add a `table:` section (separator, header, columns) to the template",
        )
    if layout.files:
        yield from _zip_scenarios(template, files)
        return
    for path in files:
        for record in _records(path, layout.columns, layout.separator, layout.header, layout.recover):
            if isinstance(record, SkippedRow):
                yield record
                continue
            source: dict[str, Any] = {"kind": "table", "file": path.name, "line": record.line, "record": record.number}
            yield _finish(template, record, source)


@dataclass
class _Record:
    """One row of one file mapped to column names (values and '_' metadata), and any repair made."""

    path: Path
    line: int
    number: int  # 1-based position among the file's data rows
    values: dict[str, str]
    meta: dict[str, str]
    recovered: str | None = None
    origins: dict[str, str] = field(default_factory=dict)  # column → "file:line" (zipped rows)


def _locate(problem: str, origins: dict[str, str], rename: dict[str, str]) -> str:
    name = problem.split(":", 1)[0]
    for column, where in origins.items():
        if rename.get(column, column) == name:
            return f"{where}: {problem}"
    return problem


def _records(path: Path, columns: list[str], separator: str, header: bool,
             recover: bool) -> Iterator[_Record | SkippedRow]:
    text = read_text(path)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=separator)
    first_line = 1
    if header:
        try:
            names = [h.strip() for h in next(reader)]
        except StopIteration:
            raise SourceError("the file has no header row", file=path) from None
        missing = [c for c in columns if c not in names]
        if missing:
            raise SourceError(
                f"header lacks column(s) {', '.join(missing)}", file=path, line=1,
                hint=f"the file's columns are: {', '.join(names)}",
            )
        index = {c: names.index(c) for c in columns}
        first_line = reader.line_num + 1
    else:
        index = {c: i for i, c in enumerate(columns)}
    line = first_line
    for number, row in enumerate(reader, start=1):
        start, line = line, reader.line_num + 1
        yield _map_row(row, index, columns, path, start, number, header, recover)


def _map_row(row: list[str], index: dict[str, int], columns: list[str], path: Path, line: int, number: int,
             header: bool, recover: bool) -> _Record | SkippedRow:
    n_columns = len(columns)
    if not any(cell.strip() for cell in row):
        return SkippedRow(file=str(path), line=line, reason="blank row")
    recovered = None
    if (not header and len(row) != n_columns) or (header and len(row) < max(index.values()) + 1):
        problem = f"expected {n_columns} fields, found {len(row)}"
        if header or not recover:
            return SkippedRow(file=str(path), line=line, reason=problem)
        repaired, how = recover_fused_row(row, n_columns)
        if repaired is None:
            return SkippedRow(file=str(path), line=line, reason=f"{problem}; not recovered: {how}")
        row, recovered = repaired, f"{problem}; {how}"
    values = {column: row[i].strip() for column, i in index.items()}  # renamed and split by _finish
    return _Record(path, line, number, values, {}, recovered)


# Two sentences joined with no space: where a line break (or a separator) was lost when rows were written.
_FUSED = re.compile(r"(?<=[a-z0-9)\]][.!?])(?=[A-Z])")


def recover_fused_row(row: list[str], n_columns: int) -> tuple[list[str] | None, str]:
    """Repair a row whose field count is wrong because text was fused in where a line break was lost.

    The repair is attempted only when exactly one field holds two sentences joined without a space: the
    field is split there. If that gives ``n_columns`` fields, a separator was lost and the split row is the
    repair. If it gives more, the fields from the fusion point on, as many as there are extra, are text of
    another row written into this one, and are removed. Anything else is ambiguous. Returns the repaired
    row (or ``None``) and a sentence that says what was done, or why not.
    """
    fusions = [(i, m.start()) for i, cell in enumerate(row) for m in _FUSED.finditer(cell)]
    if not fusions:
        return None, "no place where a line break was lost (two sentences joined without a space)"
    if len(fusions) > 1:
        where = ", ".join(f"field {i + 1}" for i, _ in fusions)
        return None, f"ambiguous: sentences are fused in {len(fusions)} places ({where})"
    field_index, offset = fusions[0]
    cell = row[field_index]
    split = [*row[:field_index], cell[:offset], cell[offset:], *row[field_index + 1:]]
    extra = len(split) - n_columns
    excerpt = f"{cell[max(0, offset - 25):offset]}|{cell[offset:offset + 25]}"
    if extra < 0:
        return None, f"splitting field {field_index + 1} at {excerpt!r} still leaves too few fields"
    if extra == 0:
        return split, f"recovered: field {field_index + 1} held two fields joined at {excerpt!r}; split there"
    first = field_index + 1  # index in `split` of the text after the fusion point
    removed = split[first:first + extra]
    kept = split[:first] + split[first + extra:]
    duplicate = removed == kept[: len(removed)] or removed == kept[-len(removed):]
    kind = "a copy of this row" if duplicate else "text of another row"
    return kept, (
        f"recovered: a line break was lost inside field {field_index + 1} at {excerpt!r}; the {extra} "
        f"fields from there (fields {first + 1}-{first + extra} after splitting) are {kind} and were removed"
    )


def _zip_scenarios(template: Template, files: list[Path]) -> Iterator[Scenario | SkippedRow]:
    layout = template.spec.table
    assert layout is not None
    groups: list[list[Path]] = [[] for _ in layout.files]
    for path in files:
        matches = [j for j, entry in enumerate(layout.files) if fnmatch.fnmatch(path.name, entry.match)]
        if len(matches) != 1:
            patterns = ", ".join(repr(entry.match) for entry in layout.files)
            what = "matches none" if not matches else "matches several"
            raise SourceError(f"the file name {what} of the template's table.files patterns ({patterns})",
                              file=path, hint="rename the file, or give the files in the layout's order")
        groups[matches[0]].append(path)
    counts = {layout.files[j].match: len(g) for j, g in enumerate(groups)}
    if len(set(counts.values())) != 1:
        raise SourceError(
            "a zipped layout needs the same number of files for every entry of table.files; got "
            + ", ".join(f"{n} for {pattern!r}" for pattern, n in counts.items()),
            hint="give one file per entry for each set (e.g. --from cc_mild.csv --from coc_mild.csv)",
        )
    for paths in zip(*groups, strict=True):
        readers = [
            list(_records(path, entry.columns, layout.separator, layout.header, layout.recover))
            for path, entry in zip(paths, layout.files, strict=True)
        ]
        n_rows = max(len(r) for r in readers)
        for k in range(n_rows):
            parts = [r[k] if k < len(r) else None for r in readers]
            missing = [paths[j].name for j, part in enumerate(parts) if part is None]
            first = next(part for part in parts if part is not None)
            if missing:
                yield SkippedRow(file=str(first.file if isinstance(first, SkippedRow) else first.path),
                                 line=first.line, reason=f"row {k + 1} has no partner row in {', '.join(missing)}")
                continue
            skipped = [part for part in parts if isinstance(part, SkippedRow)]
            if skipped:
                yield SkippedRow(file=skipped[0].file, line=skipped[0].line,
                                 reason="; ".join(f"{Path(s.file or '').name}:{s.line}: {s.reason}" for s in skipped))
                continue
            records = [part for part in parts if isinstance(part, _Record)]
            merged = _Record(records[0].path, records[0].line, k + 1, {}, {})
            for record in records:
                merged.origins.update({column: f"{record.path.name}:{record.line}" for column in record.values})
                merged.values.update(record.values)
                merged.meta.update(record.meta)
            repairs = [f"{r.path.name}:{r.line}: {r.recovered}" for r in records if r.recovered]
            merged.recovered = "; ".join(repairs) or None
            source: dict[str, Any] = {
                "kind": "table", "file": records[0].path.name, "line": records[0].line, "record": k + 1,
                "files": [{"file": r.path.name, "line": r.line} for r in records],
            }
            yield _finish(template, merged, source)


def _finish(template: Template, record: _Record, source: dict[str, Any]) -> Scenario | SkippedRow:
    """Rename, split, extract and check a mapped row; the scenario, or why it was skipped."""
    layout = template.spec.table
    assert layout is not None
    path, line = record.path, record.line
    values: dict[str, str] = {}
    meta = dict(record.meta)
    for column, cell in record.values.items():
        name = layout.rename.get(column, column)
        if name.startswith("_"):
            meta[name.lstrip("_")] = cell
        else:
            values[name] = cell
    for name, rule in layout.split.items():
        parts = split_sentences(values.pop(name, ""))
        if len(parts) != len(rule.into):
            return SkippedRow(file=str(path), line=line,
                              reason=f"{name}: expected {len(rule.into)} sentences, found {len(parts)}")
        values.update(zip(rule.into, parts, strict=True))
    for pairing in layout.match:
        texts = [values.pop(column, "") for column in pairing.columns]
        order, why = assign(texts, [values.get(name, "") for name in pairing.states], pairing.poles)
        if order is None:
            return SkippedRow(file=str(path), line=line,
                              reason=f"{', '.join(pairing.columns)}: cannot tell which states "
                              f"{' or '.join(pairing.states)}: {why}")
        values.update({name: texts[order[j]] for j, name in enumerate(pairing.into)})
    for name, extract in layout.extract.items():
        text = values.get(extract.source, meta.get(extract.source.lstrip("_"), ""))
        match = re.search(extract.pattern, text)
        if not match or not match.group(1).strip():
            return SkippedRow(file=str(path), line=line,
                              reason=f"{name}: pattern {extract.pattern!r} finds nothing in {extract.source} "
                              f"({text[:60]!r})")
        values[name] = match.group(1).strip()
    problems = template.check_scenario(values)
    if problems:
        if record.origins:  # a zipped row: name the file and line each failing variable came from
            problems = [_locate(problem, record.origins, layout.rename) for problem in problems]
        why = "; ".join(problems)
        if record.recovered:
            why = f"{record.recovered}, but the repaired row fails the template's checks: {why}"
        return SkippedRow(file=str(path), line=line, reason=why)
    if meta:
        source["row"] = meta
    if record.recovered:
        source["recovered"] = record.recovered
    return Scenario.of(template.name, values, source)
