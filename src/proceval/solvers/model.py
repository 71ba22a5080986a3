"""The model solver: a language model answers an item under a prompt strategy (zero-shot, CoT, few-shot), as
itself or as a persona (the subject's system prompt), by option log-probabilities or by a parsed generation."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from proceval.core.generate import GenerateConfig
from proceval.dataset import Item
from proceval.errors import ModelError
from proceval.models.base import LanguageModel, Message, ModelUnavailable, PromptTooLong
from proceval.models.cache import CachedModel
from proceval.solvers.base import Solver, new_record
from proceval.solvers.parse import parse_choice, parse_rating
from proceval.solvers.prompts import PromptBuilder
from proceval.solvers.scoring import argmax_key, call_seed, counterbalanced_orders, normalise, seeded_order
from proceval.solvers.subjects import Memory, Subject

DEFAULT_MAX_TOKENS = {"zero-shot": 16, "few-shot": 16, "cot": 256}


@dataclass
class Settings:
    strategy: str
    scoring: str
    temperature: float
    max_tokens: int
    seed: int
    option_format: str


class ModelSolver(Solver):
    """A model with a prompt strategy (zero-shot, CoT, few-shot; a persona is a subject's system prompt):
    builds the prompt per option order, calls the model, parses or scores, aggregates over orders."""

    name = "model"
    kind = "model"
    needs_model = True

    @classmethod
    def check_model(cls, model: LanguageModel) -> None:
        """Refuse, before a run directory is touched, a model this solver cannot use."""

    def __init__(self, model: CachedModel, builder: PromptBuilder, settings: Settings) -> None:
        self.model = model
        self.builder = builder
        self.s = settings

    def answer(self, item: Item, subject: Subject, position: int = 0, memory: Memory | None = None
               ) -> dict[str, Any]:
        """The record of ``subject``'s answer to ``item``, the ``position``-th item it answers; ``memory`` (a
        persona's earlier answers) goes into the prompt before the item."""
        scoring = self.s.scoring if item.response_type != "free_text" else "generate"
        record = new_record(item, subject, position, self.s.strategy, scoring)
        if subject.persona is not None:
            record["persona"] = subject.persona
        if memory is not None:
            record.update(memory=memory.items, memory_left_out=memory.left_out)
        history = memory.turns if memory else None
        start = time.perf_counter()
        try:
            if item.response_type == "choice":
                self._choice(item, subject, record, history)
            elif item.response_type == "rating":
                self._rating(item, subject, record, history)
            else:
                self._free_text(item, subject, record, history)
        except PromptTooLong as exc:
            record.update(status="too_long", error=exc.message, choice=None, correct=None)
        except ModelUnavailable:
            raise
        except ModelError as exc:
            record.update(status="error", error=str(exc), choice=None, correct=None)
        record["latency_s"] = round(time.perf_counter() - start, 4)
        return record

    # -- helpers ----------------------------------------------------------------------------------
    def generate_config(self, item: Item, messages: list[Any], *parts: object) -> GenerateConfig:
        """The generation settings of one call (the hook a guided solver extends with its constraint)."""
        return GenerateConfig(max_tokens=self.s.max_tokens, temperature=self.s.temperature,
                              seed=call_seed(self.s.seed, *parts))

    def _generate(self, item: Item, messages: list[Any], record: dict[str, Any], *parts: object) -> str:
        gen = self.model.generate(messages, self.generate_config(item, messages, *parts))
        record["prompt_tokens"] += gen.prompt_tokens
        record["completion_tokens"] += gen.completion_tokens
        return gen.text

    def _cot_prefix(self, reasoning: str) -> str:
        """The reasoning, cut before any answer it already gave, followed by the answer prefix."""
        prefix = self.builder.answer_prefix
        cut = reasoning.rfind(prefix) if prefix else -1
        body = reasoning[:cut] if cut >= 0 else reasoning
        return body.rstrip() + "\n" + prefix

    def _score(self, item: Item, prompt: Any, record: dict[str, Any], parts: tuple[object, ...]) -> list[float]:
        prefix = prompt.assistant_prefix
        if self.s.strategy == "cot":
            reasoning = self._generate(item, prompt.messages, record, *parts)
            prefix = self._cot_prefix(reasoning)
            record["raw"] = reasoning if record["raw"] is None else record["raw"]
        scores = self.model.score(prompt.messages, prompt.continuations, assistant_prefix=prefix)
        record["prompt_tokens"] += scores.prompt_length
        return normalise(scores.logprobs)

    # -- response types -------------------------------------------------------------------------
    def _choice(self, item: Item, subject: Subject, record: dict[str, Any], history: list[Message] | None
                ) -> None:
        keys = [o["key"] for o in item.options]
        if self.s.scoring == "logprob":
            orders = counterbalanced_orders(keys)
            totals = dict.fromkeys(keys, 0.0)
            for order in orders:
                prompt = self.builder.build(item, order, system=subject.system, history=history)
                record["n_shots"] = prompt.n_shots
                probs = self._score(item, prompt, record, (subject.id, item.id, *order))
                by_key = {key: round(p, 6) for key, p in zip(order, probs, strict=True)}
                record["per_order"].append({"order": order, "probs": by_key})
                for key, p in zip(order, probs, strict=True):
                    totals[key] += p / len(orders)
            record["orders"] = orders
            record["probs"] = {key: round(totals[key], 6) for key in keys}
            record["choice"] = argmax_key(totals, keys)
        else:
            order = seeded_order(keys, self.s.seed, subject.id, item.id)
            prompt = self.builder.build(item, order, system=subject.system, history=history)
            record["n_shots"] = prompt.n_shots
            raw = self._generate(item, prompt.messages, record, subject.id, item.id, *order)
            texts = [item.option_text(k) for k in order]
            index = parse_choice(raw, prompt.labels, texts)
            choice = order[index] if index is not None else None
            record["orders"] = [order]
            record["per_order"].append({"order": order, "choice": choice, "raw": raw})
            record["raw"] = raw
            record["choice"] = choice
            if choice is None:
                record["status"] = "invalid"
        record["first_shown"] = record["orders"][0][0]

    def _rating(self, item: Item, subject: Subject, record: dict[str, Any], history: list[Message] | None
                ) -> None:
        low, high = item.scale
        points = list(range(low, high + 1))
        shown = [str(p) for p in points]  # a scale is shown in one order, low to high
        record["orders"] = [shown]
        prompt = self.builder.build(item, None, system=subject.system, history=history)
        if self.s.scoring == "logprob":
            probs = self._score(item, prompt, record, (subject.id, item.id))
            dist = {str(p): round(q, 6) for p, q in zip(points, probs, strict=True)}
            record["per_order"].append({"order": shown, "probs": dist})
            record["rating_probs"] = dist
            record["rating"] = points[max(range(len(points)), key=lambda i: (probs[i], -i))]
            record["expected_rating"] = round(sum(p * q for p, q in zip(points, probs, strict=True)), 6)
        else:
            raw = self._generate(item, prompt.messages, record, subject.id, item.id)
            labels = {str(k): str(v) for k, v in (item.response["scale"].get("labels") or {}).items()}
            rating = parse_rating(raw, low, high, labels)
            record["raw"] = raw
            record["per_order"].append({"order": shown, "choice": rating, "raw": raw})
            record["rating"] = rating
            record["expected_rating"] = rating
            if rating is None:
                record["status"] = "invalid"

    def _free_text(self, item: Item, subject: Subject, record: dict[str, Any], history: list[Message] | None
                   ) -> None:
        prompt = self.builder.build(item, None, system=subject.system, history=history)
        raw = self._generate(item, prompt.messages, record, subject.id, item.id)
        record["raw"] = raw
        if not raw.strip():
            record["status"] = "invalid"
