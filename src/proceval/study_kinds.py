"""Study files of other kinds: a file whose top level has one of these sections (``simulation:``, ``sos:``,
``sami:``, ...) is run by that kind's module, not by the evaluation study (dataset → subjects → analysis).

Each entry is a function ``run(path, *, out, force, log) -> StudyResult`` (see :mod:`proceval.study`), so
``proceval study FILE`` runs, resumes and prints every kind the same way. A plugin adds a kind through the
``proceval.study_kinds`` entry-point group.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from proceval.core.registry import Registry

STUDY_KINDS: Registry[Callable[..., Any]] = Registry("study_kinds", builtins={
    "sami": "proceval.train.sami.study:run_sami_study",
    "simulation": "proceval.envs.study:run_simulation_study",
    "sos": "proceval.train.experiment:run_sos_study",
})


def study_kind(data: object) -> str | None:
    """The kind a study file's parsed YAML declares by its section, or None for an evaluation study."""
    if not isinstance(data, dict):
        return None
    found = [key for key in data if isinstance(key, str) and key in STUDY_KINDS]
    return found[0] if len(found) == 1 else None


def run_study_file(path: Path, *, out: Path, force: bool = False, log: Callable[[str], None] = print) -> Any:
    """Run the study file at ``path`` whatever its kind; returns a :class:`proceval.study.StudyResult`."""
    from proceval.errors import StudyError
    from proceval.study import run_study
    from proceval.templates.yamlio import read_yaml

    data, _ = read_yaml(path, StudyError)
    kind = study_kind(data)
    if kind is None:
        return run_study(path, out=out, force=force, log=log)
    return STUDY_KINDS.get(kind)(path, out=out, force=force, log=log)
