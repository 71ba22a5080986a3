"""The rational observer's posterior against Bayes' rule worked by hand."""

from __future__ import annotations

import math

import pytest

from proceval.envs.observer import RationalObserver


def test_posterior_after_a_short_sequence_of_offers_matches_a_hand_computation() -> None:
    # amount 2, beta 2. Distances |k/2 - preferred| for k = 0, 1, 2:
    #   selfish (.1): .1 .4 .9   fair (.5): .5 0 .5   altruistic (.9): .9 .4 .1
    def likelihood(distances: list[float], k: int) -> float:
        return math.exp(-2 * distances[k]) / sum(math.exp(-2 * d) for d in distances)
    table = {"selfish": [0.1, 0.4, 0.9], "fair": [0.5, 0.0, 0.5], "altruistic": [0.9, 0.4, 0.1]}
    observer = RationalObserver(["selfish", "fair", "altruistic"], rationality=2.0)
    unnormalised = {p: 1 / 3 for p in table}
    for k in (1, 0, 0):  # offers of 1, then 0, then 0 of 2
        observer.observe_offer(k, 2)
        unnormalised = {p: unnormalised[p] * likelihood(d, k) for p, d in table.items()}
        total = sum(unnormalised.values())
        assert observer.posterior() == pytest.approx({p: v / total for p, v in unnormalised.items()})
    assert observer.map_policy() == "selfish"


def test_a_decision_updates_by_the_logistic_acceptance_likelihood() -> None:
    observer = RationalObserver(["fair", "altruistic"], rationality=10.0, prior={"fair": 0.5, "altruistic": 0.5})
    observer.observe_decision(0.1, accepted=False)
    p_fair = 1 - 1 / (1 + math.exp(-10 * (0.1 - 0.4)))  # fair rejects .1 often
    p_alt = 1 - 1 / (1 + math.exp(-10 * (0.1 - 0.0)))
    assert observer.posterior()["fair"] == pytest.approx(p_fair / (p_fair + p_alt))
