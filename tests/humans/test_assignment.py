"""Lists and plans: Latin-square balance, list size bounds, determinism, where attention checks go."""

from __future__ import annotations

from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from proceval.dataset import Item
from proceval.errors import HumansError
from proceval.humans.assignment import build_lists, check_positions, least_filled, make_plan
from proceval.humans.config import StudyConfig
from proceval.ids import content_id


def grid(n_scenarios: int, n_conditions: int, n_questions: int = 1) -> list[Item]:
    items = []
    for s in range(n_scenarios):
        for c in range(n_conditions):
            for q in range(n_questions):
                items.append(Item(
                    id=content_id(s, c, q), template="t", scenario_id=f"s{s}", condition={"f": f"c{c}"},
                    condition_name=f"c{c}", question_name=f"q{q}", text="story", question="q?",
                    response={"type": "choice", "options": [{"key": "a", "text": "A"}, {"key": "b", "text": "B"},
                                                            {"key": "c", "text": "C"}]},
                    answer="a"))
    return items


@settings(max_examples=60, deadline=None)
@given(n_scenarios=st.integers(1, 12), n_conditions=st.integers(1, 6), n_questions=st.integers(1, 3),
       per_participant=st.one_of(st.none(), st.integers(1, 40)))
def test_latin_square_lists_cover_every_cell_once_with_one_condition_per_scenario(
        n_scenarios: int, n_conditions: int, n_questions: int, per_participant: int | None) -> None:
    items = grid(n_scenarios, n_conditions, n_questions)
    config = StudyConfig(items_per_participant=per_participant)
    if per_participant is not None and per_participant < n_questions:
        with pytest.raises(HumansError, match="items_per_participant"):
            build_lists(items, config)
        return
    study = build_lists(items, config)
    by_id = {item.id: item for item in items}
    # every item in exactly one list: the square covers each scenario × condition cell once
    assert Counter(i for lst in study.lists for i in lst) == Counter(item.id for item in items)
    for lst in study.lists:
        conditions_per_scenario: dict[str, set[str]] = {}
        for item_id in lst:
            conditions_per_scenario.setdefault(by_id[item_id].scenario_id, set()).add(by_id[item_id].condition_name)
        assert all(len(c) == 1 for c in conditions_per_scenario.values())
        if per_participant is not None:
            assert len(lst) <= per_participant
    if per_participant is None:
        assert len(study.lists) == n_conditions
        # each list is balanced over conditions up to one scenario's worth
        for lst in study.lists:
            counts = Counter(by_id[i].condition_name for i in lst)
            assert max(counts.values()) - min(counts.get(f"c{c}", 0) for c in range(n_conditions)) <= n_questions


def test_latin_square_rotates_conditions_across_lists() -> None:
    study = build_lists(grid(4, 2), StudyConfig())
    by_id = {item.id: item for item in grid(4, 2)}
    first = [(by_id[i].scenario_id, by_id[i].condition_name) for i in study.lists[0]]
    second = [(by_id[i].scenario_id, by_id[i].condition_name) for i in study.lists[1]]
    assert first == [("s0", "c0"), ("s1", "c1"), ("s2", "c0"), ("s3", "c1")]
    assert second == [("s0", "c1"), ("s1", "c0"), ("s2", "c1"), ("s3", "c0")]


def test_missing_cells_are_reported_not_hidden() -> None:
    items = [i for i in grid(3, 2) if not (i.scenario_id == "s1" and i.condition_name == "c1")]
    study = build_lists(items, StudyConfig())
    assert study.missing_cells == [("s1", "c1")]
    assert sum(len(lst) for lst in study.lists) == len(items)


def test_an_empty_dataset_is_an_error() -> None:
    with pytest.raises(HumansError, match="no items"):
        build_lists([], StudyConfig())


@given(st.lists(st.integers(0, 50), min_size=1, max_size=20))
def test_least_filled_picks_the_lowest_index_among_the_emptiest(counts: list[int]) -> None:
    chosen = least_filled(counts)
    assert counts[chosen] == min(counts)
    assert chosen == counts.index(min(counts))


@given(st.integers(0, 60), st.integers(0, 5))
def test_checks_are_spread_and_never_first(n_items: int, n_checks: int) -> None:
    positions = check_positions(n_items, n_checks)
    assert len(positions) == n_checks
    assert positions == sorted(positions)
    if n_items:
        assert all(1 <= p <= n_items for p in positions)


def test_plans_are_deterministic_per_participant_and_differ_between_participants() -> None:
    items = grid(10, 1)
    config = StudyConfig.model_validate({"attention_checks": [
        {"id": "c1", "question": "Pick b", "options": [{"key": "a", "text": "A"}, {"key": "b", "text": "B"}],
         "answer": "b"}]})
    one = make_plan(items, config.attention_checks, config, "participant-1")
    assert one == make_plan(items, config.attention_checks, config, "participant-1")
    two = make_plan(items, config.attention_checks, config, "participant-2")
    assert one != two
    for plan in (one, two):
        assert sorted(t["item"] for t in plan if "item" in t) == sorted(i.id for i in items)
        assert [t["check"] for t in plan if "check" in t] == ["c1"]
        assert "check" not in plan[0]
        assert all(sorted(t["order"]) == (["a", "b", "c"] if "item" in t else ["a", "b"]) for t in plan)
    # option orders are counterbalanced: over many participants, each option is shown first
    firsts = Counter(make_plan(items, [], config, f"p{n}")[0]["order"][0] for n in range(60))
    assert set(firsts) == {"a", "b", "c"} and min(firsts.values()) >= 8


def test_without_shuffling_the_plan_keeps_the_list_order() -> None:
    items = grid(5, 1)
    config = StudyConfig(shuffle_trials=False, shuffle_options=False)
    plan = make_plan(items, [], config, "p")
    assert [t["item"] for t in plan] == [i.id for i in items]
    assert all(t["order"] == ["a", "b", "c"] for t in plan)
