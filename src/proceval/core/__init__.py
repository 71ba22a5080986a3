"""The small shared vocabulary: items, tasks (generator + verifier), solvers, the generic registry."""

from proceval.core.registry import PluginError, Registry, UnknownName
from proceval.core.task import NoOptions, Problem, Task, TaskError, Verdict, make_item, task
from proceval.dataset import Item, Scenario

__all__ = ["Item", "NoOptions", "PluginError", "Problem", "Registry", "Scenario", "Task", "TaskError",
           "UnknownName", "Verdict", "make_item", "task"]
