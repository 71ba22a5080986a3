"""The BigToM import: 200 published rows → 5,000 items, answers derived from the causal structure."""

from __future__ import annotations

import csv
from collections import Counter
from pathlib import Path

import pytest

from proceval.dataset import Dataset, Item
from proceval.generate import generate
from tests.conftest import DATA

BIGTOM = DATA / "bigtom" / "bigtom.csv"


@pytest.fixture(scope="module")
def bigtom(tmp_path_factory: pytest.TempPathFactory) -> Dataset:
    return generate("tom", out=tmp_path_factory.mktemp("bt") / "bigtom", from_files=[BIGTOM], progress=False)


@pytest.fixture(scope="module")
def rows() -> list[list[str]]:
    with BIGTOM.open(newline="", encoding="utf-8") as f:
        return [[cell.strip() for cell in row] for row in csv.reader(f, delimiter=";")]


def items_of(dataset: Dataset, scenario_line: int) -> dict[str, Item]:
    sid = next(s.id for s in dataset.scenarios if s.source["line"] == scenario_line)
    return {i.condition_name: i for i in dataset.items if i.scenario_id == sid}


def answer_text(item: Item) -> str:
    assert item.answer is not None
    return item.option_text(item.answer)


def test_exactly_5000_items_200_per_condition(bigtom: Dataset) -> None:
    assert len(bigtom) == 5000
    assert bigtom.manifest.n_scenarios == 200
    assert bigtom.manifest.skipped == []
    counts = bigtom.manifest.counts_per_condition
    assert len(counts) == 25
    assert set(counts.values()) == {200}
    assert Counter(i.condition_name for i in bigtom.items) == counts


def test_forward_belief_answers_follow_perception(bigtom: Dataset, rows: list[list[str]]) -> None:
    for line in (1, 57, 200):
        row, items = rows[line - 1], items_of(bigtom, line)
        tb, fb = items["shown_forward_belief_true_belief"], items["shown_forward_belief_false_belief"]
        story = row[0]
        assert tb.text == f"{story} {row[1]}"  # full story + aware of event
        assert fb.text == f"{story} {row[2]}"  # full story + not aware of event
        assert tb.question == fb.question == row[5]
        assert answer_text(tb) == row[8]  # belief answer aware
        assert answer_text(fb) == row[11]  # belief answer not aware


def test_hidden_initial_belief_drops_the_fourth_sentence(bigtom: Dataset, rows: list[list[str]]) -> None:
    row, items = rows[0], items_of(bigtom, 1)
    hidden = items["hidden_forward_belief_true_belief"].text
    assert "Noor believes that the milk pitcher contains oatmilk." not in hidden
    assert "Noor believes that the milk pitcher contains oatmilk." in items["shown_forward_belief_true_belief"].text
    assert hidden.startswith("Noor is working as a barista at a busy coffee shop.")
    assert hidden.endswith(row[1])


def test_forward_action_and_controls(bigtom: Dataset, rows: list[list[str]]) -> None:
    row, items = rows[1], items_of(bigtom, 2)
    tb = items["shown_forward_action_true_belief"]
    assert tb.question == row[7]
    assert answer_text(tb) == row[10]  # action answer aware
    assert answer_text(items["shown_forward_action_false_belief"]) == row[13]
    for control, awareness in (("true_control", row[15]), ("false_control", row[16])):
        item = items[f"shown_forward_action_{control}"]
        assert row[14] in item.text and item.text.endswith(awareness)  # random event + (not) aware of it
        assert "changes the label" not in item.text  # the causal event is replaced, not added
        assert answer_text(item) == row[13]  # the world did not change: the not-aware action


def test_backward_belief_reads_the_action(bigtom: Dataset, rows: list[list[str]]) -> None:
    row, items = rows[2], items_of(bigtom, 3)
    tb, fb = items["hidden_backward_belief_true_belief"], items["hidden_backward_belief_false_belief"]
    assert tb.text.endswith(row[3]) and fb.text.endswith(row[4])  # action aware / not aware
    assert row[1] not in tb.text  # the awareness sentence is not shown
    assert answer_text(tb) == row[8]
    assert answer_text(fb) == row[11]
    tc = items["hidden_backward_belief_true_control"]
    assert row[14] in tc.text and tc.text.endswith(row[4])
    assert answer_text(tc) == row[11]


def test_percept_to_belief_ends_at_the_percept(bigtom: Dataset, rows: list[list[str]]) -> None:
    row, items = rows[0], items_of(bigtom, 1)
    item = items["percept_to_belief"]
    assert item.text == (
        "Noor is working as a barista at a busy coffee shop. Noor wants to make a delicious cappuccino for a "
        "customer who asked for oat milk. Noor grabs a milk pitcher and fills it with oat milk."
    )
    # no event happened: the belief is the initial one (the released code marked the aware answer)
    assert answer_text(item) == row[11]
    assert item.condition == {"init_belief": "hidden", "inference": "percept_to_belief", "belief": None}


def test_options_are_canonical_and_answers_balanced(bigtom: Dataset) -> None:
    assert all([o["key"] for o in i.options] == ["aware", "not_aware"] for i in bigtom.items)
    answers = Counter(i.answer for i in bigtom.items)
    # aware is correct exactly in the true-belief conditions: 2 × 3 × 200
    assert answers["aware"] == 1200 and answers["not_aware"] == 3800


def test_manifest_records_provenance(bigtom: Dataset) -> None:
    m = bigtom.manifest
    assert m.template["name"] == "tom" and len(m.template["hash"]) == 64
    assert m.source == {"kind": "table", "files": [str(BIGTOM)]}
    assert m.factors["belief"] == ["true_belief", "false_belief", "true_control", "false_control"]
    assert m.conditions["percept_to_belief"]["inference"] == "percept_to_belief"
    assert (Path(bigtom.path) / "template.yaml").read_text(encoding="utf-8").startswith("# Theory of mind")


def test_ids_are_stable_across_runs(bigtom: Dataset, tmp_path: Path) -> None:
    again = generate("tom", out=tmp_path / "again", from_files=[BIGTOM], progress=False)
    assert [i.id for i in again.items] == [i.id for i in bigtom.items]
    assert len({i.id for i in again.items}) == 5000
