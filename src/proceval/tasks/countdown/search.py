"""The heuristic solvers of Stream of Search, each writing its whole search as a stream (docs/sos.md).

- DFS: expand a state's children in heuristic order (lowest first), pruning children whose heuristic exceeds
  the target; backtrack to the parent after a dead end.
- BFS with beam b: keep the best b children of each expanded state; each round expands the best b states of
  the whole open set (the published solver: a dead-end leaf still takes a place when it is among the best).

12 strategies: ``dfs-sum``, ``dfs-mult``, ``bfs1-sum`` … ``bfs5-mult``. Ties in the heuristic keep the order in
which children were generated, so a stream is the same on every machine.
"""

from __future__ import annotations

import heapq
from collections.abc import Sequence
from dataclasses import dataclass

from proceval.tasks.countdown.game import HEURISTICS, Heuristic, children

STRATEGIES = ("dfs-sum", "dfs-mult", *(f"bfs{b}-{h}" for b in range(1, 6) for h in ("sum", "mult")))


@dataclass
class Search:
    """A finished search: its stream, the path that reached the goal (empty when none) and its size."""

    stream: str
    path: list[str]
    explored: int  # "Exploring Operation" lines written

    @property
    def solved(self) -> bool:
        return bool(self.path)


def _nums(nums: Sequence[int]) -> str:
    return "[" + ", ".join(map(str, nums)) + "]"


def _state(target: int, nums: Sequence[int], operations: Sequence[str]) -> str:
    return f"Current State: {target}:{_nums(nums)}, Operations: [{', '.join(operations)}]"


def dfs(target: int, nums: Sequence[int], heuristic: Heuristic, threshold: float | None = None) -> Search:
    """Depth-first search, children in heuristic order, pruned above ``threshold`` (the target by default)."""
    limit = target if threshold is None else threshold
    lines: list[str] = []
    explored = 0

    def visit(state: list[int], operations: list[str], node: str) -> list[str] | None:
        nonlocal explored
        lines.append(_state(target, state, operations))
        kept = sorted(((heuristic(c, target), c, op) for c, op in children(state)
                       if heuristic(c, target) <= limit), key=lambda t: t[0])
        for g, (_, child, op) in enumerate(kept):
            explored += 1
            lines.append(f"Exploring Operation: {op}, Resulting Numbers: {_nums(child)}")
            if len(child) == 1:
                if child[0] == target:
                    lines.append(f"{target},{target} equal: Goal Reached")
                    return [*operations, op]
                lines.append(f"{child[0]},{target} unequal: No Solution")
            else:
                child_node = f"{node},{g}"
                lines.append(f"Generated Node #{child_node}: {target}:{_nums(child)} Operation: {op}")
                lines.append(f"Moving to Node #{child_node}")
                found = visit(child, [*operations, op], child_node)
                if found is not None:
                    return found
            if g < len(kept) - 1:
                lines.append(f"Moving to Node #{node}")
                lines.append(_state(target, state, operations))
        return None

    path = visit(list(nums), [], "0")
    return Search("\n".join(lines), path or [], explored)


def bfs(target: int, nums: Sequence[int], heuristic: Heuristic, beam: int) -> Search:
    """Beam search: each round expands the best ``beam`` open states; each keeps its best ``beam`` children."""
    lines: list[str] = []
    explored = 0
    counter = 0  # ties in the heuristic: first generated first
    open_set: list[tuple[float, int, list[int], list[str], str]] = [(heuristic(nums, target), counter, list(nums), [], "0")]
    while open_set:
        current = [heapq.heappop(open_set) for _ in range(min(beam, len(open_set)))]
        for position, (_, _, state, operations, node) in enumerate(current):
            lines.append(_state(target, state, operations))
            generated = sorted(((heuristic(c, target), c, op) for c, op in children(state)), key=lambda t: t[0])
            for g, (h, child, op) in enumerate(generated[:beam]):
                explored += 1
                lines.append(f"Exploring Operation: {op}, Resulting Numbers: {_nums(child)}")
                if len(child) == 1 and child[0] == target:
                    lines.append(f"{target},{target} equal: Goal Reached")
                    return Search("\n".join(lines), [*operations, op], explored)
                child_node = f"{node},{g}"
                if len(child) == 1:
                    lines.append(f"{child[0]},{target} unequal: No Solution")
                else:
                    lines.append(f"Generated Node #{child_node}: {target}:{_nums(child)} Operation: {op}")
                counter += 1
                heapq.heappush(open_set, (h, counter, child, [*operations, op], child_node))
            if position < len(current) - 1:
                lines.append(f"Moving to Node #{current[position + 1][4]}")
        if open_set:
            lines.append(f"Moving to Node #{open_set[0][4]}")
    lines.append("No Solution Found")
    return Search("\n".join(lines), [], explored)


def run_strategy(strategy: str, target: int, nums: Sequence[int]) -> Search:
    """Search with one of :data:`STRATEGIES`."""
    kind, _, heuristic_name = strategy.partition("-")
    if strategy not in STRATEGIES:
        raise ValueError(f"unknown strategy {strategy!r}; known: {', '.join(STRATEGIES)}")
    heuristic = HEURISTICS[heuristic_name]
    if kind == "dfs":
        return dfs(target, nums, heuristic)
    return bfs(target, nums, heuristic, int(kind[3:]))


def path_stream(target: int, nums: Sequence[int], path: Sequence[str]) -> str:
    """The optimal-path text: the stream of a search that explores only the solution's operations."""
    from proceval.tasks.countdown.verify import parse_operations

    state = list(nums)
    lines = [_state(target, state, [])]
    node = "0"
    for step, op in enumerate(parse_operations("\n".join(path))):
        state.remove(op.left)
        state.remove(op.right)
        state.append(op.result)
        lines.append(f"Exploring Operation: {op}, Resulting Numbers: {_nums(state)}")
        if step == len(path) - 1:
            lines.append(f"{op.result},{target} equal: Goal Reached")
        else:
            node = f"{node},0"
            lines.append(f"Generated Node #{node}: {target}:{_nums(state)} Operation: {op}")
            lines.append(f"Moving to Node #{node}")
            lines.append(_state(target, state, [str(o) for o in parse_operations("\n".join(path[:step + 1]))]))
    return "\n".join(lines)
