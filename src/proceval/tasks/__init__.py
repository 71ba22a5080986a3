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

from proceval.core.task import TASKS, Task, TaskError
from proceval.dataset import MANIFEST_FILE, Dataset
from proceval.errors import ProcevalError, RunError


def builtin_template_tasks() -> Mapping[str, Any]:
    """Every built-in causal template (``tasks/<family>/<name>.yaml``) as a task factory, by template name."""
    from proceval.tasks.template import TemplateTask
    from proceval.templates import builtin_templates

    return {name: partial(TemplateTask.from_template, name) for name in builtin_templates()}


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




def dataset_task(dataset: Dataset) -> Task | None:
    """The Python task that made ``dataset`` (its verifier scores free-text answers), or ``None`` for datasets
    made from causal templates."""
    source = dataset.manifest.source
    if source.get("kind") != "task":
        return None
    try:
        return make_task(str(source["task"]), source.get("config") or {})
    except ProcevalError as exc:
        raise RunError(f"the dataset was made by task {source['task']!r}, which cannot be made here: {exc.message}",
                       file=dataset.path / MANIFEST_FILE,
                       hint="install or register (proceval.tasks.TASKS.register) the task that made it") from None


__all__ = ["TASKS", "dataset_task", "make_task"]
