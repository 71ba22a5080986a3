"""Leave-one-out agreement, kappa and alpha on tables small enough to compute by hand."""

from __future__ import annotations

import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st
from sklearn.metrics import cohen_kappa_score

from proceval.analysis.agreement import (
    HUMAN_BASELINE,
    agreement_table,
    cohen_kappa,
    krippendorff_alpha,
    loo_agreement,
    loo_credits,
    modal_agreement,
    modal_credit,
)

# i1: P1=a P2=a P3=b   i2: everyone b   i3: only P1 answered
HUMANS = pd.DataFrame(
    [("P1", "i1", "a"), ("P2", "i1", "a"), ("P3", "i1", "b"),
     ("P1", "i2", "b"), ("P2", "i2", "b"), ("P3", "i2", "b"),
     ("P1", "i3", "a")],
    columns=["participant", "item_id", "response"],
)


def test_leave_one_out_by_hand() -> None:
    table = loo_agreement(HUMANS).set_index("participant")
    # P1 on i1: others {a, b} tie → 1/2; on i2: others b,b → 1; i3 alone (not scored).
    assert table.loc["P1", "agreement"] == pytest.approx(0.75)
    assert table.loc["P1", "n_items"] == 2 and table.loc["P1", "n_alone"] == 1
    assert table.loc["P2", "agreement"] == pytest.approx(0.75)
    # P3 on i1: others a,a → 0; on i2 → 1.
    assert table.loc["P3", "agreement"] == pytest.approx(0.5)
    assert table["agreement"].mean() == pytest.approx(2 / 3)


def test_model_against_modal_human_answer() -> None:
    model = pd.DataFrame({"item_id": ["i1", "i2", "i9"], "response": ["b", "b", "a"]})
    agreement, n = modal_agreement(model, HUMANS)
    assert n == 2  # i9 has no human answers
    assert agreement == pytest.approx(0.5)  # i1: mode a (2 of 3) ≠ b; i2: b = b


def test_modal_credit_ties_and_empty() -> None:
    assert modal_credit("a", ["a", "b"]) == 0.5
    assert modal_credit("c", ["a", "b"]) == 0.0
    assert modal_credit("a", []) != modal_credit("a", [])  # NaN


def test_krippendorff_alpha_nominal_by_hand() -> None:
    # units (a,a) (a,b) (b,b) (b,b): coincidences o_aa=2 o_ab=o_ba=1 o_bb=4, n_a=3 n_b=5 n=8
    # D_o = 2/8, D_e = 2·3·5/(8·7) → alpha = 1 − (1/4)/(15/28) = 8/15
    rows = [("r1", "u1", "a"), ("r2", "u1", "a"), ("r1", "u2", "a"), ("r2", "u2", "b"),
            ("r1", "u3", "b"), ("r2", "u3", "b"), ("r1", "u4", "b"), ("r2", "u4", "b")]
    table = pd.DataFrame(rows, columns=["participant", "item_id", "response"])
    assert krippendorff_alpha(table) == pytest.approx(8 / 15)


def test_krippendorff_alpha_interval_perfect_and_reversed() -> None:
    same = pd.DataFrame([(r, u, float(v)) for u, v in enumerate([1, 2, 3, 4, 5]) for r in ("x", "y")],
                        columns=["participant", "item_id", "response"])
    assert krippendorff_alpha(same, level="interval") == pytest.approx(1.0)
    reversed_ = pd.DataFrame([("x", u, float(v)) for u, v in enumerate([1, 2, 3, 4, 5])]
                             + [("y", u, float(6 - v)) for u, v in enumerate([1, 2, 3, 4, 5])],
                             columns=["participant", "item_id", "response"])
    assert krippendorff_alpha(reversed_, level="interval") < 0


@pytest.mark.filterwarnings("ignore::UserWarning")
@given(st.lists(st.tuples(st.sampled_from("abc"), st.sampled_from("abc")), min_size=2, max_size=40))
def test_cohen_kappa_matches_sklearn(pairs: list[tuple[str, str]]) -> None:
    a, b = [x for x, _ in pairs], [y for _, y in pairs]
    ours = cohen_kappa(a, b)
    theirs = cohen_kappa_score(a, b)
    if theirs != theirs:  # sklearn NaN when expected agreement is 1
        assert ours == 1.0 or ours != ours
    else:
        assert ours == pytest.approx(theirs, abs=1e-9)


def test_loo_credits_per_answer_keep_other_columns() -> None:
    table = HUMANS.assign(condition_name=["c1", "c1", "c1", "c2", "c2", "c2", "c1"])
    credits = loo_credits(table)
    assert credits["credit"].tolist()[:6] == [0.5, 0.5, 0.0, 1.0, 1.0, 1.0]
    assert credits["credit"].isna().tolist()[6]  # i3: nobody else answered
    by_condition = credits.groupby("condition_name")["credit"].mean()
    assert by_condition["c1"] == pytest.approx(1 / 3) and by_condition["c2"] == 1.0


# ---- grouped agreement, both model definitions, both tie rules (values worked out by hand) -------------------
# Rows in this order (the order "first" breaks ties by):
#   i1 (emotion): P1 a, P2 b, P3 a      i2 (outcome): P1 b, P2 a, P3 a      i3 (outcome): P1 a, P2 b
# Model M: i1 a, i2 b, i3 b.
PEOPLE = pd.DataFrame(
    [("P1", "i1", "a", "emotion"), ("P2", "i1", "b", "emotion"), ("P3", "i1", "a", "emotion"),
     ("P1", "i2", "b", "outcome"), ("P2", "i2", "a", "outcome"), ("P3", "i2", "a", "outcome"),
     ("P1", "i3", "a", "outcome"), ("P2", "i3", "b", "outcome")],
    columns=["participant", "item_id", "response", "inference"],
)
MODEL = pd.DataFrame([("M", "i1", "a", "emotion"), ("M", "i2", "b", "outcome"), ("M", "i3", "b", "outcome")],
                     columns=["subject", "item_id", "response", "inference"])

