"""What every solver shares: the record it writes for one answer, and the trajectory that may come with it.

A solver answers one item for one subject and returns the response record (docs/formats.md); the runner
schedules solvers, scores their records with a scorer (:mod:`proceval.solvers.scorers`) and writes them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from proceval.dataset import Item

if TYPE_CHECKING:  # the runner imports the solvers; they need its types only
    from proceval.solvers.subjects import Memory, Subject


def new_record(item: Item, subject: Subject, position: int, strategy: str | None, scoring: str) -> dict[str, Any]:
    """The response record of ``subject``'s answer to ``item`` before it is answered (every key present)."""
    return {
        "item_id": item.id,
        "scenario_id": item.scenario_id,
        "condition_name": item.condition_name,
        "question_name": item.question_name,
        "subject": subject.id,
        "subject_kind": subject.kind,
        "position": position,
        "strategy": strategy,
        "scoring": scoring,
        "orders": [],
        "per_order": [],
        "probs": None,
        "choice": None,
        "rating": None,
        "rating_probs": None,
        "expected_rating": None,
        "correct": None,
        "first_shown": None,
        "raw": None,
        "n_shots": 0,
        "prompt_tokens": 0,
        "completion_tokens": 0,
        "latency_s": 0.0,
        "status": "ok",
        "error": None,
    }


@dataclass
class Trajectory:
    """The steps that led to an answer, stored in a record's ``trajectory`` (a list of step objects).

    Each step has a ``kind`` — ``call`` (a model or tool call: its input and output), ``state`` (an
    intermediate state, e.g. a search node), ``action`` (what an agent did), ``message`` (what an agent said
    to another) — an optional ``agent``, and any JSON fields of its own.
    """

    steps: list[dict[str, Any]] = field(default_factory=list)

    def add(self, kind: str, agent: str | None = None, **content: Any) -> None:
        self.steps.append({"kind": kind, **({"agent": agent} if agent is not None else {}), **content})

    def to_list(self) -> list[dict[str, Any]]:
        return list(self.steps)


class Solver:
    """Whatever produces an answer to an item. Subclasses write :meth:`answer` and are registered by name in
    :data:`proceval.solvers.SOLVERS`; ``kind`` is the subject kind their records carry."""

    name: ClassVar[str] = ""
    kind: ClassVar[str] = "program"
    needs_model: ClassVar[bool] = False  # model solvers get the run's --model

    def answer(self, item: Item, subject: Subject, position: int = 0, memory: Memory | None = None
               ) -> dict[str, Any]:
        raise NotImplementedError

    def identity(self) -> dict[str, Any]:
        """What identifies this solver in run.json (part of the settings a resumed run must share)."""
        return {"name": self.name}
