"""Who answers: solvers (a model under a prompt strategy, a guided model, a program, a human marker) and the
scorers that judge their answers, each found by name in a registry open to plugins (``proceval.solvers``,
``proceval.scorers`` entry points).

    from proceval.solvers import SOLVERS
    SOLVERS.names()   # ['calculator', 'countdown-bfs1-mult', …, 'guided', 'human', 'logic-guide', 'model']

A solver that declares ``Options`` (a dataclass) takes options (``--option KEY=VALUE`` on ``proceval run``,
``options:`` in a study file): :func:`configured` registers the solver with those options under a name that
spells them (``logic-guide:formalise=proceval``), so the run records and resumes exactly that solver.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from proceval.core.registry import Registry
from proceval.core.task import config_from_options
from proceval.errors import RunError
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
    "logic-guide": "proceval.solvers.logic_solver:LogicGuideSolver",
    "logic-cot": "proceval.solvers.logic_solver:LogicCotSolver",
}, loaders=[_countdown_solvers])


def configured(name: str, options: Mapping[str, Any] | None) -> str:
    """The registered name of solver ``name`` with ``options`` (strings are typed by its ``Options``); ``name``
    itself when there are none or all are the defaults. Unknown options are refused with the known ones.
    ``name`` may spell options itself (``logic-guide:formalise=proceval``, the name a run records)."""
    name, _, spelled = name.partition(":")
    options = {**dict(pair.split("=", 1) for pair in spelled.split(",") if "=" in pair), **(options or {})}
    base = SOLVERS.get(name)
    if not options:
        return name
    declared = getattr(base, "Options", None)
    if declared is None:
        raise RunError(f"the solver {name!r} takes no options", field="option",
                       hint="drop --option (options: in a study file)")
    values = dataclasses.asdict(config_from_options(declared, {**dataclasses.asdict(base.options), **options},
                                                    name, what="solver"))
    defaults = dataclasses.asdict(base.options)  # the solver's own defaults (logic-cot: guide off)
    changed = {k: v for k, v in values.items() if v != defaults[k]}
    if not changed:
        return name
    full = f"{name}:" + ",".join(f"{k}={str(v).lower() if isinstance(v, bool) else v}"
                                                   for k, v in sorted(changed.items()))
    if full not in SOLVERS:
        SOLVERS.register(full, type(base.__name__, (base,), {"name": full, "options": declared(**values)}))
    return full


__all__ = ["SOLVERS", "Solver", "Trajectory", "configured", "new_record"]
