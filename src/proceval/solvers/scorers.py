"""Scorers: what makes a record correct. The runner gives each record to the scorer of its item's kind.

- ``answer-key``: a choice answer is correct when it is the item's answer key (choice items; unchanged);
- ``verifier``: the task's verifier scores the answer text and says why; the record gets ``score`` (in
  [0, 1]), ``reason`` and ``correct`` (full marks). Free-text items of a task with a verifier;
- items with neither (ratings, free text of causal templates) are not scored.

Adding a scorer is a class with ``score(item, record, task)`` registered in :data:`SCORERS`.
"""

from __future__ import annotations

from typing import Any, ClassVar

from proceval.core.registry import Registry
from proceval.core.task import Task
from proceval.dataset import Item

ANSWERED = ("ok", "invalid")  # records a scorer sees; errors and too-long prompts are not scored


class Scorer:
    name: ClassVar[str] = ""

    def applies(self, item: Item, task: Task | None) -> bool:
        raise NotImplementedError

    def score(self, item: Item, record: dict[str, Any], task: Task | None) -> None:
        """Set the record's correctness (and whatever else this scorer records) in place."""
        raise NotImplementedError


class AnswerKey(Scorer):
    name = "answer-key"

    def applies(self, item: Item, task: Task | None) -> bool:
        return item.response_type == "choice" and item.answer is not None

    def score(self, item: Item, record: dict[str, Any], task: Task | None) -> None:
        if record["choice"] is not None:
            record["correct"] = record["choice"] == item.answer


class VerifierScorer(Scorer):
    name = "verifier"

    def applies(self, item: Item, task: Task | None) -> bool:
        return (item.response_type == "free_text" and task is not None
                and type(task).verify is not Task.verify)

    def score(self, item: Item, record: dict[str, Any], task: Task | None) -> None:
        assert task is not None
        verdict = task.verify(item, record["raw"] or "")
        if verdict is not None:
            record.update(correct=verdict.correct, score=verdict.score, reason=verdict.reason)


SCORERS: Registry[type[Scorer]] = Registry("scorers", builtins={
    "answer-key": "proceval.solvers.scorers:AnswerKey",
    "verifier": "proceval.solvers.scorers:VerifierScorer",
})


BUILTIN = ("answer-key", "verifier")


def scorer_for(item: Item, task: Task | None, scorers: dict[str, Scorer]) -> Scorer | None:
    """The first scorer of ``scorers`` (see :func:`load_scorers`) that applies to ``item``, or ``None``."""
    for scorer in scorers.values():
        if scorer.applies(item, task):
            return scorer
    return None


def load_scorers() -> dict[str, Scorer]:
    """Every registered scorer, made once per run: added ones first (in name order), so a scorer that claims
    an item takes it from the built-ins, then the built-ins."""
    names = [n for n in SCORERS.names() if n not in BUILTIN] + [n for n in BUILTIN if n in SCORERS]
    return {name: SCORERS.create(name) for name in names}


def score_record(item: Item, record: dict[str, Any], task: Task | None, scorers: dict[str, Scorer]) -> None:
    if record["status"] in ANSWERED and (scorer := scorer_for(item, task, scorers)) is not None:
        scorer.score(item, record, task)
