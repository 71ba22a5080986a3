"""Mixed-model effects recovered from simulated ratings with known effects."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from proceval.analysis.base import NotApplicable
from proceval.analysis.effects import mixed_effects
from proceval.errors import AnalysisError

TRUE = {"structure": -0.6, "evitability": 0.35, "action": 0.0}


def simulate(seed: int = 1, participants: int = 30, scenarios: int = 8) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    person = rng.normal(0, 0.5, participants)
    scenario = rng.normal(0, 0.4, scenarios)
    rows = []
    for p in range(participants):
        for s in range(scenarios):
            levels = {f: int(rng.integers(0, 2)) for f in TRUE}
            y = 3 + sum(TRUE[f] * levels[f] for f in TRUE) + person[p] + scenario[s] + rng.normal(0, 0.5)
            rows.append({"participant": f"p{p}", "scenario": f"s{s}", "rating": y,
                         **{f: ("yes" if v else "no") for f, v in levels.items()}})
    return pd.DataFrame(rows)


def test_recovers_known_effects_with_crossed_random_intercepts() -> None:
    table = mixed_effects(simulate(), response="rating", factors=list(TRUE), groups=("participant", "scenario"))
    assert "crossed random intercepts" in table.attrs["model"]
    by_factor = table.set_index("factor")
    for factor, effect in TRUE.items():
        row = by_factor.loc[factor]
        assert row["level"] == "yes" and row["reference"] == "no"
        assert row["ci_low"] < effect < row["ci_high"], (factor, row.to_dict())
        assert abs(row["estimate"] - effect) < 0.15
    assert by_factor.loc["structure", "p"] < 1e-6
    assert by_factor.loc["action", "p"] > 0.01


def test_reference_level_flips_the_sign() -> None:
    data = simulate()
    default = mixed_effects(data, factors=["structure"], groups=("participant", "scenario"))
    flipped = mixed_effects(data, factors=["structure"], groups=("participant", "scenario"),
                            reference={"structure": "yes"})
    assert flipped["estimate"].iloc[0] == pytest.approx(-default["estimate"].iloc[0], abs=1e-6)
    assert flipped["term"].iloc[0] == "structure: no vs yes"


def test_single_level_group_falls_back_and_says_so() -> None:
    rng = np.random.default_rng(3)
    shift = rng.normal(0, 1, 10)
    one_person = pd.DataFrame([{"participant": "p0", "scenario": f"s{s}", "structure": ("yes", "no")[k % 2],
                                "rating": 3 + shift[s] - 0.6 * (k % 2) + rng.normal(0, 0.3)}
                               for s in range(10) for k in range(6)])
    table = mixed_effects(one_person, factors=["structure"], groups=("participant", "scenario"))
    assert table.attrs["groups"] == ["scenario"]
    assert "random intercept for scenario" in table.attrs["model"]
    # one answer per scenario: its intercept cannot be told from the residual, so it is left out too
    once = mixed_effects(simulate(participants=1, scenarios=30), factors=["structure"],
                         groups=("participant", "scenario"))
    assert once.attrs["groups"] == [] and "ordinary least squares" in once.attrs["model"]


def test_missing_values_are_counted_not_hidden() -> None:
    data = simulate()
    data.loc[:9, "rating"] = np.nan
    table = mixed_effects(data, factors=["structure"], groups=("participant", "scenario"))
    assert table.attrs["n_dropped"] == 10
    assert table["n_obs"].iloc[0] == len(data) - 10


def test_bad_requests_are_clear() -> None:
    data = simulate(participants=5)
    with pytest.raises(AnalysisError, match="no column"):
        mixed_effects(data, response="intention", factors=["structure"])
    with pytest.raises(NotApplicable, match="no factor varies"):
        mixed_effects(data.assign(structure="no"), factors=["structure"])
