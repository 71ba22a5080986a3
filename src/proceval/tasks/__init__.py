"""Built-in tasks and the task registry: Python tasks by name, and every built-in causal template as a task.

    from proceval.tasks import make_task
    task = make_task("long-arithmetic", {"digits": "3"})
    items = task.items(5, seed=0)
    task.verify(items[0], "The answer is 579.")

Plugins add tasks under the ``proceval.tasks`` entry-point group (a :class:`proceval.core.Task` subclass).
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import partial
from typing import Any

from proceval.core.registry import Registry
from proceval.core.task import Task, TaskError


def _builtin_templates() -> Mapping[str, Any]:
    from proceval.templates import builtin_templates
    from proceval.tasks.template import TemplateTask

    return {name: partial(TemplateTask.from_template, name) for name in builtin_templates()}


TASKS: Registry[Any] = Registry(
    "tasks",
    builtins={
        "arithmetic": "proceval.tasks.arithmetic:ArithmeticTask",
        "long-arithmetic": "proceval.tasks.long_arithmetic:LongArithmetic",
    },
    loaders=[_builtin_templates],
)


def make_task(name: str, options: Mapping[str, Any] | None = None) -> Task:
    """The task registered as ``name`` with ``options`` (its config fields; strings are converted)."""
    factory = TASKS.get(name)
    if isinstance(factory, type) and issubclass(factory, Task):
        return factory.from_options(dict(options or {}))
    if options:
        raise TaskError(f"task {name!r} takes no options", field="option")
    made = factory()
    if not isinstance(made, Task):
        raise TaskError(f"the task {name!r} is registered as {factory!r}, which does not make a Task",
                        hint="register a subclass of proceval.core.Task")
    return made


__all__ = ["TASKS", "make_task"]
