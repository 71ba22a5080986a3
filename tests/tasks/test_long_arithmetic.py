"""The long-arithmetic task: items a pure function of (config, seed, index); a verifier that reads a number."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from proceval.core import TaskError, Verdict
from proceval.tasks import make_task
from proceval.tasks.long_arithmetic import read_number

QUESTION = re.compile(r"^What is (\d+) ([-+*]) (\d+)\? Answer with the number\.$")


@settings(max_examples=40, deadline=None)
@given(digits=st.integers(1, 6), seed=st.integers(0, 10**6), index=st.integers(0, 50),
       operation=st.sampled_from(["add", "subtract", "multiply", "mixed"]))
def test_item_is_a_pure_function_of_config_seed_and_index(digits: int, seed: int, index: int, operation: str) -> None:
    task = make_task("long-arithmetic", {"digits": str(digits), "operation": operation})
    item = task.item(seed, index)
    assert task.items(index + 1, seed)[index] == item  # the same whatever was drawn before it
    match = QUESTION.match(item.question)
    assert match, item.question
    x, symbol, y = int(match[1]), match[2], int(match[3])
    assert len(str(x)) == len(str(y)) == digits
    assert int(str(item.answer)) == {"+": x + y, "-": x - y, "*": x * y}[symbol]
    assert operation in ("mixed", item.condition["operation"])


def _item(answer: int):  # type: ignore[no-untyped-def]
    task = make_task("long-arithmetic")
    item = task.item(0, 0)
    item.answer = str(answer)
    return task, item


@settings(max_examples=80, deadline=None)
@given(value=st.integers(-10**9, 10**9), filler=st.sampled_from(["", "Sure! ", "I think "]),
       form=st.sampled_from(["{v}", "Answer: {v}", "The answer is {v}.", "3 + 4 = {v}", "**Answer:** {c}",
                             "result = {c}"]))
def test_verifier_accepts_the_result_in_any_usual_form(value: int, filler: str, form: str) -> None:
    task, item = _item(value)
    verdict = task.verify(item, filler + form.format(v=value, c=f"{value:,}"))
    assert verdict == Verdict(1.0, f"read {value}, which is the result")


@settings(max_examples=80, deadline=None)
@given(value=st.integers(-10**6, 10**6), other=st.integers(-10**6, 10**6))
def test_verifier_rejects_other_numbers_and_never_guesses(value: int, other: int) -> None:
    task, item = _item(value)
    verdict = task.verify(item, f"Answer: {other}")
    assert verdict is not None and verdict.correct == (value == other)
    assert verdict.score in (0.0, 1.0) and str(other) in verdict.reason
    # two different unmarked numbers: no answer is read, the score is 0 and says why
    if value != other:
        guess = task.verify(item, f"maybe {value} or {other}")
        assert guess is not None and guess.score == 0.0 and "no number" in guess.reason


def test_read_number_never_evaluates_expressions() -> None:
    assert read_number("__import__('os')") is None
    assert read_number("2+3") is None  # two numbers, neither marked as the answer
    assert read_number("579. Yes, 579") == 579  # one number, repeated
    assert read_number("The answer is 1,234,567") == 1234567
    assert read_number("") is None


def test_options_are_checked() -> None:
    with pytest.raises(TaskError, match="no option 'digit'"):
        make_task("long-arithmetic", {"digit": "3"})
    with pytest.raises(TaskError, match="not a int"):
        make_task("long-arithmetic", {"digits": "three"})
    with pytest.raises(TaskError, match="digits must lie"):
        make_task("long-arithmetic", {"digits": "0"})
