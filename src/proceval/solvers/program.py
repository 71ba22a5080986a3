"""Program solvers: a function of the item (a search, a calculator) answers it, no model involved.

A program solver writes :meth:`ProgramSolver.solve` (item → answer text, or an option key for a choice item)
and may add steps to the trajectory it is given; the record is filled the same way for every program.
"""

from __future__ import annotations

import re
import time
from typing import TYPE_CHECKING, Any

from proceval.dataset import Item
from proceval.solvers.base import Solver, Trajectory, new_record

if TYPE_CHECKING:  # the runner imports the solvers; they need its types only
    from proceval.solvers.subjects import Memory, Subject


class ProgramSolver(Solver):
    """Base of solvers that compute an answer. ``solve`` returns the answer (``None``: no answer, recorded as
    ``invalid``); for choice items an option key, otherwise the answer text."""

    kind = "program"

    def solve(self, item: Item, trajectory: Trajectory) -> str | None:
        raise NotImplementedError

    def answer(self, item: Item, subject: Subject, position: int = 0, memory: Memory | None = None
               ) -> dict[str, Any]:
        record = new_record(item, subject, position, None, "program")
        trajectory = Trajectory()
        start = time.perf_counter()
        answer = self.solve(item, trajectory)
        record["latency_s"] = round(time.perf_counter() - start, 4)
        record["raw"] = answer
        if trajectory.steps:
            record["trajectory"] = trajectory.to_list()
        if answer is None:
            record["status"] = "invalid"
        elif item.response_type == "choice":
            keys = [o["key"] for o in item.options]
            record.update(orders=[keys], first_shown=keys[0], choice=answer)
        elif item.response_type == "rating":
            record.update(rating=int(answer), expected_rating=int(answer))
        return record


_QUESTION = re.compile(r"What is (\d+) ([-+−*×]) (\d+)\?")
_OPERATIONS = {"+": lambda x, y: x + y, "-": lambda x, y: x - y, "−": lambda x, y: x - y,
               "*": lambda x, y: x * y, "×": lambda x, y: x * y}


class Calculator(ProgramSolver):
    """Reads ``What is X op Y?`` from the question and computes it: the answer as a number (free text), or the
    option whose text is that number (choice). It never reads the item's answer key."""

    name = "calculator"

    def solve(self, item: Item, trajectory: Trajectory) -> str | None:
        match = _QUESTION.search(item.question)
        if match is None:
            trajectory.add("state", parsed=None)
            return None
        x, op, y = int(match[1]), match[2], int(match[3])
        value = _OPERATIONS[op](x, y)
        trajectory.add("state", parsed={"x": x, "operation": op, "y": y})
        trajectory.add("action", computed=value)
        if item.response_type == "choice":
            keys = [o["key"] for o in item.options if o["text"].strip() == str(value)]
            return keys[0] if len(keys) == 1 else None
        return str(value)
