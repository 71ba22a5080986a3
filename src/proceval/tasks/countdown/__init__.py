"""The built-in ``countdown`` task (Stream of Search): combine the input numbers with + − × ÷ to make the target.

Item ``index`` of ``seed`` is drawn from its own random generator: a target, then input numbers until they
make it (unless ``solvable_only=false``). Splits are functions of the problem, so they stay apart
whatever ``--n`` is: ``val_target`` holds the problems whose target is one of the held-out targets (10% of the
target range, drawn from the seed); of the others, a problem (numbers as a multiset, target) whose content hash
falls in the first ``val_share`` of the hash range is ``val`` — so an identical problem is never in both
``train`` and ``val`` — and the rest are ``train``.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from functools import lru_cache

from proceval.core.task import Task, TaskError, Verdict, make_item
from proceval.dataset import Item
from proceval.ids import content_id
from proceval.tasks.countdown.game import solve
from proceval.tasks.countdown.verify import verify_answer

SPLITS = ("train", "val", "val_target")
TEXT = ("Make the target from the numbers with +, -, * and / (no negative results, exact division only), "
        "using each number at most once. Write each step as a op b = c.")


@dataclass(frozen=True)
class CountdownConfig:
    inputs: int = 4  # how many numbers (2–5)
    low: int = 1  # input numbers are drawn from low..high
    high: int = 99
    target_low: int = 10  # targets from target_low..target_high
    target_high: int = 100
    val_target_share: float = 0.1  # share of the target range held out as the val_target split
    val_share: float = 0.1  # share of the other problems in val
    solvable_only: bool = True

    def __post_init__(self) -> None:
        if not 2 <= self.inputs <= 5:
            raise TaskError("inputs must lie in 2..5", field="option inputs")
        if not 0 <= self.low <= self.high:
            raise TaskError("input numbers need 0 <= low <= high", field="option low")
        if not 1 <= self.target_low <= self.target_high:
            raise TaskError("targets need 1 <= target_low <= target_high", field="option target_low")
        for name in ("val_target_share", "val_share"):
            if not 0.0 <= getattr(self, name) < 1.0:
                raise TaskError(f"{name} must lie in [0, 1)", field=f"option {name}")


@lru_cache(maxsize=64)
def _held_out(low: int, high: int, share: float, key: str) -> frozenset[int]:
    """``share`` of the targets low..high (at least one, never all, when share > 0), drawn from ``key``."""
    targets = range(low, high + 1)
    k = max(1, min(round(len(targets) * share), len(targets) - 1)) if share > 0 else 0
    return frozenset(random.Random(key).sample(targets, k))


def problem_item(numbers: list[int], target: int, split: str = "train", task: str = "countdown",
                 solution: list[str] | None = None, variables: dict[str, str] | None = None) -> Item:
    """The item asking to make ``target`` from ``numbers`` (its answer: a solution's operations, one a line, or
    ``None`` when unsolvable); the question is the stream's first line."""
    question = f"Current State: {target}:{numbers}, Operations: []"
    solution = solution if solution is not None else solve(numbers, target)
    variables = variables or {"numbers": str(numbers), "target": str(target)}  # the scenario id hashes these
    return make_item(task, variables, question,
                     "\n".join(solution) if solution else None, text=TEXT, condition={"split": split},
                     condition_name=split,
                     metadata={"numbers": numbers, "target": target, "inputs": len(numbers), "split": split,
                               "solvable": solution is not None})


class Countdown(Task):
    name = "countdown"
    Config = CountdownConfig
    description = "Countdown (Stream of Search): make the target from 2–5 numbers with + − × ÷; rated streams"
    config: CountdownConfig

    @property
    def factors(self) -> dict[str, list[str]]:
        return {"split": list(SPLITS)}

    def held_out_targets(self, seed: int) -> frozenset[int]:
        """The ``val_target`` targets of ``seed`` (the same for every item)."""
        c = self.config
        return _held_out(c.target_low, c.target_high, c.val_target_share, content_id(self.name, self.options(), seed))

    def split_of(self, numbers: list[int], target: int, seed: int) -> str:
        if target in self.held_out_targets(seed):
            return "val_target"
        position = int(content_id("countdown split", sorted(numbers), target, seed), 16) / 16**16
        return "val" if position < self.config.val_share else "train"

    def item(self, seed: int, index: int) -> Item:
        c = self.config
        rng = self.rng(seed, index)
        # the target first, then numbers until they make it, as the published generator does: redrawing the
        # target with every draw would favour targets that many draws make (DFS + sum then solves 78% of 4-input
        # problems, not the published 83%). A target no numbers in range can make (97 from two numbers ≤ 30) is
        # given up after 1,000 draws.
        for draw in range(100_000):
            if draw % 1000 == 0:
                target = rng.randint(c.target_low, c.target_high)
            numbers = [rng.randint(c.low, c.high) for _ in range(c.inputs)]
            solution = solve(numbers, target)
            if solution is not None or not c.solvable_only:
                return problem_item(numbers, target, self.split_of(numbers, target, seed), self.name, solution,
                                    self.variables(seed, index))  # those of the scenario draws() writes
        raise TaskError(f"no solvable problem found for item {index} in 100000 draws",
                        hint="widen the number or target ranges, or pass --option solvable_only=false")

    def verify(self, item: Item, answer: str) -> Verdict | None:
        return verify_answer(item.metadata["numbers"], int(item.metadata["target"]), answer)
