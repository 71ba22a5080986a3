"""Rendering a template's items: texts that depend only on the scenario are rendered once per scenario, the
rest once per condition.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from jinja2.exceptions import SecurityError

from proceval.dataset import Item, Scenario
from proceval.errors import TemplateError
from proceval.ids import canonical_json, text_id
from proceval.templates.syntax import (
    _SIMPLE_REFERENCE,
    ENV,
    _names_in,
    compile_expression,
    sandbox_error,
    sentence_start,
)

if TYPE_CHECKING:  # the template module imports this one
    from proceval.templates.template import Condition, Template


@dataclass
class _Text:
    """A compiled Jinja2 text (a story segment, question or option) and whether it depends on the condition.

    Each such text is shown as its own sentence, so its first character is capitalised here, where the
    sentence starts; values filled into the middle of a text are never changed.
    """

    source: str
    compiled: Any
    per_condition: bool
    where: str = ""  # the field it came from, for errors

    def __post_init__(self) -> None:
        # "{{ name }}" alone is the common case: look it up instead of running Jinja2
        match = _SIMPLE_REFERENCE.match(self.source.strip())
        self.simple: str | None = match.group(1) if match else None

    def render(self, context: dict[str, Any]) -> str:
        if self.simple is not None:
            return sentence_start(str(context[self.simple]).strip())
        try:
            return sentence_start(str(self.compiled.render(context)).strip())
        except SecurityError as exc:
            raise sandbox_error(exc, self.where) from None


class _Renderer:
    """Renders items; texts that depend only on the scenario are rendered once per scenario."""

    def __init__(self, template: Template) -> None:
        self.template = template
        spec = template.spec
        per_condition = set(spec.factors) | set(spec.derived) | {"condition_name"}
        if spec.python:
            per_condition |= set(spec.python.provides)

        def compile_text(text: str, where: str) -> _Text:
            return _Text(text, ENV.from_string(text), bool(_names_in(text) & per_condition), where)

        self.segments = [compile_text(s.text, f"story.{s.name}") for s in spec.story]
        self.questions = [compile_text(q.text, f"questions.{q.name}.text") for q in spec.questions]
        self.options = [[(o.key, compile_text(o.text, f"questions.{q.name}.options.{o.key}"))
                         for o in q.response.options] for q in spec.questions]
        self.answers = {
            qi: compile_expression(q.response.answer)
            for qi, q in enumerate(spec.questions)
            if q.response.type == "choice" and q.response.answer
        }
        self.scales = {
            qi: {"min": q.response.scale.min, "max": q.response.scale.max,
                 "labels": {str(k): v for k, v in q.response.scale.labels.items()}}
            for qi, q in enumerate(spec.questions)
            if q.response.scale is not None
        }
        self.keys = {qi: [key for key, _ in options] for qi, options in enumerate(self.options)}
        # shared, read-only per condition: items are serialised immediately, never mutated
        self.metadata = {
            c.name: {"segments": [spec.story[i].name for i in c.segments], "derived": c.derived}
            for c in template.conditions
        }

    def hook_error(self, message: str, scenario: Scenario, condition: Condition) -> TemplateError:
        spec = self.template.spec
        hook = spec.python.function if spec.python else "?"
        return TemplateError(f"template {self.template.name!r}: python hook {hook!r} on scenario {scenario.id} in "
                             f"condition {condition.name!r}: {message}", file=self.template.path,
                             field="python.function")

    def call_hook(self, scenario: Scenario, condition: Condition) -> dict[str, Any]:
        """The hook's values, checked to be the names the template says it provides."""
        assert self.template.hook is not None and self.template.spec.python is not None
        try:
            values = self.template.hook(dict(scenario.variables), dict(condition.levels), dict(condition.derived))
        except Exception as exc:
            raise self.hook_error(f"failed: {exc!r}", scenario, condition) from None
        if not isinstance(values, Mapping):
            raise self.hook_error(f"returned {values!r}, not a mapping of its provided names to values",
                                  scenario, condition)
        missing = [name for name in self.template.spec.python.provides if name not in values]
        if missing:
            raise self.hook_error(f"returned no {', '.join(missing)} (python.provides lists them)", scenario,
                                  condition)
        return dict(values)

    def hook_answer(self, qi: int, context: dict[str, Any], scenario: Scenario, condition: Condition) -> str:
        """The answer computed from the hook's values; one that names no option would mark every response wrong."""
        question = self.template.spec.questions[qi]
        value = self.answers[qi](**context)
        if value is None or str(value) not in self.keys[qi]:
            raise self.hook_error(f"question {question.name!r}: the answer {question.response.answer!r} is "
                                  f"{value!r}, which names no option (options: {', '.join(self.keys[qi])})",
                                  scenario, condition)
        return str(value)

    def render(self, scenario: Scenario) -> Iterator[Item]:
        template = self.template
        spec = template.spec
        base: dict[str, Any] = dict(scenario.variables)
        # texts that depend only on the scenario are rendered once here, not once per condition
        static_segments = {i: t.render(base) for i, t in enumerate(self.segments) if not t.per_condition}
        static_questions = {i: t.render(base) for i, t in enumerate(self.questions) if not t.per_condition}
        static_options = {
            qi: [{"key": k, "text": t.render(base)} for k, t in options]
            for qi, options in enumerate(self.options)
            if not any(t.per_condition for _, t in options)
        }
        response_json: dict[int, str] = {}  # canonical JSON of static responses, for the ids
        for condition in template.conditions:
            context = {**base, **condition.levels, **condition.derived, "condition_name": condition.name}
            if template.hook is not None:
                context.update(self.call_hook(scenario, condition))
            parts = []
            for i in condition.segments:
                part = static_segments[i] if i in static_segments else self.segments[i].render(context)
                if part:
                    parts.append(part)
            text = " ".join(parts)
            for qi, answer in condition.questions:
                question = spec.questions[qi]
                response: dict[str, Any] = {"type": question.response.type}
                static_response = True
                if question.response.type == "choice":
                    if qi in static_options:
                        response["options"] = static_options[qi]
                    else:
                        static_response = False
                        response["options"] = [{"key": k, "text": t.render(context)} for k, t in self.options[qi]]
                    if answer is None and qi in self.answers:
                        answer = self.hook_answer(qi, context, scenario, condition)
                elif question.response.type == "rating":
                    response["scale"] = self.scales[qi]
                if static_response and qi in response_json:
                    rjson = response_json[qi]
                else:
                    rjson = canonical_json(response)
                    if static_response:
                        response_json[qi] = rjson
                qtext = static_questions[qi] if qi in static_questions else self.questions[qi].render(context)
                yield Item(
                    id=text_id(template.name, scenario.id, condition.name, question.name, text, qtext, rjson,
                               str(answer)),
                    template=template.name,
                    scenario_id=scenario.id,
                    condition=condition.levels,
                    condition_name=condition.name,
                    question_name=question.name,
                    text=text,
                    question=qtext,
                    response=response,
                    answer=answer,
                    metadata=self.metadata[condition.name],
                )
