"""The built-in arithmetic task: correct answers, typical-error distractors, factors that set difficulty."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from proceval.analysis.irt import ResponseMatrix, fit_irt
from proceval.dataset import Dataset
from proceval.generate import generate
from proceval.tasks.arithmetic.problems import error_answers, problem

QUESTION = re.compile(r"^What is (\d+) ([+−×]) (\d+)\?$")
OPERATION = {"+": "add", "−": "subtract", "×": "multiply"}
RESULT = {"add": lambda x, y: x + y, "subtract": lambda x, y: x - y, "multiply": lambda x, y: x * y}


def digit_sum(n: int) -> int:
    return sum(map(int, str(n)))


def regroups(x: int, y: int, operation: str) -> bool:
    """Whether written arithmetic carries or borrows, from digit sums alone (not the module's column rules):
    every carry lowers the digit sum of a sum by 9, so x + y carries iff ds(x) + ds(y) ≠ ds(x + y); x − y
    borrows iff the addition (x − y) + y carries; x × m (one digit) carries iff ds(x)·m ≠ ds(x·m)."""
    if operation == "add":
        return digit_sum(x) + digit_sum(y) != digit_sum(x + y)
    if operation == "subtract":
        return regroups(x - y, y, "add")
    return digit_sum(x) * y != digit_sum(x * y)


@pytest.fixture(scope="module")
def quiz(tmp_path_factory: pytest.TempPathFactory) -> Dataset:
    return generate("arithmetic", n=20, seed=0, out=tmp_path_factory.mktemp("quiz") / "quiz", progress=False)


def test_seventeen_conditions_and_every_answer_is_right(quiz: Dataset) -> None:
    assert len(quiz.manifest.conditions) == 17
    assert "subtract_1d_regroup" not in quiz.manifest.conditions
    assert len(quiz) == 20 * 17
    for item in quiz.items:
        match = QUESTION.match(item.question)
        assert match, item.question
        x, symbol, y = int(match[1]), match[2], int(match[3])
        operation = OPERATION[symbol]
        assert operation == item.condition["operation"]
        assert len(str(x)) == int(item.condition["digits"])  # type: ignore[arg-type]
        values = [int(o["text"]) for o in item.options]
        assert len(set(values)) == 4 and min(values) > 0
        assert int(item.option_text(item.answer)) == RESULT[operation](x, y)  # type: ignore[arg-type]
        assert regroups(x, y, operation) == (item.condition["regroup"] == "regroup")


def test_answer_positions_vary_and_generation_is_reproducible(quiz: Dataset, tmp_path: Path) -> None:
    keys = {item.answer for item in quiz.items}
    assert keys == {"a", "b", "c", "d"}
    again = generate("arithmetic", n=20, seed=0, out=tmp_path / "again", progress=False)
    assert [i.id for i in again.items] == [i.id for i in quiz.items]


def test_distractors_are_the_typical_errors() -> None:
    errors = dict(error_answers(47, 38, "add"))
    assert errors["dropped carry"] == 75 and errors["wrote column sums"] == 715
    errors = dict(error_answers(52, 38, "subtract"))
    assert errors["smaller from larger"] == 26 and errors["borrow not decremented"] == 24
    errors = dict(error_answers(74, 4, "multiply"))
    assert errors["dropped carry"] == 86 and errors["wrote column products"] == 2816


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(1, 99_999), digits=st.sampled_from(["1", "2", "3"]),
       operation=st.sampled_from(["add", "subtract", "multiply"]), regroup=st.sampled_from(["plain", "regroup"]))
def test_hook_gives_valid_problems_for_any_seed(seed: int, digits: str, operation: str, regroup: str) -> None:
    if digits == "1" and operation == "subtract" and regroup == "regroup":
        return  # the excluded condition
    levels: dict[str, str | None] = {"digits": digits, "operation": operation, "regroup": regroup}
    out = problem({"problem_seed": str(seed)}, levels, {})
    x, y = int(out["x"]), int(out["y"])
    assert len(str(x)) == int(digits) and out["symbol"] == {"add": "+", "subtract": "−", "multiply": "×"}[operation]
    if operation == "multiply":
        assert 2 <= y <= 9
    else:
        assert len(str(y)) == int(digits) and (operation == "add" or x > y)
    assert regroups(x, y, operation) == (regroup == "regroup")
    values = [int(out[f"option_{k}"]) for k in "abcd"]
    assert len(set(values)) == 4 and min(values) > 0
    assert int(out[f"option_{out['answer_key']}"]) == RESULT[operation](x, y)
    assert out == problem({"problem_seed": str(seed)}, levels, {})


def test_fitted_difficulty_follows_the_factors(quiz: Dataset) -> None:
    """A procedural population: each person has a column-slip rate and may lack regrouping; who lacks it
    fails every regrouping item. IRT difficulties fitted to their answers must rise with the factors."""
    rng = np.random.default_rng(0)
    n_persons = 400
    theta = rng.normal(0, 1, n_persons)
    knows_regroup = rng.random(n_persons) < 1 / (1 + np.exp(-(theta + 0.3) * 2))
    column_ok = 1 / (1 + np.exp(-(theta + 2.5)))
    items = quiz.items
    values = np.zeros((n_persons, len(items)))
    for j, item in enumerate(items):
        steps = item.metadata["derived"]["steps"]
        regroup = item.condition["regroup"] == "regroup"
        p = column_ok**steps * (knows_regroup if regroup else 1.0)
        values[:, j] = rng.random(n_persons) < p
    matrix = ResponseMatrix(values, [f"s{i}" for i in range(n_persons)], [i.id for i in items])
    fit = fit_irt(matrix, "2pl")
    by_id = dict(zip(fit.items, fit.b, strict=True))
    conditions = {i.id: i.condition for i in items}

    def mean_b(**levels: str) -> float:
        return float(np.mean([b for item, b in by_id.items()
                              if all(conditions[item][k] == v for k, v in levels.items())]))

    assert mean_b(regroup="regroup") > mean_b(regroup="plain") + 0.5
    assert mean_b(digits="1") < mean_b(digits="2") < mean_b(digits="3")
    assert mean_b(operation="add") < mean_b(operation="multiply")
