"""Import answers that models gave elsewhere (a paper's released outputs) as a run directory.

The answers are matched to items exactly as human answers are (:mod:`proceval.humans.data`: the same mapping,
option texts, labels and keys), with ``participant`` naming the model column (``model:`` is accepted), or one
model per file when the table has no such column. The result is written with the run engine's writers
(:mod:`proceval.run.io`), one line per (model, item) like ``proceval run``, so ``proceval analyze`` reads it
like any other run; ``run.json`` records where the answers came from (files and their SHA-256, the mapping).

Nothing is dropped silently: an answer that names no option is written with status ``invalid`` (and the
reason); an answer that names no item cannot be written to a run and is listed, with its file and line, in
``run.json`` under ``import.unmatched``; a second answer by one model to one item replaces the first and is
counted.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from proceval import __version__
from proceval.dataset import Dataset, Item
from proceval.errors import HumansError
from proceval.humans.data import HumanMapping, find_mapping, import_humans, load_mapping
from proceval.ids import file_sha256
from proceval.run.io import RESPONSES_FILE, RUN_FILE, write_json_atomic, write_responses_atomic

IMPORTED = "imported"  # the strategy and scoring of an imported answer: proceval did not prompt the model


@dataclass
class ModelImport:
    """The run directory written and what happened to every answer."""

    path: Path
    subjects: list[str]
    counts: dict[str, int]
    unmatched: list[dict[str, Any]] = field(default_factory=list)

    def summary(self) -> str:
        c = self.counts
        return (f"{c['answers']} answers from {len(self.subjects)} model(s) ({', '.join(self.subjects)}): "
                f"{c['ok']} usable, {c['invalid']} name no option (written as invalid), "
                f"{c['no_item']} name no item (not written), {c['replaced']} repeated (last kept)")


def _record(item: Item, subject: str, response: str, reason: str) -> dict[str, Any]:
    """One line of responses.jsonl, with the fields the runner writes (docs/formats.md)."""
    choice, rating, status, correct = None, None, "ok", None
    if reason:
        status = "invalid"
    elif item.response_type == "choice":
        choice = response
        correct = None if item.answer is None else choice == item.answer
    elif item.response_type == "rating":
        low, high = item.scale
        try:
            rating = float(response)
        except ValueError:
            rating = None
        if rating is None or not low <= rating <= high:
            rating, status, reason = None, "invalid", f"rating {response!r} is not on the scale {low}-{high}"
    return {
        "item_id": item.id, "scenario_id": item.scenario_id, "condition_name": item.condition_name,
        "question_name": item.question_name, "subject": subject, "subject_kind": "model", "position": 0,
        "strategy": IMPORTED, "scoring": IMPORTED, "orders": [], "per_order": [], "probs": None,
        "choice": choice, "rating": rating, "rating_probs": None, "expected_rating": rating, "correct": correct,
        "first_shown": None, "raw": response, "n_shots": 0, "prompt_tokens": 0, "completion_tokens": 0,
        "latency_s": 0.0, "status": status, "error": reason or None,
    }


def import_model_answers(
    files: Sequence[str | os.PathLike[str]],
    dataset: str | os.PathLike[str] | Dataset,
    out: str | os.PathLike[str],
    *,
    mapping: str | os.PathLike[str] | dict[str, Any] | HumanMapping | None = None,
    models: Sequence[str | None] | None = None,
) -> ModelImport:
    """Write the answers in ``files`` as the run directory ``out``.

    ``mapping`` defaults to the file beside each data file (``DATA.mapping.yaml``). ``models[k]`` names the
    model of ``files[k]`` when the table has no model column (``None``: take it from the column).
    """
    ds = dataset if isinstance(dataset, Dataset) else Dataset.load(dataset)
    if not files:
        raise HumansError("no model answer files given")
    names = list(models) if models is not None else [None] * len(files)
    if len(names) != len(files):
        raise HumansError(f"{len(files)} files but {len(names)} model names",
                          hint="name one model per file, or none and give the model column in the mapping")
    root = Path(out)
    if (root / RESPONSES_FILE).exists():
        raise HumansError("the output directory already holds a run", file=root,
                          hint="choose a new --out (an import is written once, from its files)")
    items = ds.item_map()
    latest: dict[tuple[str, str], dict[str, Any]] = {}
    unmatched: list[dict[str, Any]] = []
    sources: list[dict[str, Any]] = []
    counts: Counter[str] = Counter()
    for path, name in zip(map(Path, files), names, strict=True):
        spec_source = mapping if mapping is not None else find_mapping(path)
        if spec_source is None:
            raise HumansError("no mapping for this model answer file", file=path,
                              hint=f"write one beside it as {path.stem}.mapping.yaml (see docs/families.md)")
        spec = load_mapping(spec_source)
        result = import_humans(path, ds, spec, participant=name)
        sources.append({"path": str(path), "sha256": file_sha256(str(path)), "rows": result.stats["rows"],
                        "model": name, "mapping": spec.model_dump(exclude_defaults=True)})
        for row in result.table.to_dict("records"):
            counts["answers"] += 1
            item = items.get(str(row["item_id"]))
            if item is None:
                counts["no_item"] += 1
                unmatched.append({"file": str(path), "line": int(row["source_line"]), "model": row["participant"],
                                  "reason": row["unmatched"]})
                continue
            key = (str(row["participant"]), item.id)
            counts["replaced"] += key in latest
            latest[key] = _record(item, key[0], str(row["response"]), str(row["unmatched"]))
    subjects = list(dict.fromkeys(subject for subject, _ in latest))
    order = {item_id: k for k, item_id in enumerate(items)}
    records = sorted(latest.values(), key=lambda r: (subjects.index(r["subject"]), order[r["item_id"]]))
    statuses = Counter(r["status"] for r in records)
    summary = {"answers": counts["answers"], "ok": statuses["ok"], "invalid": statuses["invalid"],
               "no_item": counts["no_item"], "replaced": counts["replaced"]}
    root.mkdir(parents=True, exist_ok=True)
    write_responses_atomic(root / RESPONSES_FILE, records)
    write_json_atomic(root / RUN_FILE, {
        "proceval_version": __version__,
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "status": "complete",
        "dataset": {"path": str(ds.path), "content_hash": ds.content_hash, "template": ds.template_name},
        "model": None,
        "subjects": [{"id": s, "kind": "model"} for s in subjects],
        "strategy": IMPORTED,
        "scoring": IMPORTED,
        "import": {"files": sources, **summary, "unmatched": unmatched},
        "counts": {"items": len(records), "responses": len(records), "ok": statuses["ok"],
                   "invalid": statuses["invalid"], "too_long": 0, "errors": 0},
    })
    return ModelImport(root, subjects, summary, unmatched)
