"""The OffTheRails human ratings (experiment 2): rating_means and mixed_effects reproduce the published
direction of every effect and the raw means, computed from the released data."""

from __future__ import annotations

import pandas as pd
import pytest

from proceval.analysis.effects import mixed_effects
from proceval.analysis.ratings import rating_means
from tests.conftest import DATA

RATINGS = DATA / "offtherails" / "human_exp2_ratings.csv"

# anchors.md: permissibility means 4.04 vs side effect 4.11, evitable 3.95 vs inevitable 4.20,
# action 4.13 vs omission 4.02; intention 2.30 vs 2.09, evitable 2.36 vs 2.03, action 2.21 vs 2.18.
PUBLISHED = {
    ("permissibility_rating", "causal_structure"): (4.04, 4.11),
    ("permissibility_rating", "evitability"): (3.95, 4.20),
    ("permissibility_rating", "action"): (4.13, 4.02),
    ("intention_rating", "causal_structure"): (2.30, 2.09),
    ("intention_rating", "evitability"): (2.36, 2.03),
    ("intention_rating", "action"): (2.21, 2.18),
}


@pytest.fixture(scope="module")
def ratings() -> pd.DataFrame:
    return pd.read_csv(RATINGS)


@pytest.mark.parametrize(("response", "factor"), list(PUBLISHED))
def test_raw_means_match_the_paper(ratings: pd.DataFrame, response: str, factor: str) -> None:
    table = rating_means(ratings, [factor], value=response, cluster="worker_id", n_boot=200).set_index(factor)
    level_one, level_zero = PUBLISHED[(response, factor)]  # coded 1 = means / evitable / action
    assert table.loc[1, "mean"] == pytest.approx(level_one, abs=0.006)
    assert table.loc[0, "mean"] == pytest.approx(level_zero, abs=0.006)
    assert table["n"].sum() == len(ratings)


@pytest.mark.slow
@pytest.mark.parametrize("response", ["permissibility_rating", "intention_rating"])
def test_mixed_model_directions(ratings: pd.DataFrame, response: str) -> None:
    table = mixed_effects(ratings, response=response, factors=["causal_structure", "evitability", "action"],
                          groups=("worker_id", "scenario_id")).set_index("factor")
    sign = -1 if response == "permissibility_rating" else 1
    # harm as a means and evitable harm: lower permissibility, higher intention, both clearly
    for factor in ("causal_structure", "evitability"):
        assert sign * table.loc[factor, "estimate"] > 0 and table.loc[factor, "p"] < 0.01
    if response == "intention_rating":  # action vs omission: no clear effect on intention
        assert table.loc["action", "ci_low"] < 0 < table.loc["action", "ci_high"]
