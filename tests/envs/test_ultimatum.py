"""The ultimatum environment: strict parsing (property tests), payoffs, retries and failed episodes."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from proceval.envs import ENVS, ActionError, Observation, play_episode
from proceval.envs.ultimatum import UltimatumGame, parse_decision, parse_proposal

# Filler text that cannot contain a keyword, a number or a negation.
filler = st.text(alphabet=st.sampled_from(list("abcdfhmquwyz .!,;")), max_size=30).filter(
    lambda s: not any(w in s.lower().split() for w in ("no",)))


@given(keep=st.integers(0, 100), amount=st.integers(0, 100), before=filler, after=filler)
def test_a_proposal_that_adds_up_is_read_exactly(keep: int, amount: int, before: str, after: str) -> None:
    keep = min(keep, amount)
    reply = f"{before} keep {keep}, give {amount - keep}{after}"
    assert parse_proposal(reply, amount) == {"keep": keep, "give": amount - keep}


@given(keep=st.integers(0, 50), give=st.integers(0, 50), amount=st.integers(0, 100))
def test_a_proposal_that_does_not_add_up_is_refused(keep: int, give: int, amount: int) -> None:
    if keep + give == amount:
        return
    with pytest.raises(ActionError, match="not the"):
        parse_proposal(f"keep {keep}, give {give}", amount)


@given(st.text(max_size=60))
def test_any_text_either_parses_to_a_valid_split_or_raises_action_error(reply: str) -> None:
    try:
        action = parse_proposal(reply, 10)
    except ActionError:
        return
    assert action["keep"] + action["give"] == 10 and min(action.values()) >= 0


@pytest.mark.parametrize("reply", ["keep 3.5, give 6.5", "keep -2, give 12", "keep 5, give 5, or keep 4, give 6",
                                   "I offer 5", "give 5"])
def test_fractions_negatives_several_or_missing_parts_are_refused(reply: str) -> None:
    with pytest.raises(ActionError):
        parse_proposal(reply, 10)


@given(word=st.sampled_from(["accept", "Accept", "ACCEPTED", "reject", "Rejects"]), before=filler, after=filler)
def test_one_decision_word_is_read(word: str, before: str, after: str) -> None:
    assert parse_decision(f"{before} {word} {after}") == {"accept": word.lower().startswith("accept")}


@pytest.mark.parametrize("reply", ["I accept, no wait, I reject", "I do not accept", "maybe", "",
                                   "I won't reject"])
def test_ambiguous_decisions_are_refused(reply: str) -> None:
    with pytest.raises(ActionError):
        parse_decision(reply)


class Scripted:
    """Replies from a list, one per call (remembers the errors it was shown)."""

    def __init__(self, name: str, replies: list[str]) -> None:
        self.name, self.replies, self.errors = name, list(replies), []

    def act(self, observation: Observation, error: str | None = None) -> str:
        self.errors.append(error)
        return self.replies.pop(0)


def test_registered_as_ultimatum_and_an_accepted_split_pays_both() -> None:
    env = ENVS.create("ultimatum", amount=10, currency="apples")
    record = play_episode(env, {"proposer": Scripted("p", ["keep 7, give 3"]), "decider": Scripted("d", ["accept"])})
    assert record["status"] == "ok" and record["turns"] == 2 and record["invalid"] == 0
    assert record["payoffs"] == {"proposer": 7.0, "decider": 3.0}
    assert record["outcome"] == {"amount": 10, "currency": "apples", "offer": 3, "share": 0.3, "accepted": True}
    calls = [s for s in record["trajectory"] if s["kind"] == "call"]
    assert [c["agent"] for c in calls] == ["proposer", "decider"]
    assert "10 apples" in calls[0]["prompt"] and "give you 3" in calls[1]["prompt"]


def test_a_rejection_pays_both_zero() -> None:
    record = play_episode(UltimatumGame(10, "apples"),
                          {"proposer": Scripted("p", ["keep 9, give 1"]), "decider": Scripted("d", ["Reject."])})
    assert record["payoffs"] == {"proposer": 0.0, "decider": 0.0} and record["outcome"]["accepted"] is False


def test_an_invalid_reply_is_retried_with_its_error_and_counted() -> None:
    proposer = Scripted("p", ["keep 8, give 8", "keep 6, give 4"])
    record = play_episode(UltimatumGame(), {"proposer": proposer, "decider": Scripted("d", ["accept"])})
    assert record["status"] == "ok" and record["invalid"] == 1
    assert proposer.errors == [None, "keep 8 + give 8 = 16, not the 10 to split"]
    assert record["trajectory"][0]["error"] == proposer.errors[1]


def test_a_player_that_never_acts_validly_fails_the_episode_with_the_reason() -> None:
    record = play_episode(UltimatumGame(), {"proposer": Scripted("p", ["keep 5, give 5"]),
                                            "decider": Scripted("d", ["hmm", "well", "hm"])}, max_retries=2)
    assert record["status"] == "failed" and record["invalid"] == 3 and record["turns"] == 1
    assert "decider (d) gave no valid action in 3 tries" in record["reason"]
    assert record["payoffs"] == {"proposer": 0.0, "decider": 0.0}


class CannotAct:
    name = "stuck"

    def act(self, observation: Observation, error: str | None = None) -> str:
        from proceval.envs import PlayerFailed

        raise PlayerFailed("the prompt does not fit the model")


def test_a_player_that_cannot_act_fails_the_episode_at_once_with_its_reason() -> None:
    record = play_episode(UltimatumGame(), {"proposer": CannotAct(), "decider": Scripted("d", [])})
    assert record["status"] == "failed" and record["invalid"] == 0
    assert record["reason"] == "proposer (stuck) cannot act: the prompt does not fit the model"
