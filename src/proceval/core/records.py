"""The records proceval writes and reads back, as pydantic models: one answer (:class:`ResponseRecord`, a line of
``responses.jsonl``), a run's manifest (:class:`RunManifest`, ``run.json``) and a dataset's manifest
(:class:`DatasetManifest`, ``manifest.json``). docs/formats.md describes every field.

Inside proceval a record stays the plain dict that was written (analyses read it as a table row); the models
check it where it crosses a file: a writer validates each record before it writes it, a reader validates each
line it reads and names the file and line of one that is malformed. Every model allows extra keys, so run
directories written by older or newer versions still read.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from proceval.dataset import Manifest, SkippedRow
from proceval.errors import RunError

__all__ = ["DatasetManifest", "RecordError", "ResponseRecord", "RunManifest", "SkippedRow"]

Status = Literal["ok", "invalid", "too_long", "error"]


class ResponseRecord(BaseModel):
    """One subject's answer to one item: a line of ``responses.jsonl``."""

    model_config = ConfigDict(extra="allow")

    item_id: str
    subject: str
    scenario_id: str | None = None
    condition_name: str | None = None
    question_name: str | None = None
    subject_kind: str | None = None  # model | persona | program | human
    persona: str | None = None
    position: int | None = None
    memory: list[str] | None = None
    memory_left_out: list[str] | None = None
    strategy: str | None = None
    scoring: str | None = None
    orders: list[list[str]] = Field(default_factory=list)
    per_order: list[dict[str, Any]] = Field(default_factory=list)
    probs: dict[str, float] | None = None
    choice: str | None = None
    rating: float | None = None
    rating_probs: dict[str, float] | None = None
    expected_rating: float | None = None
    correct: bool | None = None
    score: float | None = Field(None, ge=0, le=1)
    reason: str | None = None
    first_shown: str | None = None
    raw: str | None = None
    n_shots: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    latency_s: float = 0.0
    status: Status = "ok"
    error: str | None = None
    trajectory: list[dict[str, Any]] | None = None


class DatasetRef(BaseModel):
    model_config = ConfigDict(extra="allow")

    path: str | None = None
    content_hash: str | None = None
    template: str | None = None


class RunManifest(BaseModel):
    """What made a run and how far it got: ``run.json``. Only what a reader relies on is declared; the
    settings a run records (model identity, prompts, scoring, …) pass through as extra keys."""

    model_config = ConfigDict(extra="allow")

    proceval_version: str | None = None
    created_at: str | None = None
    status: str | None = None  # running | interrupted | failed | complete
    config_hash: str | None = None
    dataset: DatasetRef | None = None
    model: dict[str, Any] | None = None
    solver: str | dict[str, Any] | None = None
    seed: int | None = None
    limit: int | None = None
    subjects: list[dict[str, Any]] = Field(default_factory=list)
    sessions: list[dict[str, Any]] = Field(default_factory=list)
    counts: dict[str, Any] = Field(default_factory=dict)


# The dataset manifest is defined beside the dataset it describes (core may import dataset, never the reverse);
# its name here is the one the other records use.
DatasetManifest = Manifest


class RecordError(RunError):
    """A record that does not have the shape docs/formats.md describes."""


_RESPONSE = TypeAdapter(ResponseRecord)


def _describe(exc: ValidationError) -> str:
    first = exc.errors()[0]
    where = ".".join(str(p) for p in first["loc"]) or "record"
    more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
    return f"{where}: {first['msg']}{more}"


def check_response(record: dict[str, Any], *, file: Path | None = None, line: int | None = None
                   ) -> dict[str, Any]:
    """``record`` itself once it is a valid :class:`ResponseRecord`; else a :class:`RecordError` naming the
    field (and the file and line it came from)."""
    try:
        _RESPONSE.validate_python(record)
    except ValidationError as exc:
        raise RecordError(f"malformed response record: {_describe(exc)}", file=file, line=line,
                          hint="responses.jsonl lines have the fields of docs/formats.md") from None
    return record


def check_run_manifest(info: Any, *, file: Path | None = None) -> dict[str, Any]:
    """``info`` (a parsed ``run.json``) once it is a valid :class:`RunManifest`; else a :class:`RecordError`."""
    if not isinstance(info, dict):
        raise RecordError("the run manifest is not a JSON object", file=file)
    try:
        RunManifest.model_validate(info)
    except ValidationError as exc:
        raise RecordError(f"malformed run manifest: {_describe(exc)}", file=file,
                          hint="run.json has the fields of docs/formats.md") from None
    return info
