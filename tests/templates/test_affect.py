"""The affective-cognition templates: emotion from appraisal × outcome, and the published text design."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from proceval.generate import generate
from proceval.templates import load_template
from tests.conftest import DATA

AFFECT = DATA / "affective"

# Hand-written cases: (appraisal, goal/belief, outcome) → emotion.
GOAL_CONTROL = {
    ("control", "goal_1", "outcome_1"): "joyful",
    ("control", "goal_2", "outcome_2"): "joyful",
    ("control", "goal_1", "outcome_2"): "frustrated",
    ("control", "goal_2", "outcome_1"): "frustrated",
    ("no_control", "goal_1", "outcome_1"): "grateful",
    ("no_control", "goal_2", "outcome_2"): "grateful",
    ("no_control", "goal_1", "outcome_2"): "disappointed",
    ("no_control", "goal_2", "outcome_1"): "disappointed",
}
SAFETY_EXPECTED = {
    ("expected", "belief_1", "outcome_1"): "relieved",  # expected adversity, the event believed safe happened
    ("expected", "belief_2", "outcome_1"): "resigned",
    ("unexpected", "belief_2", "outcome_2"): "surprised",
    ("unexpected", "belief_1", "outcome_2"): "devastated",
}


@pytest.mark.parametrize(("name", "second", "cases"), [
    ("affect_goal_control", "goal", GOAL_CONTROL),
    ("affect_safety_expected", "belief", SAFETY_EXPECTED),
])
def test_emotion_follows_appraisal_and_outcome(name: str, second: str, cases: dict) -> None:  # type: ignore[type-arg]
    template = load_template(name)
    for (appraisal, other, outcome), emotion in cases.items():
        levels = {"inference": "emotion", "appraisal": appraisal, second: other, "outcome": outcome}
        (condition,) = [c for c in template.conditions if c.levels == levels]
        assert condition.derived["emotion"] == emotion
        assert condition.questions[0][1] == emotion  # the emotion question's correct option
        # the inverse inferences: given the emotion, the hidden factor's level is the correct answer
        for hidden, level in (("outcome", outcome), ("appraisal", appraisal), (second, other)):
            inverse = template.condition(condition.name.replace("emotion_", f"{hidden}_", 1))
            assert inverse.derived["emotion"] == emotion
            assert inverse.questions[0][1] == level


def test_hidden_factor_is_not_shown(tmp_path: Path) -> None:
    ds = generate("affect_goal_control", out=tmp_path / "gc", from_files=[AFFECT / "goal_control.csv"],
                  progress=False)
    for item in ds.items:
        hidden = item.condition["inference"]
        shown = set(item.metadata["segments"])
        if hidden == "emotion":
            assert "feels" not in item.question
        else:
            assert f"feels {item.metadata['derived']['emotion']}." in item.question
        if hidden == "outcome":
            assert not shown & {"outcome_1", "outcome_2"}
        if hidden == "appraisal":
            assert not shown & {"control", "no_control"}
        if hidden == "goal":
            assert not shown & {"goal_1", "goal_2"}


def test_published_text_design_has_640_items(tmp_path: Path) -> None:
    per_type: Counter[str] = Counter()
    per_emotion: Counter[str] = Counter()
    total = 0
    for domain in ("goal_control", "safety_expected"):
        ds = generate(f"affect_{domain}", out=tmp_path / domain, from_files=[AFFECT / f"{domain}.csv"],
                      progress=False)
        assert ds.manifest.n_scenarios == 10 and not ds.manifest.skipped
        assert len(ds.manifest.counts_per_condition) == 32
        assert set(ds.manifest.counts_per_condition.values()) == {10}  # every condition once per scenario
        total += ds.manifest.n_items
        for item in ds.items:
            per_type[item.condition["inference"]] += 1
            per_emotion[item.metadata["derived"]["emotion"]] += 1
    assert total == 640
    # 160 items per inference type: emotion (goal_control 80 + safety_expected 80), outcome, appraisal, and
    # the goal (goal_control) / safety belief (safety_expected) questions
    assert per_type == {"emotion": 160, "outcome": 160, "appraisal": 160, "goal": 80, "belief": 80}
    # 80 items per emotion: 4 inference types × 2 conditions × 10 templates
    assert per_emotion == dict.fromkeys(
        ["joyful", "frustrated", "grateful", "disappointed", "relieved", "resigned", "surprised", "devastated"], 80)


def test_safety_belief_answers_follow_the_belief_not_the_released_column_order(tmp_path: Path) -> None:
    ds = generate("affect_safety_expected", out=tmp_path / "se", from_files=[AFFECT / "safety_expected.csv"],
                  progress=False)
    sarah = next(i for i in ds.items if i.question_name == "belief" and i.answer == "belief_1"
                 and i.text.startswith("Sarah"))
    # belief 1 (column 5): snowfall would be safe, fog dangerous
    assert "dangerous if she encountered fog" in sarah.option_text("belief_1")


@pytest.mark.parametrize("name", ["affect_goal_control", "affect_safety_expected"])
def test_lexicon_fills_offline(name: str, tmp_path: Path) -> None:
    ds = generate(name, out=tmp_path / name, n=8, seed=3, progress=False)
    assert ds.manifest.n_scenarios == 8 and ds.manifest.n_items == 8 * 32
    again = generate(name, out=tmp_path / "again", n=8, seed=3, progress=False)
    assert [i.id for i in ds.items] == [i.id for i in again.items]
    for item in ds.items:
        assert "{{" not in item.text and "{{" not in item.question
        agent = ds.scenarios[0].variables["agent"]
        assert agent[0].isupper()
