"""Tasks: a seeded, deterministic generator of items plus a verifier that scores an answer.

In the manner of reasoning-gym's procedural datasets: a task has a config dataclass, and item ``index`` of seed
``seed`` is a pure function of (config, seed, index) — the same items on every machine, whatever else was
generated before. The verifier scores an answer text in [0, 1] (1/0, or a graded score) and says why.

Two ways to write one (both registered by name in :data:`TASKS`, also importable as ``proceval.tasks.TASKS``):

- a subclass of :class:`Task` with :meth:`Task.item` (and :meth:`Task.verify` for free-text answers);
- a function decorated with :func:`task` that turns (config, rng, index) into a :class:`Problem`.

Causal templates are tasks too (:class:`proceval.tasks.template.TemplateTask`): their items come from
scenarios, and a choice item's answer is checked against its answer key.
"""

from __future__ import annotations

import dataclasses
import random
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, ClassVar, get_type_hints

from proceval.core.registry import Registry
from proceval.dataset import Item, Scenario
from proceval.errors import ProcevalError
from proceval.ids import canonical_json, content_id, text_id


class TaskError(ProcevalError):
    """A task that cannot be made (unknown option, bad value) or that failed to generate an item."""


@dataclass(frozen=True)
class Verdict:
    """A verifier's judgement of one answer: ``score`` in [0, 1] and the ``reason`` for it."""

    score: float
    reason: str

    def __post_init__(self) -> None:
        if not 0.0 <= self.score <= 1.0:
            raise ValueError(f"a verdict's score lies in [0, 1], not {self.score}")

    @property
    def correct(self) -> bool:
        """Full marks."""
        return self.score >= 1.0


@dataclass(frozen=True)
class NoOptions:
    """The config of a task without options."""


@dataclass
class Problem:
    """What a decorated task function returns for one index: the question, its answer and how it is answered.

    ``options`` (key → text) make a choice item whose ``answer`` is a key; without them the item is answered in
    free text and ``answer`` is the reference answer the verifier compares with.
    """

    question: str
    answer: str
    text: str = ""
    options: dict[str, str] | None = None
    condition: dict[str, str | None] = field(default_factory=dict)
    metadata: dict[str, Any] = field(default_factory=dict)


def make_item(task: str, variables: dict[str, str], question: str, answer: str | None, *, text: str = "",
              response: dict[str, Any] | None = None, condition: dict[str, str | None] | None = None,
              condition_name: str | None = None, question_name: str = "question",
              metadata: dict[str, Any] | None = None) -> Item:
    """An item whose ids follow the one rule causal templates use: the scenario id is the content hash of the
    task name and ``variables``; the item id hashes the scenario, condition, question, texts, response and
    answer (so equal content gives equal ids, whatever made it)."""
    condition = dict(condition or {})
    name = condition_name or ("_".join(str(v) for v in condition.values()) if condition else "default")
    response = response or {"type": "free_text"}
    scenario_id = content_id(task, variables)
    return Item(
        id=text_id(task, scenario_id, name, question_name, text, question, canonical_json(response), str(answer)),
        template=task, scenario_id=scenario_id, condition=condition, condition_name=name,
        question_name=question_name, text=text, question=question, response=response, answer=answer,
        metadata=dict(metadata or {}),
    )


class Task:
    """Base class of Python tasks. Subclasses set ``name`` (and ``Config``, a dataclass of options) and write
    :meth:`item`; tasks answered in free text also write :meth:`verify`."""

    name: ClassVar[str] = ""
    Config: ClassVar[type] = NoOptions
    description: ClassVar[str] = ""

    def __init__(self, config: Any = None) -> None:
        self.config = config if config is not None else self.Config()

    # -- generating ---------------------------------------------------------------------------------
    def item(self, seed: int, index: int) -> Item:
        """Item ``index`` of ``seed``: a pure function of the config, ``seed`` and ``index``."""
        raise NotImplementedError(f"task {self.name!r} writes no item()")

    def rng(self, seed: int, index: int) -> random.Random:
        """A random generator for item ``index`` that depends on nothing else (config, seed, index)."""
        return random.Random(content_id(self.name, self.options(), seed, index))

    def draws(self, n: int, seed: int) -> Iterator[tuple[Scenario, list[Item]]]:
        """``n`` draws, each a scenario and its items. By default draw i is the one item :meth:`item` gives;
        tasks whose draw holds several items (one per condition) override this."""
        for index in range(n):
            item = self.item(seed, index)
            yield Scenario(id=item.scenario_id, template=self.name, variables=self.variables(seed, index),
                           source={"kind": "task", "seed": seed, "index": index}), [item]

    def variables(self, seed: int, index: int) -> dict[str, str]:
        """What identifies draw ``index`` (its scenario id is their content hash)."""
        return {"seed": str(seed), "index": str(index), "config": canonical_json(self.options())}

    def items(self, n: int, seed: int = 0) -> list[Item]:
        return [item for _, items in self.draws(n, seed) for item in items]

    # -- verifying ----------------------------------------------------------------------------------
    def verify(self, item: Item, answer: str) -> Verdict | None:
        """Score ``answer`` (for a choice item: the chosen option's key). ``None``: this task has no verifier
        for such answers (ratings; free text of a task that writes no verify)."""
        if item.response_type == "choice" and item.answer is not None:
            ok = answer == item.answer
            return Verdict(1.0 if ok else 0.0, f"chose {answer!r}; the answer is {item.answer!r}")
        return None

    # -- describing ---------------------------------------------------------------------------------
    def options(self) -> dict[str, Any]:
        """The config as plain JSON values (written to the dataset manifest)."""
        config = self.config
        return dataclasses.asdict(config) if dataclasses.is_dataclass(config) and not isinstance(config, type) else {}

    @property
    def factors(self) -> dict[str, list[str]]:
        """Factor → levels of the conditions this task's items vary in (none by default)."""
        return {}

    @classmethod
    def from_options(cls, options: dict[str, Any] | None = None) -> Task:
        """The task with ``options`` (strings from the command line are converted to the config's types)."""
        return cls(config_from_options(cls.Config, options or {}, cls.name))


