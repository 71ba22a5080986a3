"""Running subjects on a dataset: prompts, scoring, the resumable runner and the run directory."""

from proceval.run.io import LoadedRun, load_run
from proceval.run.runner import run_dataset

__all__ = ["LoadedRun", "load_run", "run_dataset"]
