"""The guided model solver: a model plus a guide that constrains (parts of) what it writes.

The guide says, for an item, what the model may write: today a choice among strings (the option labels of a
choice item, the scale points of a rating item). It reaches the model through :meth:`ModelSolver.generate_config`
as the ``constraint`` of each call; every backend enforces constraints (docs/models.md), by token masking
or by a server's structured outputs, else by sampling and checking with bounded, counted retries.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from proceval.core.generate import Choice, Constraint, GenerateConfig
from proceval.dataset import Item
from proceval.solvers.model import ModelSolver


class GuidedSolver(ModelSolver):
    name = "guided"

    def guide(self, item: Item) -> Constraint | None:
        """The constraint for ``item``'s answer (``None``: unconstrained). Override for other guides."""
        if item.response_type == "choice":
            labels = self.builder._answer_labels(item, None)
            return Choice(labels)
        if item.response_type == "rating":
            low, high = item.scale
            return Choice([str(p) for p in range(low, high + 1)])
        return None

    def generate_config(self, item: Item, messages: list[Any], *parts: object) -> GenerateConfig:
        config = super().generate_config(item, messages, *parts)
        constraint = self.guide(item)
        return config if constraint is None else dataclasses.replace(config, constraint=constraint)
