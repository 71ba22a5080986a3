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


def dataset_path_for(run_dir: Path, dataset_dir: Path) -> str:
    """How ``run.json`` records where the dataset lies: relative to the run folder when the two share a folder
    above them (so moving both together keeps it valid), else absolute; never relative to where the command
    was started. Readers try it relative to the run folder first (older runs: relative to their start folder)."""
    run_abs, data_abs = run_dir.resolve(), dataset_dir.resolve()
    common = Path(os.path.commonpath([run_abs, data_abs]))
    if common == Path(common.anchor):
        return str(data_abs)
    return os.path.relpath(data_abs, run_abs)


def settings_differences(previous: dict[str, Any], config: dict[str, Any], limit: int = 3) -> list[str]:
    """The settings of ``config`` that differ from the run manifest ``previous``, as ``name: old → new``.

    Nested settings are named by their path (``model.revision``); long values are shortened. The dataset's
    location is not a setting (a moved dataset resumes), its content hash is.
    """
    found: list[str] = []

    def short(value: Any) -> str:
        text = json.dumps(value, ensure_ascii=False, sort_keys=True)
        return text if len(text) <= 60 else text[:57] + "…"

    def walk(name: str, old: Any, new: Any) -> None:
        if isinstance(old, dict) and isinstance(new, dict):
            for key in [*old, *(k for k in new if k not in old)]:
                walk(f"{name}.{key}", old.get(key), new.get(key))
        elif old != new:
            found.append(f"{name}: {short(old)} → {short(new)}")

    for key, new in config.items():
        old = previous.get(key)
        if key == "dataset":
            new = {k: v for k, v in new.items() if k != "path"}
            old = {k: v for k, v in (old or {}).items() if k != "path"}
        walk(key, old, new)
    return found[:limit] + ([f"and {len(found) - limit} more"] if len(found) > limit else [])


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
