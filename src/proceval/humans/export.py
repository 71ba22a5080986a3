"""Write the stored answers as the long table ``proceval analyze --humans`` reads (docs/formats.md).

One row per answer: ``participant, item_id, response, rt_ms`` then ``condition, scenario_id, list, position,
option_order, comment, session, study_id, prolific_session, pilot, completed, attention_passed, answered_at``.
By default only completed, non-pilot sessions and only dataset items (not attention checks) are written; every
row left out is counted in the returned :class:`ExportSummary`, never dropped silently.

CSV files are opened in spreadsheets, which run a cell that starts with ``=``, ``+``, ``-``, ``@``, a tab or a
carriage return as a formula: such text cells get a leading ``'`` (the OWASP rule against CSV injection), so
participant text like ``=HYPERLINK(...)`` shows as text. JSONL keeps every value exactly as stored.
"""

from __future__ import annotations

import csv
import json
import os
import re
import tempfile
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from proceval.errors import HumansError
from proceval.humans.storage import StudyStore

COLUMNS = [
    "participant", "item_id", "response", "rt_ms",
    "condition", "scenario_id", "list", "position", "option_order", "comment",
    "session", "study_id", "prolific_session", "pilot", "completed", "attention_passed", "answered_at",
]

Format = Literal["csv", "jsonl"]
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
NUMBER = re.compile(r"[+-]?\d+(\.\d+)?")  # a plain number is no formula: a rating of -2 stays -2


@dataclass
class ExportSummary:
    path: Path | None
    format: str
    rows: int = 0
    participants: int = 0
    excluded: dict[str, int] = field(default_factory=dict)  # reason -> rows left out
    kind: str = "answers"  # answers | participants

    def describe(self) -> str:
        if self.kind == "participants":
            text = f"{self.rows} participant{'s' * (self.rows != 1)}"
        else:
            text = (f"{self.rows} answer{'s' * (self.rows != 1)} from {self.participants} "
                    f"participant{'s' * (self.participants != 1)}")
        if self.excluded:
            text += "; left out: " + ", ".join(f"{n} {why}" for why, n in sorted(self.excluded.items()))
        return text


def export_rows(store: StudyStore, *, include_pilot: bool = False, include_incomplete: bool = False,
                include_checks: bool = False, summary: ExportSummary | None = None) -> Iterator[dict[str, Any]]:
    """The long-table rows (dicts keyed by :data:`COLUMNS`), counting what is left out in ``summary``."""
    summary = summary if summary is not None else ExportSummary(path=None, format="rows")
    # attention: per session, did every check answered so far come out right?
    passed: dict[int, bool] = defaultdict(lambda: True)
    has_check: set[int] = set()
    answers = list(store.iter_answers())
    for row in answers:
        if row["kind"] == "check":
            has_check.add(row["session_id"])
            passed[row["session_id"]] &= bool(row["correct"])
    participants: set[str] = set()
    excluded: dict[str, int] = defaultdict(int)
    for row in answers:
        if row["pilot"] and not include_pilot:
            excluded["pilot answers"] += 1
            continue
        completed = row["stage"] == "completed"
        if not completed and not include_incomplete:
            excluded["answers from unfinished sessions"] += 1
            continue
        if row["kind"] == "check" and not include_checks:
            excluded["attention-check answers"] += 1
            continue
        participants.add(row["participant"])
        yield {
            "participant": row["participant"],
            "item_id": row["item_id"],
            "response": row["response"],
            "rt_ms": row["rt_ms"],
            "condition": row["condition"],
            "scenario_id": row["scenario_id"],
            "list": row["list_index"],
            "position": row["position"],
            "option_order": row["option_order"],
            "comment": row["comment"],
            "session": row["public_id"],
            "study_id": row["study_id"],
            "prolific_session": row["prolific_session"],
            "pilot": bool(row["pilot"]),
            "completed": completed,
            "attention_passed": passed[row["session_id"]] if row["session_id"] in has_check else None,
            "answered_at": datetime.fromtimestamp(row["created_at"], UTC).isoformat(timespec="milliseconds"),
        }
        summary.rows += 1
    summary.participants = len(participants)
    summary.excluded = dict(excluded)


PARTICIPANT_COLUMNS = [
    "participant", "session", "study_id", "prolific_session", "list", "stage", "pilot", "check_attempts",
    "answers", "attention_passed", "started_at", "completed_at", "minutes",
]


