"""Checking that the parts of a template fit together (variables, graph, factors, story, questions, table
layout, Python hook) and computing its conditions, each with the line of the YAML at fault.
"""

from __future__ import annotations

import importlib
import importlib.util
import itertools
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jinja2 import TemplateSyntaxError

from proceval.errors import TemplateError
from proceval.templates.syntax import (
    _names_in,
    _parse_edge,
    _root_names,
    _topological_order,
    compile_expression,
)
from proceval.templates.template import Condition
from proceval.templates.yamlio import Path_, format_loc

if TYPE_CHECKING:
    from proceval.templates.template import Template


class _Validator:
    """Checks that the parts of a template fit together, and computes its conditions."""

    def __init__(self, template: Template, where: str) -> None:
        self.t = template
        self.spec = template.spec
        self.where = where

    def error(self, message: str, loc: Path_, hint: str | None = None) -> TemplateError:
        return TemplateError(
            message, file=self.where, line=self.t.lines.line_for(loc), field=format_loc(loc), hint=hint
        )

    def run(self) -> None:
        self.check_names_unique()
        self.load_hook()
        self.check_graph()
        self.check_texts()
        self.t.conditions = self.build_conditions()
        self.check_reachability()
        self.check_table()

    # -- names --
    def check_names_unique(self) -> None:
        kinds = {
            "variables": list(self.spec.variables),
            "factors": list(self.spec.factors),
            "derived": list(self.spec.derived),
            "python.provides": self.spec.python.provides if self.spec.python else [],
        }
        owner: dict[str, str] = {}
        for kind, names in kinds.items():
            for name in names:
                if name in owner:
                    raise self.error(
                        f"name {name!r} is used both in {owner[name]} and in {kind}",
                        (kind.split(".")[0], name),
                        hint="variables, factors and derived values share one namespace; rename one",
                    )
                owner[name] = kind
        for kind, names in (("story", [s.name for s in self.spec.story]),
                            ("questions", [q.name for q in self.spec.questions])):
            seen: dict[str, int] = {}
            for i, entry_name in enumerate(names):
                if entry_name in seen:
                    raise self.error(f"duplicate {kind} name {entry_name!r}", (kind, i, "name"))
                seen[entry_name] = i

    def load_hook(self) -> None:
        hook = self.spec.python
        if hook is None:
            return
        target, _, func_name = hook.function.rpartition(":")
        if not target or not func_name:
            raise self.error("python.function must look like 'module:function' or 'file.py:function'",
                             ("python", "function"))
        try:
            if target.endswith(".py"):
                base = self.t.path.parent if self.t.path else Path.cwd()
                file = (base / target).resolve()
                module_spec = importlib.util.spec_from_file_location(f"proceval_hook_{file.stem}", file)
                if module_spec is None or module_spec.loader is None or not file.is_file():
                    raise FileNotFoundError(file)
                module = importlib.util.module_from_spec(module_spec)
                module_spec.loader.exec_module(module)
            else:
                module = importlib.import_module(target)
            func = getattr(module, func_name)
        except (ImportError, FileNotFoundError, AttributeError) as exc:
            raise self.error(f"cannot load python hook {hook.function!r}: {exc}", ("python", "function")) from None
        self.t.hook = func

    # -- graph --
    def check_graph(self) -> None:
        known = set(self.spec.variables) | set(self.spec.factors) | set(self.spec.derived)
        edges = []
        for i, raw in enumerate(self.spec.graph):
            if (isinstance(raw, list) and len(raw) != 2) or (isinstance(raw, str) and "->" not in raw):
                raise self.error("an edge is 'cause -> effect' or [cause, effect]", ("graph", i))
            cause, effect = _parse_edge(raw)
            for node in (cause, effect):
                if node not in known:
                    raise self.error(f"graph names {node!r}, which is not a variable, factor or derived value",
                                     ("graph", i))
            edges.append((cause, effect))
        order = _topological_order(edges)
        in_graph = {n for e in edges for n in e}
        if len(order) < len(in_graph):
            cyclic = sorted(in_graph - set(order))
            first = next(i for i, (c, e) in enumerate(edges) if c in cyclic and e in cyclic)
            raise self.error(f"the causal graph has a cycle through {', '.join(cyclic)}", ("graph", first),
                             hint="a causal graph must be acyclic; remove or reverse an edge")

    # -- texts and expressions --
    def check_texts(self) -> None:
        spec = self.spec
        factors, derived = set(spec.factors), list(spec.derived)
        provides = set(spec.python.provides) if spec.python else set()
        text_names = set(spec.variables) | factors | set(derived) | provides | {"condition_name"}
        self.compiled: dict[Path_, Any] = {}

        for i, (name, expr) in enumerate(spec.derived.items()):
            allowed = factors | set(derived[:i])
            self.check_expression(expr, ("derived", name), allowed, "factors and earlier derived values")
        cond_names = factors | set(derived)
        for i, segment in enumerate(spec.story):
            self.check_template(segment.text, ("story", i, "text"), text_names)
            if segment.when:
                self.check_expression(segment.when, ("story", i, "when"), cond_names, "factors and derived values")
        for qi, question in enumerate(spec.questions):
            self.check_template(question.text, ("questions", qi, "text"), text_names)
            if question.when:
                self.check_expression(question.when, ("questions", qi, "when"), cond_names,
                                      "factors and derived values")
            response = question.response
            for oi, option in enumerate(response.options):
                self.check_template(option.text, ("questions", qi, "response", "options", oi, "text"), text_names)
            if response.type == "choice":
                if not response.answer:
                    raise self.error(
                        f"choice question {question.name!r} has no answer key",
                        ("questions", qi, "response"),
                        hint="add `answer:` — an expression giving the correct option's key, e.g. "
                        "\"'a' if belief_updated else 'b'\"",
                    )
                self.check_expression(response.answer, ("questions", qi, "response", "answer"),
                                      cond_names | provides, "factors, derived values and python.provides")
        lexicon_lists = set(spec.lexicon) if isinstance(spec.lexicon, dict) else None
        for name, variable in spec.variables.items():
            if variable.fill is not None and lexicon_lists is not None:
                self.check_template(variable.fill, ("variables", name, "fill"), lexicon_lists | set(spec.variables),
                                    what="lexicon lists")
            for ci, text in enumerate(variable.constraints.must_not_mention):
                self.check_template(text, ("variables", name, "constraints", "must_not_mention", ci),
                                    set(spec.variables))
            for other in variable.constraints.must_differ_from:
                if other not in spec.variables:
                    raise self.error(f"must_differ_from names unknown variable {other!r}",
                                     ("variables", name, "constraints", "must_differ_from"))
            if variable.constraints.pattern:
                try:
                    re.compile(variable.constraints.pattern)
                except re.error as exc:
                    raise self.error(f"invalid regular expression: {exc}",
                                     ("variables", name, "constraints", "pattern")) from None

    def check_template(self, text: str, loc: Path_, allowed: set[str], what: str = "variables") -> None:
        try:
            names = _names_in(text)
        except TemplateSyntaxError as exc:
            raise self.error(f"Jinja2 syntax error: {exc.message}", loc) from None
        unknown = sorted(names - allowed)
        if unknown:
            raise self.error(
                f"undefined name{'s' if len(unknown) > 1 else ''} {', '.join(map(repr, unknown))} in text",
                loc,
                hint=f"declare it under variables: (or use one of the {what}: {', '.join(sorted(allowed)[:12])})",
            )

    def check_expression(self, text: str, loc: Path_, allowed: set[str], what: str) -> None:
        try:
            names = _root_names(text)
            compile_expression(text)
        except TemplateSyntaxError as exc:
            raise self.error(f"invalid expression: {exc.message}", loc) from None
        unknown = sorted(names - allowed)
        if unknown:
            raise self.error(f"expression uses undefined name(s) {', '.join(map(repr, unknown))}", loc,
                             hint=f"expressions here may use {what}: {', '.join(sorted(allowed))}")

    # -- conditions --
    def build_conditions(self) -> list[Condition]:
        spec = self.spec
        factor_names = list(spec.factors)
        for i, rule in enumerate(spec.conditions.exclude):
            for factor, match in rule.items():
                if factor not in spec.factors:
                    raise self.error(f"exclude names unknown factor {factor!r}", ("conditions", "exclude", i))
                for level in match if isinstance(match, list) else [match]:
                    if level not in spec.factors[factor].levels:
                        raise self.error(f"exclude names unknown level {level!r} of factor {factor!r}",
                                         ("conditions", "exclude", i, factor))
        level_sets: list[dict[str, str | None]] = []
        if spec.conditions.cross and factor_names:
            for combo in itertools.product(*(spec.factors[f].levels for f in factor_names)):
                levels: dict[str, str | None] = dict(zip(factor_names, combo, strict=True))
                if not any(_matches(levels, rule) for rule in spec.conditions.exclude):
                    level_sets.append(levels)
        named: list[tuple[str, dict[str, str | None]]] = [(self.condition_name(levels), levels) for levels in level_sets]
        for name, given in spec.conditions.extra.items():
            for factor in given:
                if factor not in spec.factors:
                    raise self.error(f"extra condition {name!r} names unknown factor {factor!r}",
                                     ("conditions", "extra", name, factor))
            named.append((name, {f: given.get(f) for f in factor_names}))
        if not named:
            named.append(("default", {}))
        seen: set[str] = set()
        conditions = []
        for name, levels in named:
            if name in seen:
                raise self.error(f"duplicate condition name {name!r}", ("conditions",),
                                 hint="set conditions.name to a format that tells conditions apart")
            seen.add(name)
            conditions.append(self.build_condition(name, levels))
        return conditions

    def condition_name(self, levels: dict[str, str | None]) -> str:
        fmt = self.spec.conditions.name
        if fmt:
            try:
                return fmt.format(**levels)
            except (KeyError, IndexError, ValueError) as exc:
                raise self.error(f"cannot format condition name: {exc}", ("conditions", "name")) from None
        return "_".join(str(v) for v in levels.values())

    def build_condition(self, name: str, levels: dict[str, str | None]) -> Condition:
        spec = self.spec
        context: dict[str, Any] = dict(levels)
        derived: dict[str, Any] = {}
        for key, expr in spec.derived.items():
            value = self.evaluate(expr, context, ("derived", key), name)
            derived[key] = value
            context[key] = value
        segments = [
            i for i, seg in enumerate(spec.story)
            if not seg.when or self.evaluate(seg.when, context, ("story", i, "when"), name)
        ]
        questions: list[tuple[int, str | None]] = []
        for qi, question in enumerate(spec.questions):
            if question.when and not self.evaluate(question.when, context, ("questions", qi, "when"), name):
                continue
            answer: str | None = None
            response = question.response
            if response.type == "choice" and response.answer:
                provides = set(spec.python.provides) if spec.python else set()
                if _root_names(response.answer) & provides:
                    answer = None  # depends on the scenario: resolved while rendering
                else:
                    value = self.evaluate(response.answer, context, ("questions", qi, "response", "answer"), name)
                    keys = [o.key for o in response.options]
                    if value not in keys:
                        raise self.error(
                            f"in condition {name!r} the answer key is {value!r}, which names no option "
                            f"(options: {', '.join(keys)})",
                            ("questions", qi, "response", "answer"),
                        )
                    answer = str(value)
            questions.append((qi, answer))
        if not questions:
            raise self.error(f"condition {name!r} asks no question (every question's `when` is false)",
                             ("questions",), hint="widen a question's `when`, or exclude the condition")
        return Condition(name=name, levels=levels, derived=derived, segments=segments, questions=questions)

    def evaluate(self, expr: str, context: dict[str, Any], loc: Path_, condition: str) -> Any:
        try:
            return compile_expression(expr)(**context)
        except Exception as exc:  # a user's expression can fail in many ways; name it and the condition
            raise self.error(f"cannot evaluate in condition {condition!r}: {exc}", loc) from None

    def check_reachability(self) -> None:
        shown = {i for c in self.t.conditions for i in c.segments}
        for i, segment in enumerate(self.spec.story):
            if i not in shown:
                raise self.error(
                    f"story segment {segment.name!r} is shown in no condition",
                    ("story", i, "when"),
                    hint=f"its `when` is false in all {len(self.t.conditions)} conditions",
                )
        asked = {qi for c in self.t.conditions for qi, _ in c.questions}
        for qi, question in enumerate(self.spec.questions):
            if qi not in asked:
                raise self.error(f"question {question.name!r} is asked in no condition", ("questions", qi, "when"))

    def check_table(self) -> None:
        table = self.spec.table
        if table is None:
            return
        produced = set()
        all_columns: set[str] = set()
        matched = {column for rule in table.match for column in rule.columns}
        column_lists: list[tuple[list[str], Path_]] = [(table.columns, ("table", "columns"))]
        column_lists += [(f.columns, ("table", "files", j, "columns")) for j, f in enumerate(table.files)]
        for columns, loc in column_lists:
            for i, column in enumerate(columns):
                name = table.rename.get(column, column)
                all_columns.add(name)
                if name.startswith("_"):
                    continue
                if name not in self.spec.variables and name not in table.split and name not in matched:
                    raise self.error(f"table column {column!r} is not a variable (prefix with '_' to keep it as "
                                     "row metadata)", (*loc, i))
                produced.add(name)
        for name, extract in table.extract.items():
            if name not in self.spec.variables:
                raise self.error(f"extract target {name!r} is not a variable", ("table", "extract", name))
            if extract.source not in all_columns:
                raise self.error(f"extract source {extract.source!r} is not a column of the table",
                                 ("table", "extract", name, "source"))
            try:
                if re.compile(extract.pattern).groups < 1:
                    raise self.error("the pattern needs a capture group (...) for the value",
                                     ("table", "extract", name, "pattern"))
            except re.error as exc:
                raise self.error(f"invalid regular expression: {exc}", ("table", "extract", name, "pattern")) from None
            produced.add(name)
        for name, rule in table.split.items():
            for j, part in enumerate(rule.into):
                if part not in self.spec.variables:
                    raise self.error(f"split target {part!r} is not a variable", ("table", "split", name, "into", j))
                produced.add(part)
        for j, match in enumerate(table.match):
            for key in ("columns", "into", "states"):
                for k, name in enumerate(getattr(match, key)):
                    known = all_columns if key == "columns" else self.spec.variables
                    if name not in known:
                        raise self.error(f"{name!r} is not a {'column' if key == 'columns' else 'variable'}",
                                         ("table", "match", j, key, k))
            produced |= set(match.into)
        missing = sorted(self.t.used_variables - produced)
        if missing:
            raise self.error(f"the table layout does not provide variable(s) {', '.join(missing)}",
                             ("table", "columns"))


def _matches(levels: dict[str, str | None], rule: dict[str, Any]) -> bool:
    for factor, match in rule.items():
        allowed = match if isinstance(match, list) else [match]
        if levels.get(factor) not in allowed:
            return False
    return True
