"""People are solvers too, but they answer in the web study, not in a run: this marker says so."""

from __future__ import annotations

from typing import Any

from proceval.errors import RunError
from proceval.solvers.base import Solver


class HumanSolver(Solver):
    """A human in the web study (``proceval serve``); their answers are exported as a run-like table."""

    name = "human"
    kind = "human"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        raise RunError("humans answer through the web study, not through `proceval run`", field="solver",
                       hint="serve the dataset with `proceval serve` and import the answers (docs/humans.md)")
