"""The built-in ``long-arithmetic`` task: multi-digit arithmetic answered in free text, checked by a verifier.

Written as a decorated function (the short way to write a task). The verifier reads one number out of the answer
(``Answer: 1,234``, ``… = 1234``, or a reply holding a single number), never evaluates it, and scores 1 when it
equals the result.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass

from proceval.core.task import Problem, TaskError, Verdict, task
from proceval.dataset import Item

OPERATIONS = {"add": "+", "subtract": "-", "multiply": "*"}

# a number: digits with optional thousands commas (1,234 is one number), optional sign
_NUMBER = r"-?\d{1,3}(?:,\d{3})+(?!\d)|-?\d+"
_EXPLICIT = re.compile(rf"(?:answer|result)\s*(?:is|:|=)?\s*\**\s*({_NUMBER})|=\s*({_NUMBER})", re.IGNORECASE)


@dataclass(frozen=True)
class LongArithmeticConfig:
    digits: int = 3  # digits of each operand
    operation: str = "mixed"  # add, subtract, multiply, or mixed (drawn per item)

    def __post_init__(self) -> None:
        if not 1 <= self.digits <= 18:
            raise TaskError("digits must lie in 1..18", field="option digits")
        if self.operation not in (*OPERATIONS, "mixed"):
            raise TaskError(f"operation must be one of {', '.join(OPERATIONS)} or mixed", field="option operation")


def read_number(text: str) -> int | None:
    """The number an answer gives: the last explicit one (``answer: N``, ``= N``), else the only number in the
    text, else ``None`` (several numbers and none marked as the answer are not guessed between)."""
    explicit = [m.group(1) or m.group(2) for m in _EXPLICIT.finditer(text)]
    if explicit:
        return _to_int(explicit[-1])
    numbers = {_to_int(n) for n in re.findall(_NUMBER, text)}
    return numbers.pop() if len(numbers) == 1 else None


def _to_int(text: str) -> int:
    return int(text.replace(",", ""))


def verify(item: Item, answer: str) -> Verdict:
    expected = int(str(item.answer))
    value = read_number(answer)
    if value is None:
        return Verdict(0.0, "no number found that is marked as the answer or stands alone")
    if value == expected:
        return Verdict(1.0, f"read {value}, which is the result")
    return Verdict(0.0, f"read {value}; the result is {expected}")


@task("long-arithmetic", config=LongArithmeticConfig, verify=verify)
def long_arithmetic(config: LongArithmeticConfig, rng: random.Random, index: int) -> Problem:
    """Multi-digit arithmetic (``--option digits=N``, ``--option operation=add``) answered as a number."""
    operation = config.operation if config.operation != "mixed" else rng.choice(list(OPERATIONS))
    low, high = 10 ** (config.digits - 1), 10**config.digits - 1
    x, y = rng.randint(low, high), rng.randint(low, high)
    result = {"add": x + y, "subtract": x - y, "multiply": x * y}[operation]
    return Problem(question=f"What is {x} {OPERATIONS[operation]} {y}? Answer with the number.", answer=str(result),
                   condition={"operation": operation, "digits": str(config.digits)})


LongArithmetic = long_arithmetic