# Humans, leave-one-out. split: i1 P1 vs {b,a} ½, P2 vs {a,a} 0, P3 vs {b,a} ½; i2 P1 vs {a,a} 0, P2 vs {b,a} ½,
# P3 vs {b,a} ½; i3 P1 vs {b} 0, P2 vs {a} 0. first (first-seen mode wins): i1 P1 → b 0, P3 → a 1; i2 P2, P3 → b 0.
# Per participant, then averaged: emotion split (½+0+½)/3, first (0+0+1)/3; outcome split (0 + ¼ + ½)/3, first 0.
HUMANS_BY_HAND = {("split", "emotion"): 1 / 3, ("split", "outcome"): 0.25,
                  ("first", "emotion"): 1 / 3, ("first", "outcome"): 0.0}
# mode_of_all: i1 mode a → 1; i2 mode a → 0; i3 {a,b} tie: split ½, first (a) 0.
MODE_OF_ALL_BY_HAND = {("split", "emotion"): 1.0, ("split", "outcome"): 0.25,
                       ("first", "emotion"): 1.0, ("first", "outcome"): 0.0}
# loo_per_participant: M against the others of each participant. i1 (a): P1 {b,a} split ½ / first 0; P2 {a,a} 1;
# P3 {a,b} ½ / 1. i2 (b): P1 {a,a} 0; P2 {b,a} ½ / 1; P3 {b,a} ½ / 1. i3 (b): P1 {b} 1; P2 {a} 0.
# emotion split (½+1+½)/3 = ⅔, first (0+1+1)/3 = ⅔; outcome split P1 (0+1)/2, P2 (½+0)/2, P3 ½ → 1.25/3;
# first P1 ½, P2 ½, P3 1 → ⅔.
LOO_BY_HAND = {("split", "emotion"): 2 / 3, ("split", "outcome"): 1.25 / 3,
               ("first", "emotion"): 2 / 3, ("first", "outcome"): 2 / 3}


@pytest.mark.parametrize("ties", ["split", "first"])
@pytest.mark.parametrize(("definition", "expected"), [("mode_of_all", MODE_OF_ALL_BY_HAND),
                                                      ("loo_per_participant", LOO_BY_HAND)])
def test_agreement_by_factor_both_definitions_both_tie_rules(definition: str, expected: dict, ties: str) -> None:  # type: ignore[type-arg]
    table = agreement_table(PEOPLE, MODEL, by=["inference"], definition=definition, ties=ties)  # type: ignore[arg-type]
    got = {(r["subject"], r["inference"]): r["agreement"] for r in table.to_dict("records")}
    for level in ("emotion", "outcome"):
        assert got[(HUMAN_BASELINE, level)] == pytest.approx(HUMANS_BY_HAND[(ties, level)])
        assert got[("M", level)] == pytest.approx(expected[(ties, level)])
    assert set(table["ties"]) == {ties}
    assert set(table.loc[table["subject"] == "M", "definition"]) == {definition}
    units = table.set_index(["subject", "inference"])["units"]
    assert units[(HUMAN_BASELINE, "outcome")] == 3  # participants
    assert units[("M", "outcome")] == (2 if definition == "mode_of_all" else 3)  # answers, or participants


def test_overall_agreement_without_groups_by_hand() -> None:
    table = agreement_table(PEOPLE, MODEL).set_index("subject")["agreement"]
    # humans split: P1 (½,0,0) ⅙, P2 (0,½,0) ⅙, P3 (½,½) ½ → 5/18; M mode_of_all: (1 + 0 + ½)/3 = ½
    assert table[HUMAN_BASELINE] == pytest.approx(5 / 18) and table["M"] == pytest.approx(0.5)
    assert loo_agreement(PEOPLE)["agreement"].mean() == pytest.approx(5 / 18)  # the same baseline


def test_tie_rules_and_unknown_names() -> None:
    assert modal_credit("b", ["b", "a"], ties="first") == 1.0 and modal_credit("a", ["b", "a"], ties="first") == 0.0
    assert modal_credit("a", ["b", "a", "a"], ties="first") == 1.0  # no tie: the mode wins whatever came first
    with pytest.raises(ValueError, match="ties"):
        modal_credit("a", ["a"], ties="random")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="definition"):
        agreement_table(PEOPLE, MODEL, definition="paper")  # type: ignore[arg-type]


def test_rating_means_needs_its_cluster_column() -> None:
    from proceval.analysis.ratings import rating_means

    ratings = pd.DataFrame({"worker_id": ["w1", "w1", "w2", "w2", "w3", "w3"], "f": ["x", "y"] * 3,
                            "rating": [1, 3, 2, 4, 3, 5]})
    with pytest.raises(KeyError, match="cluster column 'participant'"):
        rating_means(ratings, ["f"])  # the default participant column is not there: no silent fall-back
    by_worker = rating_means(ratings, ["f"], cluster="worker_id", n_boot=200).set_index("f")
    assert by_worker.loc["x", "mean"] == pytest.approx(2.0) and by_worker.loc["y", "mean"] == pytest.approx(4.0)
    # x: 1, 2, 3 → sd 1; the interval stays within the observed values
    assert by_worker.loc["x", "sd"] == pytest.approx(1.0)
    assert 1.0 <= by_worker.loc["x", "ci_low"] <= by_worker.loc["x", "ci_high"] <= 3.0
    assert rating_means(ratings, ["f"], cluster=None, n_boot=200).loc[0, "mean"] == pytest.approx(2.0)
