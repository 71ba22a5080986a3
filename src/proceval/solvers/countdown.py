"""Countdown's heuristic searches as program solvers: ``countdown-dfs-sum`` … ``countdown-bfs5-mult`` and
``countdown-optimal``. The answer is the whole stream (the verifier rates it), so a run stores every stream;
the trajectory holds one ``action`` step with the strategy, the explored operations and the path found."""

from __future__ import annotations

from typing import Any, ClassVar

from proceval.dataset import Item
from proceval.solvers.base import Trajectory
from proceval.solvers.program import ProgramSolver
from proceval.tasks.countdown.game import solve
from proceval.tasks.countdown.search import STRATEGIES, path_stream, run_strategy


class CountdownSearch(ProgramSolver):
    """One search strategy (``strategy``: one of :data:`STRATEGIES`, or ``optimal``: the solution path only)."""

    strategy: ClassVar[str] = "dfs-sum"

    def solve(self, item: Item, trajectory: Trajectory) -> str | None:
        numbers, target = item.metadata.get("numbers"), item.metadata.get("target")
        if not isinstance(numbers, list) or not isinstance(target, int):
            trajectory.add("state", parsed=None)
            return None  # not a countdown item: recorded as invalid
        if self.strategy == "optimal":
            path = solve(numbers, target)
            trajectory.add("action", strategy="optimal", explored=len(path or []), path=path or [])
            return path_stream(target, numbers, path) if path else None
        search = run_strategy(self.strategy, target, numbers)
        trajectory.add("action", strategy=self.strategy, explored=search.explored, path=search.path)
        return search.stream

    def identity(self) -> dict[str, Any]:
        return {"name": self.name, "strategy": self.strategy}


def solvers() -> dict[str, type[CountdownSearch]]:
    """name → solver class, one per strategy (the loader of :data:`proceval.solvers.SOLVERS`)."""
    return {f"countdown-{strategy}": type(f"Countdown_{strategy.replace('-', '_')}", (CountdownSearch,),
                                          {"name": f"countdown-{strategy}", "strategy": strategy})
            for strategy in (*STRATEGIES, "optimal")}
