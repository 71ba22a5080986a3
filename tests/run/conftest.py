"""Fixtures for runner tests: a tiny real transformers model (random weights, built offline) and datasets."""

from __future__ import annotations

from pathlib import Path

import pytest

from proceval.dataset import Dataset, Item
from proceval.ids import content_id
from tests.conftest import choice_item, write_dataset
from tests.models.tinyhf import build_tiny_hf


@pytest.fixture(scope="session")
def tiny_hf_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_hf(tmp_path_factory.mktemp("tinyhf") / "model")


@pytest.fixture(scope="session")
def tiny_hf(tiny_hf_path: Path):
    from proceval.models import load_model

    return load_model(f"hf/{tiny_hf_path}", n_threads=1)  # tiny matrices: threads only contend


def rating_item(scenario: int) -> Item:
    sid = content_id("scenario", scenario)
    return Item(
        id=content_id("toy", sid, "rate"),
        template="toy",
        scenario_id=sid,
        condition={"belief": "true"},
        condition_name="true",
        question_name="permissible",
        text=f"Story number {scenario}.",
        question="What they did is morally permissible.",
        response={"type": "rating", "scale": {"min": 1, "max": 5,
                                              "labels": {"1": "strongly disagree", "5": "strongly agree"}}},
        answer=None,
    )


def three_option_item(scenario: int) -> Item:
    item = choice_item(scenario, {"belief": "three"}, answer="c")
    item.response = {"type": "choice", "options": [{"key": "a", "text": "box"}, {"key": "b", "text": "basket"},
                                                    {"key": "c", "text": "bag"}]}
    item.id = content_id("toy3", scenario)
    return item


@pytest.fixture
def mixed_dataset(tmp_path: Path) -> Dataset:
    """Two-option, three-option and rating items over 4 scenarios."""
    items: list[Item] = []
    for s in range(4):
        items += [choice_item(s, {"belief": lv}, answer="a" if lv == "true" else "b") for lv in ("true", "false")]
        items.append(three_option_item(s))
        items.append(rating_item(s))
    return write_dataset(tmp_path / "mixed", items, factors={"belief": ["true", "false", "three"]})
