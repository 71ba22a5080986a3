"""Shared fixtures. Small real datasets built through the library's own writer."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from proceval import __version__
from proceval.dataset import Dataset, DatasetWriter, Item, Manifest, Scenario
from proceval.ids import content_id

REPO = Path(__file__).resolve().parents[1]
# Public data the tests read: copies shipped in examples/ (attribution in each folder's SOURCES.md).
DATA = REPO / "examples"


def write_dataset(out: Path, items: list[Item], scenarios: list[Scenario] | None = None,
                  template: str = "toy", factors: dict[str, list[str]] | None = None) -> Dataset:
    """Write ``items`` as a dataset directory at ``out`` and load it back."""
    with DatasetWriter(out) as writer:
        for scenario in scenarios or []:
            writer.add_scenario(scenario)
        for item in items:
            writer.add_item(item)
        conditions = {item.condition_name: item.condition for item in items}
        writer.finish(Manifest(
            proceval_version=__version__,
            template={"name": template, "hash": content_id(template)},
            source={"kind": "test"},
            seed=0,
            factors=factors or {},
            conditions=conditions,
        ))
    return Dataset.load(out)


def choice_item(scenario: int, condition: dict[str, Any], answer: str = "a",
                text: str | None = None, options: tuple[str, str] = ("yes", "no")) -> Item:
    name = "_".join(str(v) for v in condition.values())
    sid = content_id("scenario", scenario)
    return Item(
        id=content_id("toy", sid, name, "q"),
        template="toy",
        scenario_id=sid,
        condition=dict(condition),
        condition_name=name,
        question_name="q",
        text=text or f"Story number {scenario} in condition {name}.",
        question="Which is it?",
        response={"type": "choice", "options": [{"key": "a", "text": options[0]}, {"key": "b", "text": options[1]}]},
        answer=answer,
    )


@pytest.fixture
def tiny_choice_dataset(tmp_path: Path) -> Dataset:
    """6 scenarios × 2 conditions of a two-option choice item; the correct option differs by condition."""
    items = [
        choice_item(s, {"belief": level}, answer="a" if level == "true" else "b")
        for s in range(6)
        for level in ("true", "false")
    ]
    return write_dataset(tmp_path / "tiny", items, factors={"belief": ["true", "false"]})
