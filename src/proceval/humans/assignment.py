"""Which items each participant sees, and in what order.

Lists follow a Latin square over conditions: list ``j`` gives scenario ``i`` the condition
``conditions[(i + j) % k]`` (all of that cell's questions), so every list holds at most one condition per
scenario and, across ``k`` lists, every scenario × condition cell appears exactly once. With
``items_per_participant`` the square's lists are cut into consecutive blocks of scenarios (a multiple of ``k``
scenarios where possible, keeping each block balanced over conditions), giving more, shorter lists.

A participant's plan (trial order, option order, where attention checks go) is a pure function of the seed,
the list and the participant's key, so it can be recomputed and audited.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from proceval.dataset import Item
from proceval.errors import HumansError
from proceval.humans.config import AttentionCheck, StudyConfig
from proceval.ids import content_id


@dataclass
class StudyLists:
    """The lists of a study: ``lists[j]`` is the item ids of list ``j`` in canonical order."""

    lists: list[list[str]]
    conditions: list[str]
    n_scenarios: int
    missing_cells: list[tuple[str, str]] = field(default_factory=list)  # (scenario_id, condition) absent

    def __len__(self) -> int:
        return len(self.lists)


def build_lists(items: Sequence[Item], config: StudyConfig) -> StudyLists:
    """Latin-square lists over the items' conditions (see the module docstring)."""
    if not items:
        raise HumansError("the dataset has no items to show", hint="generate a dataset with at least one item")
    conditions: list[str] = []
    scenarios: list[str] = []
    cells: dict[tuple[str, str], list[str]] = {}
    for item in items:
        if item.condition_name not in conditions:
            conditions.append(item.condition_name)
        if item.scenario_id not in scenarios:
            scenarios.append(item.scenario_id)
        cells.setdefault((item.scenario_id, item.condition_name), []).append(item.id)
    k = len(conditions)
    square: list[list[list[str]]] = []  # list -> scenario -> item ids
    missing: list[tuple[str, str]] = []
    for j in range(k):
        per_scenario = []
        for i, scenario in enumerate(scenarios):
            condition = conditions[(i + j) % k]
            ids = cells.get((scenario, condition))
            if ids is None:
                missing.append((scenario, condition))
                ids = []
            per_scenario.append(ids)
        square.append(per_scenario)

    n = config.items_per_participant
    widest = max(len(ids) for ids in cells.values())
    if n is None or n >= max(sum(len(ids) for ids in lst) for lst in square):
        block = len(scenarios)
    else:
        if n < widest:
            raise HumansError(
                f"items_per_participant is {n} but one scenario × condition cell has {widest} questions",
                field="items_per_participant",
                hint=f"set it to at least {widest}: a participant sees all questions of a cell together",
            )
        block = n // widest
        if block >= k:
            block -= block % k
    lists: list[list[str]] = []
    for per_scenario in square:
        for start in range(0, len(scenarios), block):
            chunk = [item_id for ids in per_scenario[start:start + block] for item_id in ids]
            if chunk:
                lists.append(chunk)
    return StudyLists(lists=lists, conditions=conditions, n_scenarios=len(scenarios), missing_cells=missing)


def least_filled(counts: Sequence[int]) -> int:
    """The list to fill next: fewest participants, ties broken by the lowest index."""
    if not counts:
        raise HumansError("the study has no lists")
    return min(range(len(counts)), key=lambda j: (counts[j], j))


def check_positions(n_items: int, n_checks: int) -> list[int]:
    """Where ``n_checks`` attention checks go among ``n_items`` trials: evenly spaced, never first.

    Returns, for each check, the number of item trials shown before it.
    """
    return [max(1, round((c + 1) * n_items / (n_checks + 1))) if n_items else 0 for c in range(n_checks)]


def make_plan(
    list_items: Sequence[Item],
    checks: Sequence[AttentionCheck],
    config: StudyConfig,
    participant_key: str,
) -> list[dict[str, Any]]:
    """The participant's trials in order: ``{"item": id, "order": [keys] | None}`` or ``{"check": id, ...}``.

    Trial order and option order are shuffled with a random generator seeded by the study seed and the
    participant's key, so different participants see different orders and the same participant always
    sees the same one.
    """
    rng = random.Random(content_id("plan", config.seed, participant_key))
    items = list(list_items)
    if config.shuffle_trials:
        rng.shuffle(items)

    def order(options: list[str]) -> list[str]:
        keys = list(options)
        if config.shuffle_options:
            rng.shuffle(keys)
        return keys

    trials: list[dict[str, Any]] = []
    for item in items:
        keys = [o["key"] for o in item.options] if item.response_type == "choice" else None
        trials.append({"item": item.id, "order": order(keys) if keys else None})
    positions = check_positions(len(items), len(checks))
    for offset, (before, check) in enumerate(zip(positions, checks, strict=True)):
        trials.insert(before + offset, {"check": check.id, "order": order([o.key for o in check.options])})
    return trials
