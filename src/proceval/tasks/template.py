"""Causal templates as tasks: scenarios filled from the template's lexicon, rendered in every condition.

The YAML language is unchanged; this only lets a template stand wherever a task is expected (the task registry,
the runner's verifier). Scenarios from tables or an LLM writer still come through :func:`proceval.generate`.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from proceval.core.task import Task
from proceval.dataset import Item, Scenario, SkippedRow
from proceval.templates import Template, load_template


class TemplateTask(Task):
    """A causal template: draw i is the i-th scenario of its lexicon (seeded), rendered in every condition.
    Choice answers are checked against the answer key; ratings and free text have no verifier."""

    def __init__(self, template: Template) -> None:
        super().__init__()
        self.template = template
        self.name = template.name  # type: ignore[misc]  # per instance: one class serves every template

    @classmethod
    def from_template(cls, name_or_path: str) -> TemplateTask:
        return cls(load_template(name_or_path))

    def draws(self, n: int, seed: int) -> Iterator[tuple[Scenario, list[Item]]]:
        from proceval.scenarios.lexicon import lexicon_scenarios

        for outcome in lexicon_scenarios(self.template, n, seed):
            if not isinstance(outcome, SkippedRow):
                yield outcome, list(self.template.render(outcome))

    def options(self) -> dict[str, Any]:
        return {}

    @property
    def factors(self) -> dict[str, list[str]]:
        return self.template.factors
