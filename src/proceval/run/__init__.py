"""Running subjects on a dataset: the resumable runner and the run directory.

The prompts, answer parsing, scoring arithmetic and subjects it uses live in :mod:`proceval.solvers` (below the
runner); their old names ``proceval.run.{parse,prompts,scoring,subjects}`` are the same module objects.
"""

import sys

from proceval.run.io import LoadedRun, load_run
from proceval.run.runner import run_dataset
from proceval.solvers import parse, prompts, scoring, subjects

for _module in (parse, prompts, scoring, subjects):
    sys.modules[f"{__name__}.{_module.__name__.rsplit('.', 1)[-1]}"] = _module

__all__ = ["LoadedRun", "load_run", "run_dataset"]
