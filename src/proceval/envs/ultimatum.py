"""The ultimatum game: the proposer splits ``amount`` units of a currency, the decider accepts or rejects.

An accepted split pays each side its part; a rejection pays both zero. Replies are parsed strictly: a
proposal is ``keep X, give Y`` with whole, non-negative X + Y = amount, said once; a decision names exactly
one of accept / reject, without a negation ("I do not accept" is refused rather than guessed).
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

from proceval.core.generate import Choice
from proceval.envs.base import ActionError, Environment, Observation

PROPOSER, DECIDER = "proposer", "decider"

PROPOSER_PROMPT = (
    "You are the proposer. You have {amount} {currency} to split between yourself and the other person, the "
    "decider. If the decider accepts, each of you gets your part; if the decider rejects, neither of you gets "
    "anything. Reply with your proposal in the form \"keep X, give Y\" where X + Y = {amount}."
)
DECIDER_PROMPT = (
    "You are the decider. The proposer has {amount} {currency} and proposes to keep {keep} and give you {give}. "
    "If you accept, you get {give} and the proposer gets {keep}; if you reject, neither of you gets anything. "
    "Reply with one word: accept or reject."
)

_NUMBER = r"(-?\d+(?:[.,]\d+)?)"
_KEEP = re.compile(r"\bkeep(?:ing)?\s*:?\s*" + _NUMBER, re.IGNORECASE)
_GIVE = re.compile(r"\bgiv(?:e|ing)\s*:?\s*(?:you\s*)?" + _NUMBER, re.IGNORECASE)
_DECISION = re.compile(r"\b(accept|reject)(?:s|ed|ing)?\b", re.IGNORECASE)
_NEGATION = re.compile(r"\b(not|never|no|don't|won't|can't|cannot|doesn't)\b", re.IGNORECASE)


def _one_number(pattern: re.Pattern[str], word: str, reply: str) -> int:
    found = {m.group(1) for m in pattern.finditer(reply)}
    if not found:
        raise ActionError(f"no '{word} N' in the reply")
    if len(found) > 1:
        raise ActionError(f"several '{word}' amounts ({', '.join(sorted(found))}); give exactly one proposal")
    text = found.pop()
    if not re.fullmatch(r"-?\d+", text):
        raise ActionError(f"'{word} {text}' is not a whole number")
    value = int(text)
    if value < 0:
        raise ActionError(f"'{word} {value}' is negative")
    return value


def parse_proposal(reply: str, amount: int) -> dict[str, Any]:
    """``{"keep": X, "give": Y}`` from a reply ``keep X, give Y`` with X + Y = ``amount``; else :class:`ActionError`."""
    keep = _one_number(_KEEP, "keep", reply)
    give = _one_number(_GIVE, "give", reply)
    if keep + give != amount:
        raise ActionError(f"keep {keep} + give {give} = {keep + give}, not the {amount} to split")
    return {"keep": keep, "give": give}


def parse_decision(reply: str) -> dict[str, Any]:
    """``{"accept": bool}`` from a reply naming exactly one of accept / reject, with no negation."""
    kinds = {m.group(1).lower() for m in _DECISION.finditer(reply)}
    if len(kinds) != 1:
        raise ActionError("say exactly one of accept or reject" if not kinds else "the reply says both accept and reject")
    if negation := _NEGATION.search(reply):
        raise ActionError(f"the negation {negation.group(0)!r} makes the decision ambiguous; say accept or reject")
    return {"accept": kinds.pop() == "accept"}


DECISION_CHOICE = Choice(("accept", "reject"))


@lru_cache(maxsize=64)
def proposal_choice(amount: int) -> Choice:
    """Every split of ``amount`` as ``keep X, give Y``: under it a model's proposal always parses and adds up."""
    return Choice(f"keep {amount - give}, give {give}" for give in range(amount + 1))


class UltimatumGame(Environment):
    """One round: the proposer moves, then the decider. Payoffs are in units of ``currency``."""

    roles = (PROPOSER, DECIDER)

    def __init__(self, amount: int = 10, currency: str = "dollars") -> None:
        self.amount = amount
        self.currency = currency
        self.proposal: dict[str, Any] | None = None
        self.decision: dict[str, Any] | None = None

    def to_move(self) -> str | None:
        if self.proposal is None:
            return PROPOSER
        return DECIDER if self.decision is None else None

    def observe(self) -> Observation:
        state: dict[str, Any] = {"amount": self.amount, "currency": self.currency}
        if self.proposal is None:
            return Observation(PROPOSER, PROPOSER_PROMPT.format(**state), state, proposal_choice(self.amount))
        state.update(self.proposal)
        return Observation(DECIDER, DECIDER_PROMPT.format(**state), state, DECISION_CHOICE)

    def parse(self, reply: str) -> dict[str, Any]:
        return parse_proposal(reply, self.amount) if self.proposal is None else parse_decision(reply)

    def step(self, action: dict[str, Any]) -> None:
        if self.proposal is None:
            self.proposal = action
        else:
            self.decision = action

    def payoffs(self) -> dict[str, float]:
        if self.proposal is None or not (self.decision or {}).get("accept"):
            return {PROPOSER: 0.0, DECIDER: 0.0}
        return {PROPOSER: float(self.proposal["keep"]), DECIDER: float(self.proposal["give"])}

    def outcome(self) -> dict[str, Any]:
        give = self.proposal["give"] if self.proposal else None
        return {"amount": self.amount, "currency": self.currency, "offer": give,
                "share": None if give is None else give / self.amount,
                "accepted": None if self.decision is None else self.decision["accept"]}