def participant_rows(store: StudyStore, *, include_pilot: bool = False,
                     summary: ExportSummary | None = None) -> Iterator[dict[str, Any]]:
    """One row per session: who, where they got to, timing, attention, and the demographics answers
    (one ``demographic_<name>`` column per field answered by anyone)."""
    summary = summary if summary is not None else ExportSummary(path=None, format="rows")
    answers: dict[int, int] = defaultdict(int)
    passed: dict[int, bool] = {}
    for row in store.iter_answers():
        answers[row["session_id"]] += 1
        if row["kind"] == "check":
            passed[row["session_id"]] = passed.get(row["session_id"], True) and bool(row["correct"])
    excluded = 0
    for s in store.sessions():
        if s["pilot"] and not include_pilot:
            excluded += 1
            continue
        demographics = json.loads(s["demographics"]) if s["demographics"] else {}
        row = {
            "participant": s["participant"], "session": s["public_id"], "study_id": s["study_id"],
            "prolific_session": s["prolific_session"], "list": s["list_index"], "stage": s["stage"],
            "pilot": bool(s["pilot"]), "check_attempts": s["check_attempts"], "answers": answers[s["id"]],
            "attention_passed": passed.get(s["id"]),
            "started_at": _iso(s["created_at"]), "completed_at": _iso(s["completed_at"]),
            "minutes": round((s["completed_at"] - s["created_at"]) / 60, 2) if s["completed_at"] else None,
        }
        row.update({f"demographic_{k}": v for k, v in sorted(demographics.items())})
        summary.rows += 1
        yield row
    summary.participants = summary.rows
    summary.excluded = {"pilot sessions": excluded} if excluded else {}


def _iso(seconds: float | None) -> str | None:
    return datetime.fromtimestamp(seconds, UTC).isoformat(timespec="seconds") if seconds else None


def export_participants(db_url: str, out: str | os.PathLike[str], *, format: str | None = None,
                        include_pilot: bool = False) -> ExportSummary:
    """One row per session (:data:`PARTICIPANT_COLUMNS` then ``demographic_*``) to CSV or JSONL."""
    path = Path(out)
    fmt = _format_for(path, format)
    store = StudyStore(db_url, create=False)
    try:
        summary = ExportSummary(path=path, format=fmt, kind="participants")
        rows = list(participant_rows(store, include_pilot=include_pilot, summary=summary))
        extra = sorted({k for row in rows for k in row if k not in PARTICIPANT_COLUMNS})
        _write_atomic(path, rows, fmt, PARTICIPANT_COLUMNS + extra)
        return summary
    finally:
        store.close()


def _format_for(out: Path, fmt: str | None) -> Format:
    chosen = fmt or out.suffix.lstrip(".").lower()
    if chosen in ("csv", "jsonl"):
        return chosen  # type: ignore[return-value]
    raise HumansError(f"cannot tell the export format from {out.name!r}", file=out,
                      hint="name the file .csv or .jsonl, or pass --format csv|jsonl")


def _write_atomic(path: Path, rows: Iterable[dict[str, Any]], fmt: Format, columns: list[str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            write_rows(rows, handle, fmt, columns)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def spreadsheet_safe(value: Any) -> Any:
    """A CSV cell a spreadsheet shows as text: ``'`` before text that would start a formula."""
    if isinstance(value, str) and value.startswith(FORMULA_START) and not NUMBER.fullmatch(value):
        return "'" + value
    return "" if value is None else value


def write_rows(rows: Iterable[dict[str, Any]], handle: Any, fmt: Format, columns: list[str] = COLUMNS) -> None:
    if fmt == "csv":
        writer = csv.DictWriter(handle, fieldnames=columns, lineterminator="\n")
        writer.writeheader()
        for row in rows:
            writer.writerow({k: spreadsheet_safe(v) for k, v in row.items()})
    else:
        for row in rows:
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")


def export_responses(db_url: str, out: str | os.PathLike[str], *, format: str | None = None,
                     include_pilot: bool = False, include_incomplete: bool = False,
                     include_checks: bool = False) -> ExportSummary:
    """Export a study database to ``out`` (CSV or JSONL, by suffix or ``format``), written atomically."""
    path = Path(out)
    fmt = _format_for(path, format)
    store = StudyStore(db_url, create=False)
    try:
        summary = ExportSummary(path=path, format=fmt)
        _write_atomic(path, export_rows(store, include_pilot=include_pilot, include_incomplete=include_incomplete,
                                        include_checks=include_checks, summary=summary), fmt, COLUMNS)
        return summary
    finally:
        store.close()
