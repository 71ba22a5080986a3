"""Running subjects on a dataset: prompts, scoring, the resumable runner and the run directory."""

from proceval.run.io import LoadedRun, load_run

__all__ = ["LoadedRun", "load_run"]
