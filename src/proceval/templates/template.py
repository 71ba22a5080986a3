"""A loaded, validated causal template: conditions, causal mechanisms, and the rendering of items.

Everything that depends only on the template (which conditions exist, which story segments each shows,
which questions each asks and their correct answers) is computed once at load, so any inconsistency is
reported before any work and rendering an item is little more than joining pre-rendered strings.

Loading and validating a template from YAML is :mod:`proceval.templates.loading`; checking that its parts
fit together and computing its conditions is :mod:`proceval.templates.validate`; rendering items is
:mod:`proceval.templates.render`.
"""

from __future__ import annotations

import functools
import hashlib
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jinja2 import UndefinedError
from jinja2.exceptions import SecurityError

from proceval.dataset import Item, Scenario
from proceval.templates.render import _Renderer
from proceval.templates.schema import Question, TemplateSpec, Variable
from proceval.templates.syntax import (
    ENV,
    _names_in,
    _parse_edge,
    _topological_order,
    sandbox_error,
)
from proceval.templates.yamlio import LineMap


@dataclass
class Condition:
    """One experimental condition: factor levels, the causal values they imply, what is shown and asked."""

    name: str
    levels: dict[str, str | None]
    derived: dict[str, Any]
    segments: list[int]  # indices into the story shown in this condition, in story order
    questions: list[tuple[int, str | None]]  # (question index, correct option key or None)


@dataclass
class Template:
    spec: TemplateSpec
    source_text: str
    path: Path | None = None
    lines: LineMap = field(default_factory=LineMap)
    conditions: list[Condition] = field(default_factory=list)
    hook: Callable[..., dict[str, Any]] | None = None
    _renderer: _Renderer | None = field(default=None, repr=False, compare=False)

    # ----- identity and simple views -------------------------------------------------------------
    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def hash(self) -> str:
        return hashlib.sha256(self.source_text.encode("utf-8")).hexdigest()

    @property
    def variables(self) -> dict[str, Variable]:
        return self.spec.variables

    @property
    def factors(self) -> dict[str, list[str]]:
        return {name: list(f.levels) for name, f in self.spec.factors.items()}

    @property
    def graph_edges(self) -> list[tuple[str, str]]:
        return [_parse_edge(edge) for edge in self.spec.graph]

    @property
    def judge_rubric(self) -> str | None:
        return self.spec.judge.rubric if self.spec.judge else None

    @property
    def questions(self) -> list[Question]:
        return self.spec.questions

    def condition(self, name: str) -> Condition:
        for condition in self.conditions:
            if condition.name == name:
                return condition
        raise KeyError(name)

    @functools.cached_property
    def used_variables(self) -> set[str]:
        """Variables that appear in the story, questions or options (the rest are informational)."""
        names: set[str] = set()
        for segment in self.spec.story:
            names |= _names_in(segment.text)
        for question in self.spec.questions:
            names |= _names_in(question.text)
            for option in question.response.options:
                names |= _names_in(option.text)
        return names & set(self.spec.variables)

    def describe_graph(self) -> str:
        """The causal graph as text: one line per cause, effects in declaration order."""
        edges = self.graph_edges
        if not edges:
            return "(no causal graph declared)"
        by_cause: dict[str, list[str]] = {}
        for cause, effect in edges:
            by_cause.setdefault(cause, []).append(effect)
        order = _topological_order(edges)
        lines = [f"{cause} → {', '.join(by_cause[cause])}" for cause in order if cause in by_cause]
        if self.spec.derived:
            lines.append("")
            lines.append("mechanisms:")
            lines += [f"  {name} = {expr}" for name, expr in self.spec.derived.items()]
        return "\n".join(lines)

    # ----- scenario checks ----------------------------------------------------------------------
    def check_scenario(self, values: dict[str, str]) -> list[str]:
        """Constraint violations of a filled scenario (empty when it passes)."""
        problems = []
        for name in sorted(self.used_variables):
            if not str(values.get(name, "")).strip():
                problems.append(f"{name}: missing or empty")
        for name, variable in self.spec.variables.items():
            value = values.get(name)
            if value is None:
                continue
            c = variable.constraints
            words = len(str(value).split())
            if c.min_words is not None and words < c.min_words:
                problems.append(f"{name}: {words} words, fewer than {c.min_words}")
            if c.max_words is not None and words > c.max_words:
                problems.append(f"{name}: {words} words, more than {c.max_words}")
            if c.pattern and not re.search(c.pattern, str(value)):
                problems.append(f"{name}: does not match {c.pattern!r}")
            for banned in c.must_not_mention:
                try:
                    word = ENV.from_string(banned).render(values).strip()
                except UndefinedError:
                    continue
                except SecurityError as exc:
                    raise sandbox_error(exc, f"variables.{name}.constraints.must_not_mention") from None
                if word and word.lower() in str(value).lower():
                    problems.append(f"{name}: mentions {word!r}")
            for other in c.must_differ_from:
                if other in values and str(values[other]).strip().lower() == str(value).strip().lower():
                    problems.append(f"{name}: same as {other}")
        return problems

    # ----- rendering ----------------------------------------------------------------------------
    def render(self, scenario: Scenario) -> Iterator[Item]:
        """Every item of one scenario: each condition × each question it asks."""
        if self._renderer is None:
            self._renderer = _Renderer(self)
        return self._renderer.render(scenario)
