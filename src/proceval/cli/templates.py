"""`proceval templates`: list the built-in templates."""

from __future__ import annotations

import argparse

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from proceval.templates import builtin_templates, load_template


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = subparsers.add_parser("templates", help="list built-in templates: factors, conditions, responses")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    table = Table(title="built-in templates", show_lines=True)
    for column in ("name", "factors (levels)", "conditions", "questions (response)", "description"):
        table.add_column(column, overflow="fold")
    for name in builtin_templates():
        template = load_template(name)
        factors = "\n".join(f"{f}: {', '.join(levels)}" for f, levels in template.factors.items()) or "—"
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
    return 0
