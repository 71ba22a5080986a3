"""The guided model solver: a model plus a guide that constrains (parts of) what it writes.

The guide says, for an item, what the model may write: today a choice among strings (the option labels of a
choice item, the scale points of a rating item). It reaches the model through :meth:`ModelSolver.generate_options`
as the ``constraint`` of each call, which needs a backend that takes constraints (guided generation, issue 15);
with a backend that does not, the run stops with a clear error instead of generating unguided.
"""

from __future__ import annotations

import inspect
from typing import Any

from proceval.dataset import Item
from proceval.errors import RunError
from proceval.models.base import LanguageModel
from proceval.solvers.model import ModelSolver


class GuidedSolver(ModelSolver):
    name = "guided"

    @classmethod
    def check_model(cls, model: LanguageModel) -> None:
        if "constraint" not in inspect.signature(model.generate).parameters:
            raise RunError(f"{model.spec} takes no constraints, so the guided solver cannot guide it",
                           field="solver", hint="use a backend with guided generation, or --solver model")

    def guide(self, item: Item) -> dict[str, Any] | None:
        """The constraint for ``item``'s answer (``None``: unconstrained). Override for other guides."""
        if item.response_type == "choice":
            labels = self.builder._answer_labels(item, None)
            return {"kind": "choice", "choices": labels}
        if item.response_type == "rating":
            low, high = item.scale
            return {"kind": "choice", "choices": [str(p) for p in range(low, high + 1)]}
        return None

    def generate_options(self, item: Item, messages: list[Any], *parts: object) -> dict[str, Any]:
        options = super().generate_options(item, messages, *parts)
        constraint = self.guide(item)
        if constraint is not None:
            options["constraint"] = constraint
        return options
