"""Import already-filled rows (a published CSV) using the template's table layout."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from pathlib import Path

from proceval.dataset import Scenario, SkippedRow
from proceval.errors import SourceError
from proceval.ids import content_id
from proceval.templates import Template

# A sentence ends at . ! or ? (optionally followed by a closing quote) before whitespace and a capital.
_SENTENCE_END = re.compile(r"(?<=[.!?])[\"'”’]?\s+(?=[A-Z0-9\"'“‘])")


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
    """One scenario per valid row of each file, in order; a :class:`SkippedRow` for every row that is not."""
    layout = template.spec.table
    if layout is None:
        raise SourceError(
            f"template {template.name!r} declares no table layout, so it cannot import rows",
            hint="add a `table:` section (separator, header, columns) to the template",
        )
    for path in files:
        text = read_text(path)
        reader = csv.reader(io.StringIO(text, newline=""), delimiter=layout.separator)
        columns = list(layout.columns)
        first_line = 1
        if layout.header:
            try:
                header = [h.strip() for h in next(reader)]
            except StopIteration:
                raise SourceError("the file has no header row", file=path) from None
            missing = [c for c in columns if c not in header]
            if missing:
                raise SourceError(
                    f"header lacks column(s) {', '.join(missing)}", file=path, line=1,
                    hint=f"the file's columns are: {', '.join(header)}",
                )
            index = {c: header.index(c) for c in columns}
            first_line = reader.line_num + 1
        else:
            index = {c: i for i, c in enumerate(columns)}
        line = first_line
        for row in reader:
            start, line = line, reader.line_num + 1
            yield _row_to_scenario(template, row, index, path, start, len(columns), layout.header)


def _row_to_scenario(template: Template, row: list[str], index: dict[str, int], path: Path, line: int,
                     n_columns: int, header: bool) -> Scenario | SkippedRow:
    layout = template.spec.table
    assert layout is not None
    if not any(cell.strip() for cell in row):
        return SkippedRow(file=str(path), line=line, reason="blank row")
    if (not header and len(row) != n_columns) or (header and len(row) < max(index.values()) + 1):
        return SkippedRow(file=str(path), line=line, reason=f"expected {n_columns} fields, found {len(row)}")
    values: dict[str, str] = {}
    meta: dict[str, str] = {}
    for column, i in index.items():
        name = layout.rename.get(column, column)
        cell = row[i].strip()
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
    problems = template.check_scenario(values)
    if problems:
        return SkippedRow(file=str(path), line=line, reason="; ".join(problems))
    return Scenario(
        id=content_id(template.name, values),
        template=template.name,
        variables=values,
        source={"kind": "table", "file": path.name, "line": line, **({"row": meta} if meta else {})},
    )
