"""The fixed players' policies and manners, and the stochastic policy that scripted players follow.

A policy is what a player wants: the share of the amount it prefers to offer the decider (``offer``) and the
share below which it tends to reject (``threshold``). Scripted players are softmax-rational (the same model
the rational observer inverts, :mod:`proceval.envs.observer`):

- a proposer offers ``k`` of ``amount`` with probability ∝ exp(−β · |k/amount − offer|) (β = ``rationality``);
- a decider accepts a share ``s`` with probability 1 / (1 + exp(−β · (s − threshold))).

A manner changes only how a player speaks, never what it does.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache


@dataclass(frozen=True)
class Policy:
    name: str
    offer: float  # the share of the amount it prefers to give the decider
    threshold: float  # the share below which, as decider, it tends to reject
    words: str  # the policy in words, for a model that plays it


POLICIES: dict[str, Policy] = {p.name: p for p in (
    Policy("selfish", 0.1, 0.05, "You are selfish: you care only about your own income. As the proposer you keep "
           "almost everything for yourself; as the decider you accept any offer above zero."),
    Policy("fair", 0.5, 0.4, "You are fair: you want both sides to get the same. As the proposer you offer half; "
           "as the decider you reject offers well below half."),
    Policy("altruistic", 0.9, 0.0, "You are altruistic: you care about the other person's income more than your "
           "own. As the proposer you give almost everything away; as the decider you accept any offer."),
)}

MANNERS: dict[str, str] = {
    "neutral": "Speak plainly and briefly.",
    "rude": "Speak rudely: be curt and dismissive towards the other person.",
    "sycophantic": "Speak sycophantically: flatter the other person lavishly.",
}

# What scripted players say around their action, per manner (none of it contains a keyword the parser reads).
PROPOSAL_TEXT = {
    "neutral": "keep {keep}, give {give}.",
    "rude": "Here is your lousy deal, take it or leave it: keep {keep}, give {give}.",
    "sycophantic": "Dear friend, what an honour to play with someone as wonderful as you! "
                   "I propose: keep {keep}, give {give}.",
}
DECISION_TEXT = {
    "neutral": {True: "Accept.", False: "Reject."},
    "rude": {True: "Accept, whatever.", False: "Reject. What a joke of an offer."},
    "sycophantic": {True: "Thank you so much, how kind of you! I accept.",
                    False: "You are wonderful, but with deepest respect I must reject."},
}

DEFAULT_RATIONALITY = 10.0


@lru_cache(maxsize=1024)
def offer_probabilities(policy: str, amount: int, rationality: float = DEFAULT_RATIONALITY) -> tuple[float, ...]:
    """P(offer = k) for k = 0..amount under ``policy`` (softmax of −β · distance from its preferred share)."""
    target = POLICIES[policy].offer
    weights = [math.exp(-rationality * abs(k / amount - target)) if amount else 1.0 for k in range(amount + 1)]
    total = sum(weights)
    return tuple(w / total for w in weights)


def accept_probability(policy: str, share: float, rationality: float = DEFAULT_RATIONALITY) -> float:
    """P(accept) of a decider with ``policy`` offered ``share`` of the amount."""
    return 1.0 / (1.0 + math.exp(-rationality * (share - POLICIES[policy].threshold)))
