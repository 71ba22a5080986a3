"""Items and datasets: the files every later stage reads.

A dataset directory holds

- ``items.jsonl``      one :class:`Item` per line, in generation order;
- ``scenarios.jsonl``  one filled scenario per line (``id``, ``template``, ``variables``, ``source``);
- ``template.yaml``    the exact template text that made the items (so the directory stands alone);
- ``manifest.json``    what made it: proceval version, template name and hash, source, seed, counts,
  skipped rows with reasons (:class:`Manifest`).

A dataset is identified by its content (:attr:`Dataset.content_hash`: its items and its template), not by
its manifest, which also records when and from where it was made: regenerating the same items gives the
same identity, so runs resume on it.

Directories are written to a temporary sibling and renamed at the end (:class:`DatasetWriter`), so an
interrupted generation never leaves a half-written dataset behind.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import orjson
from pydantic import BaseModel, ConfigDict, Field

from proceval.errors import DatasetError
from proceval.ids import content_id, file_sha256

if TYPE_CHECKING:  # heavy optional imports, only for type checkers
    import datasets
    import pandas as pd

ITEMS_FILE = "items.jsonl"
SCENARIOS_FILE = "scenarios.jsonl"
MANIFEST_FILE = "manifest.json"
TEMPLATE_FILE = "template.yaml"


@dataclass
class Item:
    """One test item: a scenario rendered under one condition, with one question.

    ``response`` is a plain dict, one of
      ``{"type": "choice", "options": [{"key": ..., "text": ...}, ...]}`` (canonical order),
      ``{"type": "rating", "scale": {"min": 1, "max": 5, "labels": {"1": ..., "5": ...}}}``,
      ``{"type": "free_text"}``.
    ``answer`` is the key of the correct option, or ``None`` where no answer is correct (ratings, free text).
    """

    id: str
    template: str
    scenario_id: str
    condition: dict[str, str | None]
    condition_name: str
    question_name: str
    text: str
    question: str
    response: dict[str, Any]
    answer: str | None
    metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def response_type(self) -> Literal["choice", "rating", "free_text"]:
        return self.response["type"]  # type: ignore[no-any-return]

    @property
    def options(self) -> list[dict[str, str]]:
        """Options in canonical order (empty unless a choice item)."""
        return list(self.response.get("options", []))

    def option_text(self, key: str) -> str:
        for option in self.options:
            if option["key"] == key:
                return option["text"]
        raise KeyError(key)

    @property
    def scale(self) -> tuple[int, int]:
        """(min, max) of a rating item."""
        scale = self.response["scale"]
        return int(scale["min"]), int(scale["max"])

    def to_dict(self) -> dict[str, Any]:
        # shallow on purpose: asdict's deep copy dominates the cost of writing 100k items
        return {
            "id": self.id,
            "template": self.template,
            "scenario_id": self.scenario_id,
            "condition": self.condition,
            "condition_name": self.condition_name,
            "question_name": self.question_name,
            "text": self.text,
            "question": self.question,
            "response": self.response,
            "answer": self.answer,
            "metadata": self.metadata,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Item:
        return cls(
            id=data["id"],
            template=data["template"],
            scenario_id=data["scenario_id"],
            condition=dict(data["condition"]),
            condition_name=data["condition_name"],
            question_name=data.get("question_name", "question"),
            text=data["text"],
            question=data["question"],
            response=dict(data["response"]),
            answer=data.get("answer"),
            metadata=dict(data.get("metadata") or {}),
        )


@dataclass
class Scenario:
    """A filling of a template's variables, from a lexicon, a table row or a writer model."""

    id: str
    template: str
    variables: dict[str, str]
    source: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def of(cls, template: str, variables: dict[str, str], source: dict[str, Any]) -> Scenario:
        """A scenario whose id is the content hash of its template name and variables (the one id rule)."""
        return cls(id=content_id(template, variables), template=template, variables=variables, source=source)

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "template": self.template, "variables": self.variables, "source": self.source}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Scenario:
        return cls(
            id=data["id"],
            template=data["template"],
            variables=dict(data["variables"]),
            source=dict(data.get("source") or {}),
        )