def config_from_options(config_class: type, options: dict[str, Any], task: str, what: str = "task") -> Any:
    """Build ``config_class`` from ``options``; strings are converted to the fields' types (int, float, bool).
    ``what`` names the kind of thing configured in errors (a task, a solver)."""
    fields = {f.name: f for f in dataclasses.fields(config_class)}
    unknown = sorted(set(options) - set(fields))
    if unknown:
        raise TaskError(f"{what} {task!r} has no option {', '.join(map(repr, unknown))}",
                        field="option", hint=f"its options: {', '.join(fields) or 'none'}")
    hints = get_type_hints(config_class)
    values = {}
    for key, value in options.items():
        kind = hints.get(key)
        if isinstance(value, str) and kind in (int, float, bool):
            try:
                value = _BOOLS[value.lower()] if kind is bool else kind(value)
            except (KeyError, ValueError):
                raise TaskError(f"option {key}={value!r} is not a {kind.__name__}", field=f"option {key}") from None
        values[key] = value
    try:
        return config_class(**values)
    except (TypeError, ValueError) as exc:
        raise TaskError(f"{what} {task!r}: {exc}", field="option") from None


_BOOLS = {"true": True, "1": True, "yes": True, "false": False, "0": False, "no": False}


def parse_options(pairs: list[str] | None) -> dict[str, str]:
    """``["digits=3", "ops=add"]`` → ``{"digits": "3", "ops": "add"}`` (the CLI's repeatable ``--option``)."""
    options: dict[str, str] = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep or not re.fullmatch(r"[A-Za-z_]\w*", key.strip()):
            raise TaskError(f"option {pair!r} is not of the form NAME=VALUE", field="--option")
        options[key.strip()] = value.strip()
    return options


def task(name: str, *, config: type = NoOptions, verify: Callable[[Item, str], Verdict] | None = None,
         description: str = "") -> Callable[[Callable[[Any, random.Random, int], Problem]], type[Task]]:
    """Make a :class:`Task` class from a function ``(config, rng, index) → Problem`` and register it as ``name``.

    ``rng`` is seeded by (name, config, seed, index), so item ``index`` depends on nothing else; ``verify``
    scores free-text answers (choice answers are checked against the answer key).
    """

    def decorate(function: Callable[[Any, random.Random, int], Problem]) -> type[Task]:
        def item(self: Task, seed: int, index: int) -> Item:
            problem = function(self.config, self.rng(seed, index), index)
            response: dict[str, Any] = {"type": "free_text"}
            if problem.options is not None:
                response = {"type": "choice", "options": [{"key": k, "text": v} for k, v in problem.options.items()]}
            return make_item(name, self.variables(seed, index), problem.question, problem.answer,
                             text=problem.text, response=response, condition=problem.condition,
                             metadata=problem.metadata)

        def verify_item(self: Task, item: Item, answer: str) -> Verdict | None:
            if verify is not None and item.response_type == "free_text":
                return verify(item, answer)
            return Task.verify(self, item, answer)

        cls = type(function.__name__, (Task,), {
            "name": name, "Config": config, "description": description or (function.__doc__ or "").strip(),
            "item": item, "verify": verify_item, "__module__": function.__module__,
            "__doc__": function.__doc__,
        })
        TASKS.register(name, cls)
        return cls

    return decorate


# The task registry lives here, beside Task, so that @task registers without importing the tasks package
# (which imports this module); proceval.tasks fills it with the built-in families, named by reference.
TASKS: Registry[Any] = Registry(
    "tasks",
    builtins={
        "arithmetic": "proceval.tasks.arithmetic:ArithmeticTask",
        "long-arithmetic": "proceval.tasks.long_arithmetic:LongArithmetic",
        "countdown": "proceval.tasks.countdown:Countdown",
        "prontoqa": "proceval.tasks.prontoqa:ProntoQA",
        "syllogisms": "proceval.tasks.syllogisms:Syllogisms",
    },
    loaders=["proceval.tasks:builtin_template_tasks"],
)
