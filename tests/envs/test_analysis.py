"""Per-run measures against counts by hand."""

from __future__ import annotations

import pytest

from proceval.envs.analysis import convergence, run_table


def episode(run: int, assistant: str | None, offer: int, accepted: bool, status: str = "ok",
            distribution: str = "in") -> dict:
    paid = {"proposer": 10 - offer, "decider": offer} if accepted and status == "ok" else {"proposer": 0, "decider": 0}
    return {"experiment": 0, "policy": "fair", "manner": "neutral", "distribution": distribution, "run": run,
            "assistant": assistant, "share": offer / 10, "accepted": accepted, "status": status, "payoffs": paid}


def test_share_offered_acceptance_and_income_per_run_match_a_hand_count() -> None:
    episodes = [episode(0, None, 5, True), episode(0, None, 3, False),  # fixed: offers .5 .3, accepts 1 of 2
                episode(0, "proposer", 1, True), episode(0, "decider", 4, False),
                episode(0, "proposer", 2, True, status="failed"),
                episode(1, None, 5, True), episode(1, "proposer", 5, True)]
    table = run_table(episodes).set_index(["player", "run"])
    fixed = table.loc[("fixed", 0)]
    assert fixed.offered == pytest.approx(0.4) and fixed.acceptance == 0.5 and fixed.episodes == 4
    assert fixed.income == pytest.approx((5 + 5 + 0 + 0) / 4)  # proposer 5, decider 5, then both 0
    assistant = table.loc[("assistant", 0)]
    # offers: .1 (the failed episode's offer is not counted); decisions: rejected 1; income: 9, 0, 0
    assert assistant.offered == pytest.approx(0.1) and assistant.acceptance == 0
    assert assistant.income == pytest.approx(3.0) and assistant.failed == 1 and assistant.episodes == 3
    gaps = convergence(run_table(episodes)).iloc[0]
    assert gaps.gaps == pytest.approx([0.3, 0.0]) and gaps.converged_run == 1