class SkippedRow(BaseModel):
    """An input row (or sampled scenario) that did not become a scenario, and why."""

    model_config = ConfigDict(extra="forbid")

    file: str | None = None
    line: int | None = None
    reason: str


class Manifest(BaseModel):
    """What made a dataset. Written as ``manifest.json``."""

    model_config = ConfigDict(extra="allow")

    proceval_version: str
    created_at: str = Field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))
    template: dict[str, Any]  # name, hash (sha256 of the template text), path it was loaded from
    source: dict[str, Any]  # kind (lexicon | table | writer) and its parameters (files, n, writer model...)
    seed: int | None = None
    factors: dict[str, list[str]] = Field(default_factory=dict)
    conditions: dict[str, dict[str, str | None]] = Field(default_factory=dict)
    n_scenarios: int = 0
    n_items: int = 0
    counts_per_condition: dict[str, int] = Field(default_factory=dict)
    counts_per_question: dict[str, int] = Field(default_factory=dict)
    skipped: list[SkippedRow] = Field(default_factory=list)
    recovered: list[SkippedRow] = Field(default_factory=list)


class Dataset:
    """A dataset directory, read lazily. ``Dataset.load(dir)`` checks it is one."""

    def __init__(self, path: Path, manifest: Manifest) -> None:
        self.path = path
        self.manifest = manifest
        self._items: list[Item] | None = None

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Dataset:
        root = Path(path)
        if not root.is_dir():
            raise DatasetError(
                "no such dataset directory",
                file=root,
                hint="make one with `proceval generate TEMPLATE --out DIR`",
            )
        manifest_path = root / MANIFEST_FILE
        if not manifest_path.is_file() or not (root / ITEMS_FILE).is_file():
            raise DatasetError(
                f"not a proceval dataset directory (it needs {MANIFEST_FILE} and {ITEMS_FILE})",
                file=root,
                hint="pass the --out directory of `proceval generate`",
            )
        try:
            manifest = Manifest.model_validate_json(manifest_path.read_text(encoding="utf-8"))
        except ValueError as exc:
            raise DatasetError(f"unreadable manifest: {exc}", file=manifest_path) from None
        return cls(root, manifest)

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def template_name(self) -> str:
        return str(self.manifest.template.get("name", ""))

    @cached_property
    def content_hash(self) -> str:
        """The dataset's identity in run manifests: a hash of its items and its template's text.

        Only what a subject is asked counts; ``created_at``, paths and other provenance do not.
        """
        return content_id(file_sha256(str(self.path / ITEMS_FILE)), self.manifest.template.get("hash"), length=64)

    def __len__(self) -> int:
        return self.manifest.n_items

    def iter_items(self) -> Iterator[Item]:
        """Stream items from disk without holding them all in memory."""
        items_path = self.path / ITEMS_FILE
        with items_path.open(encoding="utf-8") as f:
            for number, line in enumerate(f, start=1):
                if not line.strip():
                    continue
                try:
                    yield Item.from_dict(json.loads(line))
                except (ValueError, KeyError) as exc:
                    raise DatasetError(f"corrupt item: {exc}", file=items_path, line=number) from None

    def __iter__(self) -> Iterator[Item]:
        return iter(self.items)

    @property
    def items(self) -> list[Item]:
        if self._items is None:
            self._items = list(self.iter_items())
        return self._items

    def item_map(self) -> dict[str, Item]:
        return {item.id: item for item in self.items}

    def iter_scenarios(self) -> Iterator[Scenario]:
        path = self.path / SCENARIOS_FILE
        if not path.is_file():
            return
        with path.open(encoding="utf-8") as f:
            for line in f:
                if line.strip():
                    yield Scenario.from_dict(json.loads(line))

    @property
    def scenarios(self) -> list[Scenario]:
        return list(self.iter_scenarios())

    def template_text(self) -> str | None:
        path = self.path / TEMPLATE_FILE
        return path.read_text(encoding="utf-8") if path.is_file() else None

    def to_records(self) -> list[dict[str, Any]]:
        """Flat rows: one per item, condition factors as columns, response and metadata as JSON text."""
        rows = []
        for item in self.items:
            row = item.to_dict()
            condition = row.pop("condition")
            for factor, level in condition.items():
                row[f"factor_{factor}"] = level
            row["response"] = json.dumps(row["response"], ensure_ascii=False)
            row["metadata"] = json.dumps(row["metadata"], ensure_ascii=False)
            rows.append(row)
        return rows

    def to_pandas(self) -> pd.DataFrame:
        import pandas as pd

        return pd.DataFrame.from_records(self.to_records())

    def to_hf(self) -> datasets.Dataset:
        """A Hugging Face ``datasets.Dataset`` with the same flat rows as :meth:`to_pandas`."""
        import datasets

        return datasets.Dataset.from_list(self.to_records())


