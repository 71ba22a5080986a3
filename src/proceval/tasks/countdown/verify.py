"""The Countdown verifier: replays the operations an answer writes, never evaluating its text.

An answer is either a stream in the search language (docs/sos.md) — then the path is the operation list of the
last ``Current State`` before the first ``Goal Reached`` plus the last explored operation — or a plain list of
``a op b = c`` operations. Each operation must be arithmetically right (non-negative −, exact ÷), use numbers
that are available at that point (a multiset: each input once, each result once), and the last result must be
the target. The score is the stream's rating, 1 − (explored operations + 1)/max_nodes (at least 0), when the
goal is reached, else 0.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from proceval.core.task import Verdict
from proceval.tasks.countdown.game import MAX_NODES

OPERATION = re.compile(r"(\d+)\s*([-+*/×÷−])\s*(\d+)\s*=\s*(-?\d+)")
_GOAL = re.compile(r"(-?\d+)\s*,\s*(-?\d+) equal: Goal Reached")
_STATE = re.compile(r"Current State: [^\n]*?Operations: \[([^\]\n]*)\]")
_EXPLORED = re.compile(r"Exploring Operation: ([^\n,]*)")
_SYMBOLS = {"×": "*", "÷": "/", "−": "-"}


@dataclass(frozen=True)
class Operation:
    left: int
    symbol: str  # one of + - * /
    right: int
    result: int

    def __str__(self) -> str:
        return f"{self.left}{self.symbol}{self.right}={self.result}"


def parse_operations(text: str) -> list[Operation]:
    """Every ``a op b = c`` in ``text``, in order (×, ÷ and − are read as *, / and -)."""
    return [Operation(int(m[1]), _SYMBOLS.get(m[2], m[2]), int(m[3]), int(m[4])) for m in OPERATION.finditer(text)]


def replay(numbers: Sequence[int], target: int, operations: Sequence[Operation]) -> str | None:
    """Why ``operations`` do not reach ``target`` from ``numbers`` (``None``: they do)."""
    if not operations:
        return "no operation of the form a op b = c found"
    available = Counter(numbers)
    for step, op in enumerate(operations, 1):
        where = f"operation {step} ({op})"
        needed = Counter([op.left, op.right])
        missing = needed - available
        if missing:
            return f"{where} uses {', '.join(map(str, sorted(missing.elements())))}, which is not available " \
                   f"(available: {sorted(available.elements())})"
        value = _apply(op)
        if value is None:
            return f"{where} is not allowed: subtraction must not go below 0 and division must be exact"
        if value != op.result:
            return f"{where} is wrong: {op.left}{op.symbol}{op.right} is {value}"
        available -= needed
        available[op.result] += 1
    if operations[-1].result != target:
        return f"the last result is {operations[-1].result}, not the target {target}"
    return None


def _apply(op: Operation) -> int | None:
    a, b = op.left, op.right
    if op.symbol == "+":
        return a + b
    if op.symbol == "*":
        return a * b
    if op.symbol == "-":
        return a - b if a >= b else None
    return a // b if b != 0 and a % b == 0 else None


def solution_path(answer: str) -> tuple[list[Operation], int] | str:
    """The operations an answer claims reach the goal and how many operations it explored, or why there are
    none. A stream (it has ``Current State`` lines) must say ``Goal Reached``; a plain answer is its operations."""
    if "Current State" not in answer:
        operations = parse_operations(answer)
        return operations, len(operations)
    goal = _GOAL.search(answer)
    if goal is None:
        return "the stream never says 'Goal Reached'"
    before = answer[:goal.start()]
    explored = _EXPLORED.findall(before)
    if not explored:
        return "no 'Exploring Operation' before 'Goal Reached'"
    last = parse_operations(explored[-1])
    if not last:
        return f"the last explored operation {explored[-1].strip()!r} is not of the form a op b = c"
    states = _STATE.findall(before)
    earlier = parse_operations(states[-1]) if states else []
    return [*earlier, last[0]], len(explored)


def rating(n_inputs: int, explored: int) -> float:
    """1 − (explored operations + 1)/max_nodes, at least 0 (the paper's rating of a stream that reached the goal)."""
    return max(0.0, 1.0 - (explored + 1) / MAX_NODES[n_inputs])


def verify_answer(numbers: Sequence[int], target: int, answer: str) -> Verdict:
    """Score ``answer`` to the problem ``numbers`` → ``target``: its rating if it reaches the goal, else 0."""
    path = solution_path(answer)
    if isinstance(path, str):
        return Verdict(0.0, path)
    operations, explored = path
    problem = replay(numbers, target, operations)
    if problem is not None:
        return Verdict(0.0, problem)
    score = rating(len(numbers), explored)
    return Verdict(score, f"reached {target} with {', '.join(map(str, operations))} after exploring {explored} "
                          f"operation(s): rating {score:.4f}")
