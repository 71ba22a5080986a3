"""The rational observer: Bayesian inverse planning over the policy space from observed actions.

Each policy is a softmax-rational agent (the likelihoods of :mod:`proceval.envs.policies`); the observer starts
from a prior over the policies (uniform by default) and multiplies in the likelihood of every offer (and, if
asked, every decision) it sees, giving the ideal posterior after each run to compare the assistant with.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

from proceval.envs.policies import DEFAULT_RATIONALITY, accept_probability, offer_probabilities


class RationalObserver:
    def __init__(self, policies: Iterable[str], rationality: float = DEFAULT_RATIONALITY,
                 prior: dict[str, float] | None = None) -> None:
        self.policies = list(policies)
        self.rationality = rationality
        prior = prior or dict.fromkeys(self.policies, 1.0 / len(self.policies))
        self.log_weights = {p: math.log(prior[p]) for p in self.policies}

    def observe_offer(self, give: int, amount: int) -> None:
        for p in self.policies:
            self.log_weights[p] += math.log(offer_probabilities(p, amount, self.rationality)[give])

    def observe_decision(self, share: float, accepted: bool) -> None:
        for p in self.policies:
            q = accept_probability(p, share, self.rationality)
            self.log_weights[p] += math.log(q if accepted else 1.0 - q)

    def posterior(self) -> dict[str, float]:
        top = max(self.log_weights.values())
        weights = {p: math.exp(w - top) for p, w in self.log_weights.items()}
        total = sum(weights.values())
        return {p: w / total for p, w in weights.items()}

    def map_policy(self) -> str:
        """The most probable policy (the first listed on a tie)."""
        posterior = self.posterior()
        return max(self.policies, key=lambda p: posterior[p])
