"""Fixed players: the documented stochastic policy (by hand and by frequency), manners, seeds; principles."""

from __future__ import annotations

import math
from collections import Counter

import pytest
from hypothesis import given
from hypothesis import strategies as st

from proceval.envs import play_episode
from proceval.envs.players import ScriptedPlayer, fixed_model_player, parse_principle
from proceval.envs.policies import MANNERS, POLICIES, accept_probability, offer_probabilities
from proceval.envs.ultimatum import UltimatumGame


def test_offer_probabilities_match_the_formula_by_hand() -> None:
    # amount 2: shares 0, .5, 1; a fair player (preferred share .5, beta 2) is at distances .5, 0, .5.
    z = math.exp(-1) + 1 + math.exp(-1)
    assert offer_probabilities("fair", 2, 2.0) == pytest.approx((math.exp(-1) / z, 1 / z, math.exp(-1) / z))
    # selfish (.1): distances .1, .4, .9
    w = [math.exp(-0.2), math.exp(-0.8), math.exp(-1.8)]
    assert offer_probabilities("selfish", 2, 2.0) == pytest.approx(tuple(x / sum(w) for x in w))
    assert accept_probability("fair", 0.4) == 0.5 and accept_probability("fair", 0.9) > 0.99


@pytest.mark.parametrize("policy", sorted(POLICIES))
def test_scripted_offers_follow_the_policy(policy: str) -> None:
    n = 4000
    counts = Counter(play_episode(UltimatumGame(10, "apples"), {
        "proposer": ScriptedPlayer(policy, "neutral", seed=i), "decider": ScriptedPlayer(policy, "neutral", seed=n + i)
    })["outcome"]["offer"] for i in range(n))
    for k, p in enumerate(offer_probabilities(policy, 10)):
        assert abs(counts[k] / n - p) < 4 * math.sqrt(p * (1 - p) / n) + 1e-9


@given(policy=st.sampled_from(sorted(POLICIES)), manner=st.sampled_from(sorted(MANNERS)), seed=st.integers(0, 10**6),
       amount=st.integers(1, 50))
def test_scripted_players_always_speak_valid_actions_in_every_manner(policy: str, manner: str, seed: int,
                                                                     amount: int) -> None:
    record = play_episode(UltimatumGame(amount, "blankets"), {"proposer": ScriptedPlayer(policy, manner, seed),
                                                              "decider": ScriptedPlayer(policy, manner, seed + 1)})
    assert record["status"] == "ok" and record["invalid"] == 0


def test_the_same_seed_gives_the_same_episode() -> None:
    def episode(seed: int) -> dict:
        return play_episode(UltimatumGame(), {"proposer": ScriptedPlayer("fair", "rude", seed),
                                              "decider": ScriptedPlayer("fair", "rude", seed + 1)})
    assert episode(3) == episode(3)
    assert len({str(episode(s)["outcome"]) for s in range(30)}) > 1


def test_a_model_player_is_given_its_policy_and_manner_in_words() -> None:
    player = fixed_model_player(None, "altruistic", "rude", seed=0)  # type: ignore[arg-type]
    assert POLICIES["altruistic"].words in player.system and MANNERS["rude"] in player.system


@pytest.mark.parametrize(("reply", "principle", "kept", "unparsed"), [
    ("Principle: Give most of what you have to others.\nmore text", "Give most of what you have to others.", False,
     False),
    ("principle: KEEP", "old", True, False),
    ("I am not sure.", "old", True, True),
])
def test_the_meta_reply_gives_a_new_principle_or_keeps_the_old(reply: str, principle: str, kept: bool,
                                                              unparsed: bool) -> None:
    assert parse_principle(reply, "old") == {"principle": principle, "kept": kept, "unparsed": unparsed}
