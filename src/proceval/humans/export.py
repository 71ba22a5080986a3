"""Write the stored answers as the long table ``proceval analyze --humans`` reads (docs/formats.md).

One row per answer: ``participant, item_id, response, rt_ms`` then ``condition, scenario_id, list, position,
option_order, comment, session, study_id, prolific_session, pilot, completed, attention_passed, answered_at``.
By default only completed, non-pilot sessions and only dataset items (not attention checks) are written; every
row left out is counted in the returned :class:`ExportSummary`, never dropped silently.
"""

from __future__ import annotations

import csv
import json
import os
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


@dataclass
class ExportSummary:
    path: Path | None
    format: str
    rows: int = 0
    participants: int = 0
    excluded: dict[str, int] = field(default_factory=dict)  # reason -> rows left out

    def describe(self) -> str:
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


def _format_for(out: Path, fmt: str | None) -> Format:
    chosen = fmt or out.suffix.lstrip(".").lower()
    if chosen in ("csv", "jsonl"):
        return chosen  # type: ignore[return-value]
    raise HumansError(f"cannot tell the export format from {out.name!r}", file=out,
                      hint="name the file .csv or .jsonl, or pass --format csv|jsonl")


def write_rows(rows: Iterable[dict[str, Any]], handle: Any, fmt: Format) -> None:
    if fmt == "csv":
        writer = csv.DictWriter(handle, fieldnames=COLUMNS, lineterminator="\n")
        writer.writeheader()
        for row in rows:
            writer.writerow({k: ("" if v is None else v) for k, v in row.items()})
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
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
                write_rows(export_rows(store, include_pilot=include_pilot, include_incomplete=include_incomplete,
                                       include_checks=include_checks, summary=summary), handle, fmt)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return summary
    finally:
        store.close()
