"""A loaded, validated causal template: conditions, causal mechanisms, and the rendering of items.

Everything that depends only on the template (which conditions exist, which story segments each shows,
which questions each asks and their correct answers) is computed once at load, so any inconsistency is
reported before any work and rendering an item is little more than joining pre-rendered strings.
"""

from __future__ import annotations

import functools
import hashlib
import importlib
import importlib.util
import itertools
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jinja2 import StrictUndefined, TemplateSyntaxError, UndefinedError, meta, nodes
from jinja2.exceptions import SecurityError
from jinja2.sandbox import SandboxedEnvironment
from pydantic import ValidationError

from proceval.dataset import Item, Scenario
from proceval.errors import TemplateError
from proceval.ids import canonical_json, text_id
from proceval.templates.schema import Question, TemplateSpec, Variable
from proceval.templates.yamlio import LineMap, Path_, format_loc, load_yaml

ENV = SandboxedEnvironment(undefined=StrictUndefined, autoescape=False, keep_trailing_newline=False)
BUILTIN_NAMES = frozenset(ENV.globals) | {"true", "false", "none", "True", "False", "None"}


@dataclass
class Condition:
    """One experimental condition: factor levels, the causal values they imply, what is shown and asked."""

    name: str
    levels: dict[str, str | None]
    derived: dict[str, Any]
    segments: list[int]  # indices into the story shown in this condition, in story order
    questions: list[tuple[int, str | None]]  # (question index, correct option key or None)


_SIMPLE_REFERENCE = re.compile(r"^\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}$")


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


def sentence_start(text: str) -> str:
    """``text`` with its first character capitalised (the start of a sentence); the rest as it is."""
    return text[:1].upper() + text[1:]


def sandbox_error(exc: SecurityError, where: str) -> TemplateError:
    """A text that tried something Jinja2's sandbox forbids (attribute internals, unsafe calls)."""
    return TemplateError(f"the template tried something the sandbox forbids: {exc}", field=where or None,
                         hint="texts may only read variables, factors and derived values (and simple filters)")


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


# ================================================================================================
# Loading and validation
# ================================================================================================


def load_template_text(text: str, path: Path | None = None, display: str | None = None) -> Template:
    """Parse and validate template YAML. ``display`` is the file name used in error messages."""
    where = display or (str(path) if path else "<template>")
    if not text.strip():
        raise TemplateError("the template file is empty", file=where, hint="see docs/templates.md for the format")
    data, lines = load_yaml(text, where, TemplateError)
    if not isinstance(data, dict):
        raise TemplateError("a template must be a YAML mapping (name:, variables:, story:, ...)", file=where)
    try:
        spec = TemplateSpec.model_validate(data)
    except ValidationError as exc:
        raise _pydantic_error(exc, lines, where) from None
    template = Template(spec=spec, source_text=text, path=path, lines=lines)
    _Validator(template, where).run()
    return template


def _pydantic_error(exc: ValidationError, lines: LineMap, where: str) -> TemplateError:
    # a typo shows up as an unknown key plus a missing one: report the typo, it is the cause
    errors = sorted(exc.errors(), key=lambda e: e["type"] != "extra_forbidden")
    first = errors[0]
    loc: Path_ = tuple(p for p in first["loc"] if not (isinstance(p, str) and p.startswith("function-")))
    message = first["msg"]
    hint = None
    if first["type"] == "extra_forbidden":
        from difflib import get_close_matches

        key = str(loc[-1])
        known = _known_keys(loc[:-1])
        close = get_close_matches(key, known, n=1)
        message = f"unknown key {key!r}"
        hint = f"did you mean {close[0]!r}?" if close else f"known keys here: {', '.join(sorted(known))}"
    elif first["type"] == "missing":
        message = "required key is missing"
    more = len(exc.errors()) - 1
    if more:
        message += f" (and {more} more problem{'s' if more > 1 else ''})"
    return TemplateError(message, file=where, line=lines.line_for(loc), field=format_loc(loc), hint=hint)


def _known_keys(loc: Path_) -> list[str]:
    """Field names allowed at ``loc`` (for typo suggestions)."""
    from proceval.templates import schema

    model: Any = schema.TemplateSpec
    for part in loc:
        if isinstance(part, int) or model is None:
            continue
        info = model.model_fields.get(part) if hasattr(model, "model_fields") else None
        if info is None:
            continue
        model = _model_in(info.annotation)
    return list(model.model_fields) if model is not None and hasattr(model, "model_fields") else []


def _model_in(annotation: Any) -> Any:
    from pydantic import BaseModel

    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()) or ():
        found = _model_in(arg)
        if found is not None:
            return found
    return None


def _parse_edge(edge: str | list[str]) -> tuple[str, str]:
    if isinstance(edge, list):
        return edge[0], edge[1]
    cause, _, effect = edge.partition("->")
    return cause.strip(), effect.strip()


@functools.lru_cache(maxsize=4096)
def _names_in(text: str) -> frozenset[str]:
    return frozenset(meta.find_undeclared_variables(ENV.parse(text))) - BUILTIN_NAMES


@functools.lru_cache(maxsize=4096)
def _root_names(expression_text: str) -> frozenset[str]:
    """Names an expression reads (without attribute access)."""
    ast = ENV.parse("{{ " + expression_text + " }}")
    return frozenset(n.name for n in ast.find_all(nodes.Name) if n.ctx == "load") - BUILTIN_NAMES


@functools.lru_cache(maxsize=4096)
def compile_expression(text: str) -> Any:
    return ENV.compile_expression(text, undefined_to_none=False)


def _topological_order(edges: list[tuple[str, str]]) -> list[str]:
    nodes_: list[str] = []
    for cause, effect in edges:
        for n in (cause, effect):
            if n not in nodes_:
                nodes_.append(n)
    incoming = {n: 0 for n in nodes_}
    for _, effect in edges:
        incoming[effect] += 1
    order, ready = [], [n for n in nodes_ if incoming[n] == 0]
    while ready:
        n = ready.pop(0)
        order.append(n)
        for cause, effect in edges:
            if cause == n:
                incoming[effect] -= 1
                if incoming[effect] == 0:
                    ready.append(effect)
    return order


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


# ================================================================================================
# Rendering
# ================================================================================================


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
