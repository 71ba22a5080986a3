"""The problems of the built-in ``arithmetic`` task: operands, answer and error distractors.

For each scenario (a problem seed from the lexicon) and condition (number of digits, operation, with or without
carrying/borrowing) :func:`problem` draws operands that have exactly the condition's properties, computes the
answer, and builds three distractors from typical written-arithmetic errors (Brown & Burton's "buggy"
procedures): dropping the carry, writing whole column sums, subtracting the smaller digit from the larger in
every column, borrowing without decrementing, and place-value or one-off slips. Everything is seeded by the
scenario's seed and the condition, so the same dataset comes out on every machine.
"""

from __future__ import annotations

import random
from collections.abc import Callable

KEYS = ("a", "b", "c", "d")
SYMBOLS = {"add": "+", "subtract": "−", "multiply": "×"}


def _digits(n: int) -> list[int]:
    """Digits from the ones column upward."""
    return [int(ch) for ch in reversed(str(n))]


def _number(rng: random.Random, n_digits: int, low_digit: int = 0, high_digit: int = 9) -> int:
    lead = rng.randint(max(1, low_digit), high_digit)
    rest = [rng.randint(low_digit, high_digit) for _ in range(n_digits - 1)]
    return int(str(lead) + "".join(map(str, rest)))


def has_carry(x: int, y: int) -> bool:
    dx, dy = _digits(x), _digits(y)
    carry = 0
    for i in range(max(len(dx), len(dy))):
        total = (dx[i] if i < len(dx) else 0) + (dy[i] if i < len(dy) else 0) + carry
        carry = total // 10
        if carry:
            return True
    return False


def has_borrow(x: int, y: int) -> bool:
    dx, dy = _digits(x), _digits(y)
    return any(dx[i] < (dy[i] if i < len(dy) else 0) for i in range(len(dx)))


def has_product_carry(x: int, m: int) -> bool:
    return any(d * m >= 10 for d in _digits(x))


def _draw(rng: random.Random, make: Callable[[], tuple[int, int]], ok: Callable[[int, int], bool]) -> tuple[int, int]:
    for _ in range(100_000):
        x, y = make()
        if ok(x, y):
            return x, y
    raise RuntimeError("no operands satisfy the condition")  # cannot happen for the task's conditions


def operands(seed: str, n_digits: int, operation: str, regroup: bool) -> tuple[int, int]:
    """Operands for one condition: ``n_digits``-digit numbers (the multiplier is one digit, 2–9)."""
    rng = random.Random(f"arithmetic/{seed}/{n_digits}/{operation}/{regroup}")
    if operation == "add":
        return _draw(rng, lambda: (_number(rng, n_digits), _number(rng, n_digits)),
                     lambda x, y: has_carry(x, y) == regroup)
    if operation == "subtract":
        return _draw(rng, lambda: (_number(rng, n_digits), _number(rng, n_digits)),
                     lambda x, y: x > y and has_borrow(x, y) == regroup)
    if operation == "multiply":
        return _draw(rng, lambda: (_number(rng, n_digits), rng.randint(2, 9)),
                     lambda x, m: x >= 2 and has_product_carry(x, m) == regroup)
    raise ValueError(f"unknown operation {operation!r}")


def correct_value(x: int, y: int, operation: str) -> int:
    return {"add": x + y, "subtract": x - y, "multiply": x * y}[operation]


def error_answers(x: int, y: int, operation: str) -> list[tuple[str, int]]:
    """Wrong answers a person following a typical faulty procedure would give, most diagnostic first."""
    dx, dy = _digits(x), _digits(y)
    width = max(len(dx), len(dy))
    col = [(dx[i] if i < len(dx) else 0, dy[i] if i < len(dy) else 0) for i in range(width)]
    out: list[tuple[str, int]] = []
    if operation == "add":
        out.append(("dropped carry", int("".join(str((a + b) % 10) for a, b in reversed(col)))))
        out.append(("wrote column sums", int("".join(str(a + b) for a, b in reversed(col)))))
    elif operation == "subtract":
        out.append(("smaller from larger", int("".join(str(abs(a - b)) for a, b in reversed(col)))))
        # borrowing without decrementing the next column: every borrow leaves the result 10^(i+1) too large
        undecremented = x - y + sum(10 ** (i + 1) for i, (a, b) in enumerate(col) if a < b and i + 1 < width)
        out.append(("borrow not decremented", undecremented))
    else:  # multiply by one digit
        out.append(("dropped carry", int("".join(str((a * y) % 10) for a, _ in reversed(col)))))
        out.append(("wrote column products", int("".join(str(a * y) for a, _ in reversed(col)))))
        out.append(("multiplier off by one", x * (y - 1)))
    right = correct_value(x, y, operation)
    out += [("place-value slip", right + 10), ("place-value slip", right - 10), ("off by one", right + 1),
            ("off by one", right - 1), ("place-value slip", right + 100), ("off by two", right + 2)]
    return out


def problem(variables: dict[str, str], levels: dict[str, str | None], derived: dict[str, object]) -> dict[str, str]:
    """One problem: ``x``, ``y``, ``symbol``, ``option_a`` … ``option_d``, ``answer_key`` and ``errors``, from the
    scenario's ``problem_seed`` and the condition's levels (``derived`` is unused; the signature is that of a
    causal template's Python hook, so a copied template can still call it)."""
    n_digits = int(str(levels["digits"]))
    operation = str(levels["operation"])
    regroup = levels["regroup"] == "regroup"
    x, y = operands(variables["problem_seed"], n_digits, operation, regroup)
    right = correct_value(x, y, operation)
    chosen: list[tuple[str, int]] = []
    for kind, value in error_answers(x, y, operation):
        if value > 0 and value != right and all(value != v for _, v in chosen):
            chosen.append((kind, value))
        if len(chosen) == 3:
            break
    rng = random.Random(f"arithmetic-options/{variables['problem_seed']}/{x}/{y}/{operation}")
    options = [("correct", right), *chosen]
    rng.shuffle(options)
    result = {"x": str(x), "y": str(y), "symbol": SYMBOLS[operation]}
    for key, (kind, value) in zip(KEYS, options, strict=True):
        result[f"option_{key}"] = str(value)
        if kind == "correct":
            result["answer_key"] = key
    result["errors"] = "; ".join(f"{key}: {kind}" for key, (kind, _) in zip(KEYS, options, strict=True)
                                 if kind != "correct")
    return result
