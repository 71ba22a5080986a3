"""Every built-in family's import marks as correct the option that states what the causal structure implies.

The expectations here never come from the templates' own column mappings: they are read off the released CSV
rows by hand (the affective rows, each written out below) or follow from the design as the papers state it
(BigToM, OffTheRails), applied to the raw CSV cells.
"""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from proceval.dataset import Dataset, Item
from proceval.generate import generate
from proceval.humans.data import load_mapping
from tests.conftest import DATA

AFFECT = DATA / "affective"


def raw_rows(path: Path) -> list[list[str]]:
    with path.open(newline="", encoding="utf-8") as f:
        return [[cell.strip() for cell in row] for row in csv.reader(f, delimiter=";")]


def by_row(ds: Dataset) -> dict[int, list[Item]]:
    """Items per 0-based row of the released file (every released affective/BigToM row is one line)."""
    row_of = {s.id: int(s.source["line"]) - 1 for s in ds.scenarios}
    out: dict[int, list[Item]] = {}
    for item in ds.items:
        out.setdefault(row_of[item.scenario_id], []).append(item)
    return out


def correct_text(item: Item) -> str:
    assert item.answer is not None
    return item.option_text(item.answer)


# ---- affective cognition: hand-read per row -------------------------------------------------------------------
# safety_expected.csv, 1-based columns: 5 = belief 1 (event of column 3 safe, of column 4 dangerous), 6 = belief 2.
# Which of the answer columns 16/17 restates belief 1, read row by row (the event called safe in brackets):
SAFETY_BELIEF_1_ANSWER = {
    0: 17,  # Sarah: snowfall safe, fog dangerous — 17 "dangerous if she encountered fog ... snowfall" safe
    1: 17,  # Julian: criticised market fit safe — 17 "dangerous if ... questioned long-term viability"
    2: 16,  # Ben: toxic gas safe — 16 "dangerous if the mixture caused an explosion and safe if ... toxic gas"
    3: 16,  # Helen: grilled by the moderator safe — 16 "dangerous if her opponent launched a personal attack"
    4: 16,  # Penelope: guitar string breaking safe — 16 "dangerous if the sound system malfunctioned"
    5: 16,  # Xavier: spilled drink safe — 16 "dangerous if he served the wrong dish"
    6: 16,  # Zara: failing to set safe — 16 "dangerous if ... criticized for being too sweet"
    7: 16,  # Zachary: model tripping safe — 16 "dangerous if his collection received mixed reviews"
    8: 16,  # Charles: pests safe — 16 "dangerous if his crop was affected by drought"
    9: 16,  # Rachel: structural-integrity questions safe — 16 "dangerous if ... questioned the cost-effectiveness"
}
# goal_control.csv: which of 16/17 restates goal 1 (column 5, wanting the outcome of column 3).
GOAL_1_ANSWER = {
    0: 16,  # Amy: Stanford
    1: 16,  # Johnny: university teams
    2: 16,  # Emma: stay in her hometown
    3: 16,  # Ben: local clients
    4: 16,  # Ivan: physical fitness
    5: 16,  # Gary: school band
    6: 16,  # Max: a unique (expensive) outfit
    7: 16,  # Ethan: the leading role
    8: 16,  # Eliza: enjoying the play
    9: 16,  # Rachel: learning about the artist
}
# In both files, read row by row: column 10 names the outcome of column 3 and 11 that of column 4; the appraisal
# answers are 13 = yes (control / expected adversity) and 14 = no; column 5 makes the outcome of column 3 the
# wanted (goal_control) or safe (safety_expected) one.
EMOTION = {  # (appraisal is the first level, outcome matches the goal/safe event) → emotion
    ("control", True): "joyful", ("control", False): "frustrated",
    ("no_control", True): "grateful", ("no_control", False): "disappointed",
    ("expected", True): "relieved", ("expected", False): "resigned",
    ("unexpected", True): "surprised", ("unexpected", False): "devastated",
}


