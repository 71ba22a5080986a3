"""The rules of Countdown: the moves from a state, the two search heuristics, and whether a problem is solvable.

A state is the list of numbers still available; a move takes two of them and puts back one result:
a + b, a × b, the larger minus the smaller (never negative) and, when it divides exactly, the larger divided by
the smaller. Operations are written ``a+b=c``, ``a*b=c``, ``a-b=c``, ``a/b=c`` (the search language's form).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator, Sequence
from functools import lru_cache

MAX_NODES = {2: 4, 3: 48, 4: 1152, 5: 46080}  # C(n,2)·4 · C(n-1,2)·4 · … (the paper's normaliser of a rating)

Heuristic = Callable[[Sequence[int], int], float]


def combine(a: int, b: int) -> list[tuple[int, str]]:
    """The results of combining ``a`` and ``b``, each with its operation text, in a fixed order."""
    small, large = (a, b) if a <= b else (b, a)
    out = [(a + b, f"{a}+{b}={a + b}"), (a * b, f"{a}*{b}={a * b}"), (large - small, f"{large}-{small}={large - small}")]
    if small != 0 and large % small == 0:
        out.append((large // small, f"{large}/{small}={large // small}"))
    return out


def children(nums: Sequence[int]) -> Iterator[tuple[list[int], str]]:
    """Every state one move away: (the remaining numbers with the result last, the operation)."""
    for i, j in itertools.combinations(range(len(nums)), 2):
        rest = [nums[k] for k in range(len(nums)) if k != i and k != j]
        for result, operation in combine(nums[i], nums[j]):
            yield [*rest, result], operation


def sum_heuristic(nums: Sequence[int], target: int) -> float:
    """Mean distance of the numbers to the target ("sum")."""
    return sum(abs(n - target) for n in nums) / len(nums)


@lru_cache(maxsize=1024)
def _factors(target: int) -> tuple[int, ...]:
    return tuple(i for i in range(2, target + 1) if target % i == 0) or (target,)


def mult_heuristic(nums: Sequence[int], target: int) -> float:
    """Summed distance of each number to the nearest factor (≥ 2) of the target ("mult")."""
    factors = _factors(target)
    return float(sum(min(abs(n - f) for f in factors) for n in nums))


HEURISTICS: dict[str, Heuristic] = {"sum": sum_heuristic, "mult": mult_heuristic}


def _last_move(a: int, b: int, target: int) -> str | None:
    """The operation that makes ``target`` from the last two numbers, if any (the hot loop of :func:`solve`)."""
    small, large = (a, b) if a <= b else (b, a)
    if a + b != target and a * b != target and large - small != target and (
            small == 0 or large % small or large // small != target):
        return None  # most states: rejected without building the operations' texts
    return next(operation for result, operation in combine(a, b) if result == target)


def _results(a: int, b: int) -> list[int]:
    small, large = (a, b) if a <= b else (b, a)
    out = [a + b, a * b, large - small]
    if small != 0 and large % small == 0:
        out.append(large // small)
    return out


def solve(nums: Sequence[int], target: int) -> list[str] | None:
    """A solution (its operations; every solution uses all numbers, so all are equally short) or ``None``.
    Values only while searching; operation texts are written for the solution alone (most draws have none)."""
    if len(nums) == 2:
        last = _last_move(nums[0], nums[1], target)
        return None if last is None else [last]
    if len(nums) == 1:
        return [] if nums[0] == target else None
    for i, j in itertools.combinations(range(len(nums)), 2):
        rest = [nums[k] for k in range(len(nums)) if k != i and k != j]
        for result in _results(nums[i], nums[j]):
            tail = solve([*rest, result], target)
            if tail is not None:
                return [next(op for value, op in combine(nums[i], nums[j]) if value == result), *tail]
    return None
