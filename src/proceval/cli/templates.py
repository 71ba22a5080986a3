"""`proceval templates`: list the built-in templates and the registered Python tasks."""

from __future__ import annotations

import argparse

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from proceval.tasks import TASKS, make_task
from proceval.tasks.template import TemplateTask


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = subparsers.add_parser("templates", help="list built-in templates and tasks: factors, conditions, responses")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    table = Table(title="built-in templates and tasks", show_lines=True)
    for column in ("name", "factors (levels)", "conditions", "questions (response)", "description"):
        table.add_column(column, overflow="fold")
    for name in TASKS.names():
        task = make_task(name)
        factors = "\n".join(f"{f}: {', '.join(levels)}" for f, levels in task.factors.items()) or "—"
        if not isinstance(task, TemplateTask):
            options = ", ".join(f"{k}={v}" for k, v in task.options().items())
            table.add_row(escape(name), escape(factors), "—", escape(f"Python task (options: {options or 'none'})"),
                          escape(task.description))
            continue
        template = task.template
        questions = "\n".join(
            f"{q.name} ({q.response.type}"
            + (f" {q.response.scale.min}–{q.response.scale.max}" if q.response.scale else "")
            + (f", {len(q.response.options)} options" if q.response.options else "")
            + ")"
            for q in template.questions
        )
        table.add_row(escape(name), escape(factors), str(len(template.conditions)), escape(questions),
                      escape(template.spec.title or template.spec.description))
    Console().print(table)
    for name, why in TASKS.broken.items():
        Console(stderr=True).print(f"[yellow]task plugin {escape(name)} failed to load[/]: {escape(why)}")
    return 0