@pytest.mark.parametrize(("domain", "second", "first_appraisal", "hand"), [
    ("safety_expected", "belief", "expected", SAFETY_BELIEF_1_ANSWER),
    ("goal_control", "goal", "control", GOAL_1_ANSWER),
])
def test_affective_keys_match_the_hand_read_rows(tmp_path: Path, domain: str, second: str, first_appraisal: str,
                                                 hand: dict[int, int]) -> None:
    ds = generate(f"affect_{domain}", out=tmp_path / domain, from_files=[AFFECT / f"{domain}.csv"], progress=False)
    rows = raw_rows(AFFECT / f"{domain}.csv")
    items = by_row(ds)
    assert sorted(items) == list(range(10)) and not ds.manifest.skipped
    for r, row in enumerate(rows):
        col = {1: row[hand[r] - 1], 2: row[(33 - hand[r]) - 1]}  # 16 ↔ 17
        assert len(items[r]) == 32
        for item in items[r]:
            c = item.condition
            first = c[second].endswith("_1")
            good = first == (c["outcome"] == "outcome_1")
            expected = {
                "emotion": EMOTION[(c["appraisal"], good)],
                "outcome": row[9] if c["outcome"] == "outcome_1" else row[10],
                "appraisal": row[12] if c["appraisal"] == first_appraisal else row[13],
                second: col[1] if first else col[2],
            }[c["inference"]]
            # an option is shown as written, with its first letter capitalised (it starts the answer)
            assert correct_text(item) == expected[:1].upper() + expected[1:], (domain, r, item.condition_name)
            if c["inference"] != second:  # the story states the belief/goal the key was derived from
                assert (row[4] if first else row[5]) in item.text


def test_an_ambiguous_row_is_skipped_and_reported(tmp_path: Path) -> None:
    rows = raw_rows(AFFECT / "safety_expected.csv")
    broken = list(rows[2])
    broken[16] = broken[15]  # both answers now state belief 1: no order fits better than the other
    path = tmp_path / "safety.csv"
    with path.open("w", newline="", encoding="utf-8") as f:
        csv.writer(f, delimiter=";").writerows([rows[0], broken])
    ds = generate("affect_safety_expected", out=tmp_path / "ds", from_files=[path], progress=False)
    assert ds.manifest.n_scenarios == 1
    (skipped,) = ds.manifest.skipped
    assert skipped.line == 2 and "ambiguous" in skipped.reason and "belief_1 or belief_2" in skipped.reason


# ---- BigToM: the design's rule on the raw cells, every row ----------------------------------------------------
# 0-based columns: 8/11 belief answer if aware / not aware, 10/13 action answer if aware / not aware. The agent's
# belief tracks the changed world only when the causal event happened and was perceived (true belief); in the
# controls the world did not change, and at the percept nothing has happened yet.
def test_bigtom_keys_follow_the_design_for_every_row(tmp_path: Path) -> None:
    ds = generate("tom", out=tmp_path / "bt", from_files=[DATA / "bigtom" / "bigtom.csv"], progress=False)
    rows = raw_rows(DATA / "bigtom" / "bigtom.csv")
    items = by_row(ds)
    assert len(items) == 200
    for r, row in enumerate(rows):
        for item in items[r]:
            updated = item.condition["belief"] == "true_belief"
            column = {"belief": 8 if updated else 11, "action": 10 if updated else 13}[item.question_name]
            assert correct_text(item) == row[column], (r, item.condition_name)


def test_bigtom_hand_read_rows() -> None:
    rows = raw_rows(DATA / "bigtom" / "bigtom.csv")
    # line 52: the net was intact; a seagull tears it. Aware → believes it torn; not aware → intact.
    assert rows[51][8] == "Tumelo believes the fishing net is torn."
    assert rows[51][11] == "Tumelo believes the fishing net is in perfect condition."
    # line 1: oat milk poured; a coworker swaps in almond milk.
    assert "almond milk" in rows[0][8] and "oat milk" in rows[0][11]


# ---- OffTheRails: each condition shows the sentences its levels name ------------------------------------------
OTR = DATA / "offtherails"
# 0-based columns of both files: 6 structure, 7/8 evitable/inevitable action, 9/10 evitable/inevitable
# prevention, 11 action, 12 prevention (the colleague acts; the agent does not prevent it).
SENTENCE = {("evitable", "action"): 7, ("inevitable", "action"): 8,
            ("evitable", "omission"): 9, ("inevitable", "omission"): 10}


