"""Responses as one tidy table: runs (and optionally human answers) joined to the items they answer.

Every analysis reads a :class:`ResponseData`: a pandas frame with one row per answer and the dataset the
answers belong to. Rows come from run directories (``responses.jsonl`` + ``run.json``, docs/formats.md) and
from the long human table. Columns:

``subject``, ``subject_kind`` (model | persona | human), ``participant`` (the persona or human id; the subject
for models), ``run`` (run directory name, or ``humans``), ``item_id``, ``scenario_id``, ``condition_name``,
``question_name``, ``response_type``, ``n_options``, ``answer``, ``choice``, ``correct`` (float 1/0 or NaN),
``verifier_score`` (a task verifier's score in [0, 1] of a free-text answer, else None),
``status``, ``first_shown``, ``probs`` (dict or None), ``rating``, ``expected_rating``, ``rt_ms`` and one column
``factor:<name>`` per condition factor.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from proceval.dataset import Dataset, Item
from proceval.errors import AnalysisError, HumansError, RunError
from proceval.run.io import RESPONSES_FILE, RUN_FILE, load_run, read_responses
from proceval.run.io import LoadedRun as RunInfo

FACTOR_PREFIX = "factor:"
HUMAN_SUBJECT = "humans"
COLUMNS = ["subject", "subject_kind", "participant", "run", "item_id", "strategy", "scoring", "choice", "correct",
           "status", "first_shown", "probs", "per_order", "rating", "expected_rating", "rt_ms", "scenario_id",
           "condition_name", "question_name", "response_type", "n_options", "answer"]


@dataclass
class ResponseData:
    """Everything analyses need: the tidy frame, the dataset, the runs and what was left out."""

    frame: pd.DataFrame
    dataset: Dataset
    runs: list[RunInfo]
    factors: list[str]
    humans_path: Path | None = None
    human_stats: dict[str, Any] = field(default_factory=dict)
    run_labels: dict[str, str] = field(default_factory=dict)  # run directory name → subject label in tables

    def unanswered_runs(self) -> dict[str, str]:
        """Runs with no answers (killed before the first, ``--limit 0``): run name → subject label. They have
        no rows in :attr:`frame`; tables that list subjects show them with zero answers."""
        answered = set(self.frame["run"])
        return {run.name: self.run_labels[run.name] for run in self.runs if run.name not in answered}

    @property
    def items(self) -> dict[str, Item]:
        return self.dataset.item_map()

    def subjects(self, kind: str | None = None) -> list[str]:
        frame = self.frame if kind is None else self.frame[self.frame["subject_kind"] == kind]
        return list(dict.fromkeys(frame["subject"]))

    @property
    def has_humans(self) -> bool:
        return bool((self.frame["subject_kind"] == "human").any())

    def coverage(self) -> list[dict[str, Any]]:
        """Per run: its subject, status, the dataset items it answered and whether that is all of them."""
        out = []
        for run in self.runs:
            split = run.info.get("split")  # a run of one split (`proceval run --split`) covers that split's items
            n_items = sum(i.condition_name == split for i in self.dataset.items) if split else len(self.dataset.items)
            answered = len({r["item_id"] for r in run.responses})
            status = run.info.get("status")
            out.append({"run": run.name, "subject": self.run_labels.get(run.name, run.subject),
                        "status": status, "responses": len(run.responses), "items_answered": answered,
                        "items_in_dataset": n_items, "limit": run.info.get("limit"),
                        "complete": answered >= n_items and status in (None, "complete")})
        return out

    def coverage_warnings(self) -> list[str]:
        """One sentence per run that did not answer every item of the dataset (or did not finish)."""
        lines = []
        for c in self.coverage():
            if c["complete"]:
                continue
            why = [f"limit {c['limit']}"] if c["limit"] is not None and c["limit"] < c["items_in_dataset"] else []
            if c["status"] not in (None, "complete"):
                why.append(f"status {c['status']}")
            because = f" ({', '.join(why)})" if why else ""
            lines.append(f"run {c['run']} answered {c['items_answered']} of the dataset's {c['items_in_dataset']} "
                         f"items{because}: its numbers cover only those items")
        return lines


def read_run(path: str | os.PathLike[str]) -> RunInfo:
    """Read a run directory with the run engine's reader (:func:`proceval.run.io.load_run`); a directory holding
    only ``responses.jsonl`` is a run with an empty manifest. Malformed lines are errors naming file and line."""
    return load_run(path, manifest_required=False)


def list_runs(root: str | os.PathLike[str] = ".", *, max_depth: int = 4) -> list[dict[str, Any]]:
    """Run directories under ``root`` (``root`` itself included), each described by its ``run.json``: path,
    status, subject, strategy, scoring, seed, limit, dataset template, items to answer, responses and
    invalid/error counts. Sorted by path; a ``run.json`` that cannot be read is listed with status
    ``unreadable``. Folders deeper than ``max_depth`` below ``root`` are not searched."""
    base = Path(root)
    if not base.is_dir():
        raise RunError("no such directory", file=base, hint="pass a folder that holds run directories")
    found: list[dict[str, Any]] = []
    for directory, subdirs, files in os.walk(base):
        here = Path(directory)
        depth = len(here.relative_to(base).parts)
        subdirs[:] = sorted(d for d in subdirs if not d.startswith(".")) if depth < max_depth else []
        if RUN_FILE not in files:
            continue
        subdirs[:] = []  # a run directory holds no runs
        try:
            info = json.loads((here / RUN_FILE).read_text(encoding="utf-8"))
            if not isinstance(info, dict):
                raise ValueError("not an object")
        except (OSError, ValueError):
            found.append({"path": str(here), "status": "unreadable"})
            continue
        counts = info.get("counts") or {}
        responses = counts.get("responses")
        if responses is None:  # killed before run.json recorded counts: count the answers written
            responses = len(read_responses(here / RESPONSES_FILE)[0])
        model = info.get("model") or {}
        found.append({
            "path": str(here), "status": info.get("status") or "unknown",
            "subject": model.get("spec") if isinstance(model, dict) else None,
            "strategy": info.get("strategy"), "scoring": info.get("scoring"), "seed": info.get("seed"),
            "limit": info.get("limit"), "template": (info.get("dataset") or {}).get("template"),
            "items": counts.get("items"), "responses": responses, "invalid": counts.get("invalid", 0),
            "errors": counts.get("errors", 0),
        })
    return sorted(found, key=lambda r: r["path"])


def _resolve_dataset(runs: list[RunInfo], dataset: str | os.PathLike[str] | Dataset | None) -> Dataset:
    hashes = {run.name: run.dataset_hash for run in runs}
    distinct = {h for h in hashes.values() if h}
    if len(distinct) > 1:
        listing = ", ".join(f"{name} → {(h or '?')[:12]}" for name, h in hashes.items())
        raise AnalysisError(
            f"these runs answered different datasets ({listing}); their results are not comparable",
            hint="analyse runs of one dataset together (one `proceval analyze` call per dataset)",
        )
    resolved: Dataset | None
    if isinstance(dataset, Dataset):
        resolved = dataset
    elif dataset is not None:
        resolved = Dataset.load(dataset)
    else:
        resolved = None
        for run in runs:
            recorded = (run.info.get("dataset") or {}).get("path")
            if not recorded:
                continue
            for candidate in (Path(recorded), run.path / recorded, run.path.parent / recorded):
                if (candidate / "manifest.json").is_file():
                    resolved = Dataset.load(candidate)
                    break
            if resolved is not None:
                break
        if resolved is None:
            raise AnalysisError(
                "cannot find the dataset these runs answered (run.json has no readable dataset.path)",
                file=runs[0].path / RUN_FILE,
                hint="pass --dataset DIR",
            )
    assert resolved is not None
    if distinct:
        (expected,) = distinct
        if resolved.content_hash != expected:
            raise AnalysisError(
                "the dataset is not the one the runs answered (its items or template differ) "
                f"(dataset {resolved.content_hash[:12]}, runs {expected[:12]})",
                file=resolved.path,
                hint="pass the dataset directory the runs were made from",
            )
    return resolved


def item_columns(item: Item, factors: list[str]) -> dict[str, Any]:
    row: dict[str, Any] = {
        "scenario_id": item.scenario_id,
        "condition_name": item.condition_name,
        "question_name": item.question_name,
        "response_type": item.response_type,
        "n_options": len(item.options) if item.response_type == "choice" else None,
        "answer": item.answer,
    }
    for factor in factors:
        level = item.condition.get(factor)
        row[FACTOR_PREFIX + factor] = None if level is None else str(level)
    return row


def _factors(dataset: Dataset) -> list[str]:
    factors = list(dataset.manifest.factors)
    for item in dataset.items:
        for name in item.condition:
            if name not in factors:
                factors.append(name)
    return factors


def _label_shared_subjects(rows: list[dict[str, Any]], runs: list[RunInfo]) -> dict[str, str]:
    """A subject answering in several runs (one model under two prompts, say) gets each run's name in its
    label, ``"local/m [cot-run]"``: otherwise every table would pool the runs into one row. Returns each run's
    label (a run without answers is labelled by its model spec, shared ones with the run's name too)."""
    names: dict[str, set[str]] = {}
    for run in runs:
        names.setdefault(run.subject, set()).add(run.name)
    for row in rows:
        names.setdefault(row["subject"], set()).add(row["run"])
    shared = {subject for subject, where in names.items() if len(where) > 1}
    for row in rows:
        if row["subject"] in shared:
            row["subject"] = f"{row['subject']} [{row['run']}]"
    return {run.name: f"{run.subject} [{run.name}]" if run.subject in shared else run.subject for run in runs}


def _run_rows(run: RunInfo, items: dict[str, Item], factors: list[str]) -> list[dict[str, Any]]:
    rows = []
    unknown = [r["item_id"] for r in run.responses if r["item_id"] not in items]
    if unknown:
        raise AnalysisError(
            f"{len(unknown)} responses name items that are not in the dataset (first: {unknown[0]})",
            file=run.path / RESPONSES_FILE,
            hint="the run was made from another dataset; pass the right --dataset",
        )
    for r in run.responses:
        item = items[r["item_id"]]
        correct = r.get("correct")
        subject = r.get("subject") or run.subject
        kind = r.get("subject_kind") or "model"
        participant = subject.split("#persona=", 1)[1] if "#persona=" in subject else subject
        row = {
            "subject": subject.split("#persona=", 1)[0] if kind == "persona" else subject,
            "subject_kind": kind,
            "participant": participant,
            "run": run.name,
            "item_id": item.id,
            "strategy": r.get("strategy"),
            "scoring": r.get("scoring"),
            "choice": r.get("choice"),
            "correct": float(correct) if correct is not None else float("nan"),
            "verifier_score": r.get("score"),  # a task verifier's score of a free-text answer
            "status": r.get("status", "ok"),
            "first_shown": r.get("first_shown"),
            "probs": r.get("probs"),
            "per_order": r.get("per_order"),
            "rating": r.get("rating"),
            "expected_rating": r.get("expected_rating"),
            "rt_ms": None,
        }
        row.update(item_columns(item, factors))
        rows.append(row)
    return rows


def read_humans(path: str | os.PathLike[str]) -> pd.DataFrame:
    """Read the long human table (CSV, TSV, JSONL or Parquet) and check its columns."""
    file = Path(path)
    if not file.is_file():
        raise HumansError("no such human data file", file=file)
    suffix = file.suffix.lower()
    try:
        if suffix == ".jsonl":
            table = pd.read_json(file, lines=True, dtype=False)
        elif suffix == ".parquet":
            table = pd.read_parquet(file)
        elif suffix == ".tsv":
            table = pd.read_csv(file, sep="\t", dtype=str, keep_default_na=False)
        else:
            table = pd.read_csv(file, dtype=str, keep_default_na=False)
    except (ValueError, OSError) as exc:
        raise HumansError(f"unreadable human data: {exc}", file=file) from None
    missing = [c for c in ("participant", "item_id", "response") if c not in table.columns]
    if missing:
        raise HumansError(
            f"missing column(s) {', '.join(missing)} (found: {', '.join(map(str, table.columns))})",
            file=file,
            hint="the long table needs participant, item_id, response and optionally rt_ms (docs/formats.md)",
        )
    return table


def load_responses(
    runs: Sequence[str | os.PathLike[str] | RunInfo],
    *,
    dataset: str | os.PathLike[str] | Dataset | None = None,
    humans: str | os.PathLike[str] | None = None,
) -> ResponseData:
    """Load run directories (and optionally the human long table) into one :class:`ResponseData`.

    Runs made from different datasets are refused. Human rows naming unknown items or giving responses that
    are not an option key / scale point are counted in ``human_stats`` (never dropped silently).
    """
    if not runs and humans is None:
        raise AnalysisError("nothing to analyse", hint="pass one or more run directories")
    infos = [r if isinstance(r, RunInfo) else read_run(r) for r in runs]
    names = Counter(run.name for run in infos)
    if any(count > 1 for count in names.values()):
        raise AnalysisError(
            "two run directories share a name: " + ", ".join(n for n, c in names.items() if c > 1),
            hint="give each run its own directory name (the name labels it in the report)",
        )
    if not infos and dataset is None:
        raise AnalysisError("human data alone needs --dataset DIR")
    resolved = _resolve_dataset(infos, dataset) if infos else Dataset.load(dataset)  # type: ignore[arg-type]
    items = resolved.item_map()
    factors = _factors(resolved)
    rows: list[dict[str, Any]] = []
    for run in infos:
        rows.extend(_run_rows(run, items, factors))
    labels = _label_shared_subjects(rows, infos)
    humans_path = Path(humans) if humans is not None else None
    stats: dict[str, Any] = {}
    if humans_path is not None:
        from proceval.analysis.human_rows import human_rows
        from proceval.humans.data import find_mapping, import_humans

        # a table in its own layout, with a mapping beside it (docs/families.md), is matched to items first
        mapping = find_mapping(humans_path)
        table = import_humans(humans_path, resolved, mapping).table if mapping else read_humans(humans_path)
        answers, stats = human_rows(table, items, factors, humans_path)
        rows.extend(answers)
    frame = pd.DataFrame.from_records(rows)
    for column in [*COLUMNS, *(FACTOR_PREFIX + f for f in factors)]:  # present even without answers
        if column not in frame:
            frame[column] = pd.Series(dtype=object)
    frame["correct"] = frame["correct"].astype(float)
    for column in ("rating", "expected_rating"):
        frame[column] = pd.to_numeric(frame[column], errors="coerce")
    return ResponseData(frame, resolved, infos, factors, humans_path, stats, labels)
