"""The countdown task and its verifier: pure items, splits that never mix, a verifier that replays operations."""

from __future__ import annotations

import operator
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from proceval.core import TaskError
from proceval.tasks import make_task
from proceval.tasks.countdown import problem_item
from proceval.tasks.countdown.search import STRATEGIES, path_stream, run_strategy

OPS = {"+": operator.add, "*": operator.mul}


def _solvable_by_brute_force(numbers: list[int], target: int) -> bool:
    """Independent check: every ordered pair and every operation, recursively (no shared code with the task)."""
    if len(numbers) == 1:
        return numbers[0] == target
    for i in range(len(numbers)):
        for j in range(len(numbers)):
            if i == j:
                continue
            a, b = numbers[i], numbers[j]
            rest = [n for k, n in enumerate(numbers) if k not in (i, j)]
            results = [a + b, a * b] + ([a - b] if a >= b else []) + ([a // b] if b and a % b == 0 else [])
            if any(_solvable_by_brute_force([*rest, r], target) for r in results):
                return True
    return False


@settings(max_examples=25, deadline=None)
@given(inputs=st.integers(2, 4), seed=st.integers(0, 10**6), index=st.integers(0, 30))
def test_item_is_pure_solvable_and_in_range(inputs: int, seed: int, index: int) -> None:
    task = make_task("countdown", {"inputs": str(inputs), "low": "1", "high": "30"})
    item = task.item(seed, index)
    assert task.items(index + 1, seed)[index] == item
    numbers, target = item.metadata["numbers"], item.metadata["target"]
    assert len(numbers) == inputs and all(1 <= n <= 30 for n in numbers) and 10 <= target <= 100
    assert _solvable_by_brute_force(numbers, target)
    assert task.verify(item, str(item.answer)).score > 0  # the reference solution verifies


def test_splits_hold_out_targets_and_never_share_a_problem() -> None:
    task = make_task("countdown", {"inputs": "3"})
    items = task.items(600, seed=1)
    by_split: dict[str, list] = {}
    for item in items:
        by_split.setdefault(item.condition_name, []).append(item)
    assert set(by_split) == {"train", "val", "val_target"}
    held = task.held_out_targets(1)
    assert len(held) == 9  # 10% of the 91 targets 10..100
    assert all(i.metadata["target"] in held for i in by_split["val_target"])
    seen = {i.metadata["target"] for i in by_split["train"]} | {i.metadata["target"] for i in by_split["val"]}
    assert not seen & held
    problem = lambda i: (tuple(sorted(i.metadata["numbers"])), i.metadata["target"])  # noqa: E731
    assert not {problem(i) for i in by_split["train"]} & {problem(i) for i in by_split["val"]}
    assert 0.05 < len(by_split["val_target"]) / len(items) < 0.16


def test_unsolvable_problems_only_when_asked() -> None:
    task = make_task("countdown", {"inputs": "2", "high": "9", "target_high": "20", "solvable_only": "false"})
    items = task.items(40, seed=0)
    flags = {i.metadata["solvable"] for i in items}
    assert flags == {True, False}
    for item in items:
        assert item.metadata["solvable"] == _solvable_by_brute_force(item.metadata["numbers"], item.metadata["target"])


def test_bad_options_are_named() -> None:
    with pytest.raises(TaskError, match="inputs"):
        make_task("countdown", {"inputs": "7"})


# -- the verifier --------------------------------------------------------------------------------------------------
@st.composite
def solved_problems(draw: st.DrawFn) -> tuple[list[int], int, list[str]]:
    """Numbers and a random sequence of operations on them; the target is where they end (built independently)."""
    numbers = draw(st.lists(st.integers(1, 30), min_size=2, max_size=5))
    rng = random.Random(draw(st.integers(0, 10**6)))
    pool, ops = list(numbers), []
    while len(pool) > 1:
        a, b = pool.pop(rng.randrange(len(pool))), pool.pop(rng.randrange(len(pool)))
        symbol = rng.choice(["+", "*", "-"])
        a, b = (a, b) if a >= b or symbol != "-" else (b, a)
        value = OPS[symbol](a, b) if symbol in OPS else a - b
        ops.append(f"{a}{symbol}{b}={value}")
        pool.append(value)
    return numbers, pool[0], ops


@settings(max_examples=150, deadline=None)
@given(solved_problems())
def test_a_correct_solution_always_verifies(problem: tuple[list[int], int, list[str]]) -> None:
    numbers, target, ops = problem
    item = problem_item(numbers, target, solution=ops)
    task = make_task("countdown")
    plain = task.verify(item, "\n".join(op.replace("=", " = ") for op in ops))
    assert plain.score == pytest.approx(max(0.0, 1 - (len(ops) + 1) / {2: 4, 3: 48, 4: 1152, 5: 46080}[len(numbers)]))
    stream = task.verify(item, path_stream(target, numbers, ops))
    assert stream.score == plain.score and "reached" in stream.reason


@settings(max_examples=150, deadline=None)
@given(solved_problems(), st.sampled_from(["result", "unavailable", "target"]), st.data())
def test_any_corruption_fails_with_a_reason(problem: tuple[list[int], int, list[str]], corruption: str,
                                            data: st.DataObject) -> None:
    numbers, target, ops = problem
    step = data.draw(st.integers(0, len(ops) - 1))
    left, right = ops[step].split("=")
    if corruption == "result":
        ops[step] = f"{left}={int(right) + data.draw(st.integers(1, 5))}"
    elif corruption == "unavailable":
        absent = max(numbers) * 1000 + 7  # never an input, never a result of these small numbers at this step
        symbol = next(s for s in "+*-" if s in left)
        ops[step] = f"{absent}{symbol}{left.split(symbol)[1]}={right}"
    else:
        target += data.draw(st.integers(1, 5))
    item = problem_item(numbers, target, solution=ops)
    verdict = make_task("countdown").verify(item, "\n".join(ops))
    assert verdict.score == 0.0
    expected = {"result": "is wrong", "unavailable": "not available", "target": "not the target"}[corruption]
    if corruption == "result" and step < len(ops) - 1:
        expected = ""  # a later step may then use a number that is no longer there: any reason will do
    assert expected in verdict.reason and verdict.reason


@pytest.mark.parametrize("answer, reason", [
    ("", "no operation"),
    ("Current State: 24:[4, 9, 3], Operations: []\nExploring Operation: 4+9=13, Resulting Numbers: [3, 13]",
     "never says 'Goal Reached'"),
    ("9-3=6\n6*4=24\nimport os", None),  # text around operations is ignored, never evaluated
    ("3-9=-6", "not allowed"),
    ("9/4=2", "not allowed"),
])
def test_verifier_reasons(answer: str, reason: str | None) -> None:
    item = problem_item([4, 9, 3], 24)
    verdict = make_task("countdown").verify(item, answer)
    if reason is None:
        assert verdict.score == pytest.approx(1 - 3 / 48)
    else:
        assert verdict.score == 0.0 and reason in verdict.reason


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_every_strategy_writes_a_stream_the_verifier_accepts(strategy: str) -> None:
    search = run_strategy(strategy, 24, [4, 9, 3])
    verdict = make_task("countdown").verify(problem_item([4, 9, 3], 24), search.stream)
    assert (verdict.score > 0) == search.solved
    if search.solved:
        assert search.stream.count("Exploring Operation") == search.explored
        assert verdict.score == pytest.approx(max(0, 1 - (search.explored + 1) / 48))
