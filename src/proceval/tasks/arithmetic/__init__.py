"""The built-in ``arithmetic`` task: multiple-choice arithmetic whose factors set the difficulty.

Number of digits × operation × carrying/borrowing = 17 conditions (one-digit subtraction cannot borrow). Each
draw is a problem seed; each condition draws operands with the condition's properties and asks for the result
among four options: the answer and three errors people typically make (Brown & Burton, 1978; see
:mod:`.problems`). Multiplication is by one digit (2–9).

It was a causal template (YAML + a Python hook) until the task API existed; this class writes byte for byte the
items the template wrote (same texts, options, answer keys, metadata and ids) for the same ``--n`` and
``--seed``: draw i's problem seed is the template's i-th lexicon draw, and the item ids follow the template rule.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Iterator

from proceval.core.task import Task, make_item
from proceval.dataset import Item, Scenario
from proceval.tasks.arithmetic.problems import KEYS, problem

FACTORS = {"digits": ["1", "2", "3"], "operation": ["add", "subtract", "multiply"], "regroup": ["plain", "regroup"]}
N_SEEDS = 99_999  # problem seeds 1..99999
TEXT = "Work out the result without a calculator."


def conditions() -> list[dict[str, str | None]]:
    """The 17 conditions in factor order (digits, operation, regroup), one-digit borrowing excluded."""
    out: list[dict[str, str | None]] = []
    for combo in itertools.product(*FACTORS.values()):
        levels: dict[str, str | None] = dict(zip(FACTORS, combo, strict=True))
        if levels != {"digits": "1", "operation": "subtract", "regroup": "regroup"}:
            out.append(levels)
    return out


def problem_seeds(n: int, seed: int) -> list[int]:
    """The first ``n`` problem seeds of ``seed``: the draw the template's lexicon sampling made (a sample
    without replacement of n + n//10 + 16 indices, of which the first n are used)."""
    rng = random.Random(seed)
    return [index + 1 for index in rng.sample(range(N_SEEDS), min(N_SEEDS, n + n // 10 + 16))[:n]]


class ArithmeticTask(Task):
    name = "arithmetic"
    description = "Multiple-choice arithmetic (digits × operation × carrying/borrowing); typical errors as distractors"

    @property
    def factors(self) -> dict[str, list[str]]:
        return {factor: list(levels) for factor, levels in FACTORS.items()}

    def draws(self, n: int, seed: int) -> Iterator[tuple[Scenario, list[Item]]]:
        for index, problem_seed in enumerate(problem_seeds(n, seed)):
            variables = {"problem_seed": str(problem_seed)}
            items = [self.condition_item(variables, levels) for levels in conditions()]
            yield Scenario(id=items[0].scenario_id, template=self.name, variables=variables,
                           source={"kind": "task", "seed": seed, "index": index}), items

    def condition_item(self, variables: dict[str, str], levels: dict[str, str | None]) -> Item:
        values = problem(variables, levels, {})
        columns = int(str(levels["digits"]))
        steps = columns * (2 if levels["operation"] == "multiply" else 1) + (
            columns if levels["regroup"] == "regroup" else 0)
        options = [{"key": key, "text": values[f"option_{key}"]} for key in KEYS]
        return make_item(
            self.name, variables, f"What is {values['x']} {values['symbol']} {values['y']}?", values["answer_key"],
            text=TEXT, response={"type": "choice", "options": options}, condition=levels,
            condition_name=f"{levels['operation']}_{levels['digits']}d_{levels['regroup']}", question_name="result",
            metadata={"segments": ["task"], "derived": {"columns": columns, "steps": steps}},
        )
