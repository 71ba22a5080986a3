"""Prompt strategies: an item (with an option order) → chat messages, from template files users can override.

The templates live in ``proceval/prompts/`` (``item.j2``, ``cot.j2``, ``answer.j2``); a ``prompt_dir``
holding files of the same names replaces them one by one.
"""

from __future__ import annotations

import os
import random
import string
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jinja2 import StrictUndefined, TemplateError
from jinja2.sandbox import SandboxedEnvironment

from proceval.dataset import Item
from proceval.errors import RunError
from proceval.ids import content_id
from proceval.models.base import Message

BUILTIN_DIR = Path(__file__).resolve().parent.parent / "prompts"
TEMPLATE_FILES = ("item.j2", "cot.j2", "answer.j2")
STRATEGIES = ("zero-shot", "cot", "few-shot")
OPTION_FORMATS = ("letters", "text")
_MARK = "\x00ANSWER\x00"


def option_labels(n: int) -> list[str]:
    if n > len(string.ascii_uppercase):
        raise RunError(f"an item has {n} options; at most 26 can be labelled with letters", field="options")
    return list(string.ascii_uppercase[:n])


@dataclass
class Prompt:
    messages: list[Message]
    assistant_prefix: str  # the answer prefix after which options or scale points are scored
    continuations: list[str]  # one per option in presentation order (or per scale point)
    labels: list[str]  # what the model is asked to answer with, in the same order
    n_shots: int = 0


def _compile(texts: dict[str, str]) -> dict[str, Any]:
    env = SandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, undefined=StrictUndefined,
                               keep_trailing_newline=False)
    return {name: env.from_string(text) for name, text in texts.items()}


