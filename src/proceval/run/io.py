"""The run directory: ``run.json`` (what made the run, counts) and ``responses.jsonl`` (one line per answer).

Responses are appended and flushed one line at a time while a run goes, so a run killed at any moment
keeps every finished answer; a torn last line (a kill in the middle of a write) is dropped on resume and
redone. When a run completes, ``responses.jsonl`` is rewritten (atomically) in dataset order with exactly
one line per (subject, item).
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from proceval.errors import RunError

RUN_FILE = "run.json"
RESPONSES_FILE = "responses.jsonl"
CACHE_FILE = "calls.sqlite"

STATUSES = ("ok", "invalid", "too_long", "error")
DONE_STATUSES = ("ok", "invalid", "too_long")  # an `error` line is redone on resume


def response_key(response: dict[str, Any]) -> tuple[str, str]:
    return str(response["subject"]), str(response["item_id"])


@dataclass
class LoadedRun:
    """A run directory read back: ``info`` is ``run.json``, ``responses`` the answers (last line per key wins)."""

    path: Path
    info: dict[str, Any]
    responses: list[dict[str, Any]] = field(default_factory=list)
    torn_lines: int = 0  # lines that were not valid JSON (a killed write); never more than the last line

    @property
    def complete(self) -> bool:
        return self.info.get("status") == "complete"

    def subjects(self) -> list[str]:
        return sorted({r["subject"] for r in self.responses})

    def by_status(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for r in self.responses:
            counts[r["status"]] = counts.get(r["status"], 0) + 1
        return counts

    def to_pandas(self) -> Any:
        import pandas as pd

        return pd.DataFrame.from_records(self.responses)


def read_responses(path: Path) -> tuple[list[dict[str, Any]], int]:
    """Responses in file order, the last line per (subject, item) winning; and the number of torn lines."""
    latest: dict[tuple[str, str], dict[str, Any]] = {}
    torn = 0
    if not path.is_file():
        return [], 0
    with path.open(encoding="utf-8") as f:
        lines = f.readlines()
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
            key = response_key(record)
        except (ValueError, KeyError, TypeError):
            if number == len(lines) and not line.endswith("\n"):
                torn += 1  # the write a kill interrupted
                continue
            raise RunError("corrupt response line", file=path, line=number,
                           hint="the run directory was edited by hand; restore it or start a new --out") from None
        latest.pop(key, None)
        latest[key] = record
    return list(latest.values()), torn


def load_run(path: str | os.PathLike[str]) -> LoadedRun:
    """Read a run directory written by :func:`proceval.run.run_dataset` (complete or not)."""
    root = Path(path)
    run_file = root / RUN_FILE
    if not root.is_dir() or not run_file.is_file():
        raise RunError(
            f"not a proceval run directory (it needs {RUN_FILE})",
            file=root,
            hint="pass the --out directory of `proceval run`",
        )
    try:
        info = json.loads(run_file.read_text(encoding="utf-8"))
    except ValueError as exc:
        raise RunError(f"unreadable run manifest: {exc}", file=run_file) from None
    if not isinstance(info, dict):
        raise RunError("the run manifest is not a JSON object", file=run_file)
    responses, torn = read_responses(root / RESPONSES_FILE)
    return LoadedRun(path=root, info=info, responses=responses, torn_lines=torn)


def write_json_atomic(path: Path, value: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        json.dump(value, f, indent=2, ensure_ascii=False)
        f.write("\n")
    os.replace(tmp, path)


def write_responses_atomic(path: Path, responses: Iterable[dict[str, Any]]) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        for response in responses:
            f.write(json.dumps(response, ensure_ascii=False) + "\n")
    os.replace(tmp, path)


class ResponseLog:
    """Appends response lines, flushed after each, to ``responses.jsonl`` (after cutting a torn last line)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        if path.is_file():
            data = path.read_bytes()
            if data and not data.endswith(b"\n"):
                cut = data.rfind(b"\n") + 1
                with path.open("r+b") as f:
                    f.truncate(cut)
        self._f = path.open("a", encoding="utf-8")

    def append(self, response: dict[str, Any]) -> None:
        self._f.write(json.dumps(response, ensure_ascii=False) + "\n")
        self._f.flush()

    def close(self) -> None:
        self._f.close()