def test_moral_conditions_show_what_their_levels_say(tmp_path: Path) -> None:
    files = [OTR / "cc_stage_2_mild.csv", OTR / "coc_stage_2_mild.csv"]
    ds = generate("moral", out=tmp_path / "m", from_files=files, progress=False)
    cc, coc = raw_rows(files[0]), raw_rows(files[1])
    checked = 0
    for scenario in ds.scenarios:
        k = int(scenario.source["record"]) - 1
        if scenario.source.get("recovered"):
            continue  # repaired rows: their cells are not the raw ones (test_moral checks them)
        for item in (i for i in ds.items if i.scenario_id == scenario.id):
            c = item.condition
            row = cc[k] if c["structure"] == "means" else coc[k]
            assert row[6].startswith("As a means" if c["structure"] == "means" else "As a side effect")
            sentence = row[SENTENCE[(c["evitability"], c["action"])]]
            if c["evitability"] == "inevitable":  # the harm would still happen (through the external cause)
                assert "still" in sentence
            assert row[6] in item.text and sentence in item.text
            assert item.text.endswith(row[11] if c["action"] == "action" else row[12])
            checked += 1
    assert checked == 48 * 16


def test_offtherails_human_codes_match_the_paper() -> None:
    # experiment 2's codebook: causal_structure 1 = means, evitability 1 = evitable, action 1 = action
    mapping = load_mapping(OTR / "human_exp2_ratings.mapping.yaml")
    codes = {f: mapping.factor_map(f).values for f in ("structure", "evitability", "action")}  # type: ignore[union-attr]
    assert codes == {"structure": {"1": "means", "0": "side_effect"},
                     "evitability": {"1": "evitable", "0": "inevitable"},
                     "action": {"1": "action", "0": "omission"}}


def test_a_match_rule_names_real_columns_and_variables() -> None:
    from proceval.errors import TemplateError
    from proceval.templates import builtin_templates, load_template_text

    path = builtin_templates()["affect_safety_expected"]
    text = path.read_text(encoding="utf-8")
    broken = text.replace("states: [belief_1, belief_2]", "states: [belief_1, belief_9]")
    with pytest.raises(TemplateError, match="belief_9"):
        load_template_text(broken, path)
    uneven = text.replace("into: [belief_answer_1, belief_answer_2]", "into: [belief_answer_1]")
    with pytest.raises(TemplateError, match=r"table.match.0.into.*at least 2"):
        load_template_text(uneven, path)


def test_property_matching_recovers_any_order_of_restated_stances() -> None:
    """Two events A and B: a belief "A safe, B dangerous" and its reverse, restated in other words and in either
    order, always go back to the belief each restates; identical restatements are reported ambiguous."""
    from hypothesis import given, settings
    from hypothesis import strategies as st

    from proceval.scenarios.matching import assign

    noun = st.text(alphabet="bcdfghjklmnpqrstvwxz", min_size=5, max_size=9)

    @settings(max_examples=80, deadline=None)
    @given(st.lists(noun, min_size=2, max_size=2, unique_by=lambda w: w[:5]), st.booleans())
    def check(events: list[str], swapped: bool) -> None:
        a, b = events
        beliefs = [f"Kim thinks that if the {a} comes it would be safe. She thinks that if the {b} comes, it "
                   "could be dangerous.",
                   f"Kim thinks that if the {b} comes it would be safe. She thinks that if the {a} comes, it "
                   "could be dangerous."]
        answers = [f"Kim thought that it would be dangerous if the {b} came and safe if the {a} came.",
                   f"Kim thought that it would be dangerous if the {a} came and safe if the {b} came."]
        texts = answers[::-1] if swapped else answers
        order, _ = assign(texts, beliefs, poles=[["safe"], ["danger"]])
        assert order == ([1, 0] if swapped else [0, 1])
        order, why = assign([answers[0], answers[0]], beliefs, poles=[["safe"], ["danger"]])
        assert order is None and "ambiguous" in why

    check()