class PromptBuilder:
    """Renders items for one strategy. ``examples`` supplies the few-shot pool (the whole dataset)."""

    def __init__(
        self,
        strategy: str = "zero-shot",
        *,
        option_format: str = "letters",
        prompt_dir: str | os.PathLike[str] | None = None,
        k_shots: int = 3,
        seed: int = 0,
        examples: list[Item] | None = None,
    ) -> None:
        if strategy not in STRATEGIES:
            raise RunError(f"unknown prompt strategy {strategy!r}; choose one of {', '.join(STRATEGIES)}",
                           field="strategy")
        if option_format not in OPTION_FORMATS:
            raise RunError(f"unknown option format {option_format!r}; choose letters or text", field="option_format")
        self.strategy = strategy
        self.option_format = option_format
        self.k_shots = k_shots
        self.seed = seed
        self.texts = load_templates(prompt_dir)
        try:
            self.templates = _compile(self.texts)
        except TemplateError as exc:
            raise RunError(f"prompt template does not parse: {exc}", file=str(prompt_dir) if prompt_dir else None) from None
        answer = self._render("answer.j2", answer=_MARK)
        before = answer.split(_MARK)[0]
        # "Answer: B" is scored as prefix "Answer:" + continuation " B" (a space-led token, as models read it)
        self.answer_prefix = before.rstrip(" ")
        self._separator = " " * (len(before) - len(self.answer_prefix))
        self._pool: dict[tuple[str, str], list[Item]] = {}
        for item in examples or []:
            if item.answer is not None and item.response_type == "choice":
                self._pool.setdefault((item.condition_name, item.question_name), []).append(item)

    def __getstate__(self) -> dict[str, Any]:
        """Pickled without the compiled templates (a Ray actor gets its builder this way); they compile again."""
        return {k: v for k, v in self.__dict__.items() if k != "templates"}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self.templates = _compile(self.texts)

    def _render(self, name: str, **variables: Any) -> str:
        try:
            return str(self.templates[name].render(**variables)).strip()
        except TemplateError as exc:
            raise RunError(f"prompt template failed: {exc}", file=name,
                           hint="check the variables it uses against prompts/README.md") from None

    def render_answer(self, answer: str) -> str:
        return self._render("answer.j2", answer=answer)

    def _variables(self, item: Item, order: list[str] | None) -> dict[str, Any]:
        options = []
        if item.response_type == "choice":
            keys = order or [o["key"] for o in item.options]
            labels = option_labels(len(keys))
            options = [{"label": label, "text": item.option_text(key), "key": key}
                       for label, key in zip(labels, keys, strict=True)]
        scale = dict(item.response.get("scale") or {})
        return {
            "text": item.text,
            "question": item.question,
            "response_type": item.response_type,
            "options": options,
            "option_format": self.option_format,
            "scale": scale,
        }

    def _answer_labels(self, item: Item, order: list[str] | None) -> list[str]:
        if item.response_type == "choice":
            keys = order or [o["key"] for o in item.options]
            if self.option_format == "letters":
                return option_labels(len(keys))
            return [item.option_text(key) for key in keys]
        if item.response_type == "rating":
            low, high = item.scale
            return [str(point) for point in range(low, high + 1)]
        return []

    def examples_for(self, item: Item) -> list[Item]:
        """k worked examples of the item's condition and question, from *other* scenarios (seeded)."""
        pool = [e for e in self._pool.get((item.condition_name, item.question_name), [])
                if e.scenario_id != item.scenario_id]
        rng = random.Random(content_id("few-shot", self.seed, item.id))
        return rng.sample(pool, min(self.k_shots, len(pool)))

    def shortfall(self, items: list[Item]) -> dict[str, int] | None:
        """For few-shot: how many of ``items`` get fewer than ``k_shots`` examples (worked examples come from
        other scenarios of the same condition and question, with a correct answer), and the fewest any gets;
        ``None`` when every item gets all of them."""
        if self.strategy != "few-shot" or not self.k_shots:
            return None
        counts = []
        for item in items:
            pool = self._pool.get((item.condition_name, item.question_name), [])
            counts.append(min(self.k_shots, sum(e.scenario_id != item.scenario_id for e in pool)))
        short = [n for n in counts if n < self.k_shots]
        if not short:
            return None
        return {"k_shots": self.k_shots, "items_short": len(short), "items": len(items), "fewest": min(short)}

    def exchange(self, item: Item, order: list[str] | None, answer: str, *, template: str = "item.j2"
                 ) -> list[Message]:
        """``item`` asked (options in ``order``) and answered, as a user and an assistant turn. ``answer`` is an
        option key for choice items and the answer text (a scale point, free text) otherwise."""
        label = answer
        if item.response_type == "choice":
            keys = order or [o["key"] for o in item.options]
            label = self._answer_labels(item, keys)[keys.index(answer)]
        return [Message("user", self._render(template, **self._variables(item, order))),
                Message("assistant", self.render_answer(label))]

    @property
    def item_template(self) -> str:
        """The template that asks an item under this strategy."""
        return "cot.j2" if self.strategy == "cot" else "item.j2"

    def build(self, item: Item, order: list[str] | None, *, system: str | None = None,
              history: list[Message] | None = None) -> Prompt:
        """The messages for ``item``: the system prompt, few-shot examples, ``history`` (earlier turns of the
        conversation, e.g. a persona's memory of its earlier answers), then the item itself."""
        messages: list[Message] = []
        if system:
            messages.append(Message("system", system))
        n_shots = 0
        if self.strategy == "few-shot":
            for example in self.examples_for(item):
                keys = [o["key"] for o in example.options]
                ex_order = random.Random(content_id("shot-order", self.seed, example.id)).sample(keys, len(keys))
                messages += self.exchange(example, ex_order, str(example.answer))
                n_shots += 1
        messages += history or []
        messages.append(Message("user", self._render(self.item_template, **self._variables(item, order))))
        labels = self._answer_labels(item, order)
        continuations = [self._separator + label for label in labels]
        return Prompt(messages, self.answer_prefix, continuations, labels, n_shots)


def load_templates(prompt_dir: str | os.PathLike[str] | None) -> dict[str, str]:
    texts = {name: (BUILTIN_DIR / name).read_text(encoding="utf-8") for name in TEMPLATE_FILES}
    if prompt_dir is not None:
        root = Path(prompt_dir)
        if not root.is_dir():
            raise RunError("no such prompt directory", file=root,
                           hint=f"copy {BUILTIN_DIR} and edit its files")
        for name in TEMPLATE_FILES:
            if (root / name).is_file():
                texts[name] = (root / name).read_text(encoding="utf-8")
    return texts
