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

import orjson

from proceval.core.records import RecordError, check_response, check_run_manifest
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
    def name(self) -> str:
        """The directory's name: it labels the run in reports."""
        return self.path.name

    @property
    def dataset_hash(self) -> str | None:
        return (self.info.get("dataset") or {}).get("content_hash")

    @property
    def subject(self) -> str:
        """Who answered: the model spec, else the one subject of the answers, else the directory's name."""
        model = self.info.get("model") or {}
        if isinstance(model, dict) and model.get("spec"):
            return str(model["spec"])
        subjects = {r.get("subject") for r in self.responses if r.get("subject")}
        if len(subjects) == 1:
            return str(subjects.pop())
        return str(self.info.get("subject") or self.name)

    @property
    def complete(self) -> bool:
        return self.info.get("status") == "complete"

    def subjects(self) -> list[str]:
        return sorted({r["subject"] for r in self.responses})

    def to_pandas(self) -> Any:
        import pandas as pd

        return pd.DataFrame.from_records(self.responses)


def read_responses(path: Path) -> tuple[list[dict[str, Any]], int]:
    """Responses in file order, the last line per (subject, item) winning; and the number of torn lines.

    Each line is checked against :class:`~proceval.core.records.ResponseRecord`: a malformed one is a
    :class:`~proceval.core.records.RecordError` naming the file, line and field."""
    latest: dict[tuple[str, str], dict[str, Any]] = {}
    torn = 0
    if not path.is_file():
        return [], 0
    lines = path.read_bytes().split(b"\n")
    last = len(lines) - 1 if lines[-1] else len(lines) - 2  # index of the last line; a final one without "\n" may be torn
    for index, line in enumerate(lines):
        if not line.strip():
            continue
        try:
            record = orjson.loads(line)
        except orjson.JSONDecodeError:
            if index == last and lines[-1]:
                torn += 1  # the write a kill interrupted
                continue
            raise RunError("corrupt response line", file=path, line=index + 1,
                           hint="the run directory was edited by hand; restore it or start a new --out") from None
        if not isinstance(record, dict):
            raise RecordError("a response line is not a JSON object", file=path, line=index + 1)
        check_response(record, file=path, line=index + 1)
        key = response_key(record)
        latest.pop(key, None)
        latest[key] = record
    return list(latest.values()), torn


def load_run(path: str | os.PathLike[str], *, manifest_required: bool = True) -> LoadedRun:
    """Read a run directory written by :func:`proceval.run.run_dataset` (complete or not): ``run.json`` and
    ``responses.jsonl``, each checked against its model in :mod:`proceval.core.records`. The one reader of run
    directories; analyses read them through it too (``manifest_required=False``: a directory holding only
    ``responses.jsonl`` is a run with an empty manifest)."""
    root = Path(path)
    run_file, responses_file = root / RUN_FILE, root / RESPONSES_FILE
    if not root.is_dir() or not (run_file.is_file() or (not manifest_required and responses_file.is_file())):
        needs = RUN_FILE if manifest_required else f"{RESPONSES_FILE} or {RUN_FILE}"
        raise RunError(
            f"not a proceval run directory (it needs {needs})",
            file=root,
            hint="pass the --out directory of `proceval run`",
        )
    info: dict[str, Any] = {}
    if run_file.is_file():
        try:
            info = check_run_manifest(orjson.loads(run_file.read_bytes()), file=run_file)
        except orjson.JSONDecodeError as exc:
            raise RunError(f"unreadable run manifest: {exc}", file=run_file) from None
    responses, torn = read_responses(responses_file)
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
            f.write(json.dumps(check_response(response, file=path), ensure_ascii=False) + "\n")
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
        """Write one record (checked against :class:`~proceval.core.records.ResponseRecord` first)."""
        self._f.write(json.dumps(check_response(response, file=self.path), ensure_ascii=False) + "\n")
        self._f.flush()

    def close(self) -> None:
        self._f.close()
