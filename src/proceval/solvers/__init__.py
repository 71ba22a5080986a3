"""Who answers: solvers (a model under a prompt strategy, a guided model, a program, a human marker) and the
scorers that judge their answers, each found by name in a registry open to plugins (``proceval.solvers``,
``proceval.scorers`` entry points).

    from proceval.solvers import SOLVERS
    SOLVERS.names()   # ['calculator', 'countdown-bfs1-mult', …, 'guided', 'human', 'model']
"""

from __future__ import annotations

from typing import Any

from proceval.core.registry import Registry
from proceval.solvers.base import Solver, Trajectory, new_record


def _countdown_solvers() -> dict[str, Any]:
    """The Countdown search strategies, one solver each (imported on the first lookup)."""
    from proceval.solvers.countdown import solvers

    return dict(solvers())


SOLVERS: Registry[Any] = Registry("solvers", builtins={
    "model": "proceval.solvers.model:ModelSolver",
    "guided": "proceval.solvers.guided:GuidedSolver",
    "calculator": "proceval.solvers.program:Calculator",
    "human": "proceval.solvers.human:HumanSolver",
}, loaders=[_countdown_solvers])

__all__ = ["SOLVERS", "Solver", "Trajectory", "new_record"]
