"""Leave-one-out agreement, kappa and alpha on tables small enough to compute by hand."""

from __future__ import annotations

import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st
from sklearn.metrics import cohen_kappa_score

from proceval.analysis.agreement import (
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