class DatasetWriter:
    """Writes a dataset directory atomically: to a temporary sibling, renamed into place on success.

    Use as a context manager; on an exception the temporary directory is removed and ``out`` is untouched.
    """

    def __init__(self, out: str | os.PathLike[str], *, overwrite: bool = False) -> None:
        self.out = Path(out)
        if self.out.exists() and not overwrite:
            raise DatasetError(
                "output directory already exists",
                file=self.out,
                hint="choose another --out, or pass --force to replace it",
            )
        self.out.parent.mkdir(parents=True, exist_ok=True)
        self.tmp = Path(tempfile.mkdtemp(prefix=f".{self.out.name}.", suffix=".tmp", dir=self.out.parent))
        self._items = (self.tmp / ITEMS_FILE).open("wb")
        self._scenarios = (self.tmp / SCENARIOS_FILE).open("wb")
        self.counts_per_condition: Counter[str] = Counter()
        self.counts_per_question: Counter[str] = Counter()
        self.n_items = 0
        self.n_scenarios = 0

    def add_scenario(self, scenario: Scenario) -> None:
        self._scenarios.write(orjson.dumps(scenario.to_dict()) + b"\n")
        self.n_scenarios += 1

    def add_item(self, item: Item) -> None:
        self._items.write(orjson.dumps(item.to_dict()) + b"\n")
        self.counts_per_condition[item.condition_name] += 1
        self.counts_per_question[item.question_name] += 1
        self.n_items += 1

    def write_template(self, text: str) -> None:
        (self.tmp / TEMPLATE_FILE).write_text(text, encoding="utf-8")

    def finish(self, manifest: Manifest) -> Path:
        """Close the files, write the manifest with the final counts and move the directory into place."""
        self._items.close()
        self._scenarios.close()
        manifest.n_items = self.n_items
        manifest.n_scenarios = self.n_scenarios
        manifest.counts_per_condition = dict(self.counts_per_condition)
        manifest.counts_per_question = dict(self.counts_per_question)
        (self.tmp / MANIFEST_FILE).write_text(manifest.model_dump_json(indent=2) + "\n", encoding="utf-8")
        replace_dir(self.tmp, self.out)
        return self.out

    def abort(self) -> None:
        self._items.close()
        self._scenarios.close()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def __enter__(self) -> DatasetWriter:
        return self

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        if exc_type is not None or self.tmp.exists():
            self.abort()


def replace_dir(new: Path, target: Path) -> None:
    """Move ``new`` to ``target``, replacing an existing ``target`` with as short a gap as the OS allows."""
    if target.exists():
        old = target.with_name(f".{target.name}.old")
        shutil.rmtree(old, ignore_errors=True)
        os.replace(target, old)
        os.replace(new, target)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(new, target)
