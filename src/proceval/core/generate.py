"""How a model writes: :class:`GenerateConfig` and the constraints a backend enforces while it decodes.

A constraint says which texts a response may be:

- :class:`JsonSchema` — a JSON document valid under a schema;
- :class:`Regex` — a string the regular expression matches in full (the syntax common to Python's ``re`` and
  Rust's ``regex``: classes, groups, alternation, repetition; no look-around or back-references);
- :class:`Choice` — exactly one of a few strings;
- :class:`Grammar` — a context-free grammar, in llama.cpp's GBNF or in Lark syntax;
- a :class:`Guide` — a program that, given the text written so far, says what may come next (one of the
  above, or free text up to a marker). It is asked again after every block the model writes, so it can change
  its mind at each step: the way LogicGuide lets a model write prose but only valid formal steps.

Every backend enforces the first four while decoding (token masks on llama.cpp and Hugging Face; the server's
structured outputs on OpenAI-compatible servers, checked and retried where the server does not enforce them)
and runs guides block by block. ``constraint.key()`` is what the call cache records of a constraint.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Literal, Protocol, runtime_checkable

from proceval.errors import ModelError


@dataclass(frozen=True)
class JsonSchema:
    schema: dict[str, Any]

    def key(self) -> dict[str, Any]:
        return {"json_schema": self.schema}


@dataclass(frozen=True)
class Regex:
    pattern: str

    def __post_init__(self) -> None:
        try:
            re.compile(self.pattern)
        except re.error as exc:
            raise ModelError(f"the regular expression {self.pattern!r} is not valid: {exc}",
                             field="constraint") from None

    def key(self) -> dict[str, Any]:
        return {"regex": self.pattern}


@dataclass(frozen=True)
class Choice:
    options: tuple[str, ...]

    def __init__(self, options: Any) -> None:
        options = tuple(options)
        if not options or not all(isinstance(o, str) and o for o in options):
            raise ModelError("a choice needs at least one option, each a non-empty string", field="constraint")
        object.__setattr__(self, "options", options)

    def key(self) -> dict[str, Any]:
        return {"choice": list(self.options)}

    def regex(self) -> str:
        return "|".join(re.escape(o) for o in self.options)


@dataclass(frozen=True)
class Grammar:
    text: str
    syntax: Literal["gbnf", "lark"] = "gbnf"

    def key(self) -> dict[str, Any]:
        return {"grammar": self.text, "syntax": self.syntax}


@dataclass(frozen=True)
class Free:
    """A guide's step: free text up to and including ``until`` (free to the end of the response when None)."""

    until: str | None = None

    def key(self) -> dict[str, Any]:
        return {"free": self.until}


Step = JsonSchema | Regex | Choice | Grammar | Free


@runtime_checkable
class Guide(Protocol):
    """Says, given the response so far, what the next block may be (``None``: the response is complete).

    ``cache_key()`` names the guide and its parameters for the call cache; return ``None`` when calls under
    this guide must not be cached (a guide whose answers depend on state outside its parameters).
    """

    def allowed(self, text: str) -> Step | None: ...

    def cache_key(self) -> str | None: ...


Constraint = JsonSchema | Regex | Choice | Grammar | Guide


def constraint_key(constraint: Constraint) -> dict[str, Any] | None:
    """What the cache records of a constraint; ``None`` when the call must not be cached."""
    if isinstance(constraint, JsonSchema | Regex | Choice | Grammar):
        return constraint.key()
    key = constraint.cache_key()
    return None if key is None else {"guide": key}


@dataclass(frozen=True)
class GenerateConfig:
    """Everything besides the prompt that decides what ``generate()`` returns (and so its cache key)."""

    max_tokens: int = 256
    temperature: float = 0.0
    seed: int | None = None
    stop: tuple[str, ...] | None = None  # free text ends before the first of these
    constraint: Constraint | None = None

    def __post_init__(self) -> None:
        if self.stop is not None and not isinstance(self.stop, tuple):
            object.__setattr__(self, "stop", tuple(self.stop))
        if self.max_tokens < 1:
            raise ModelError(f"max_tokens must be at least 1, not {self.max_tokens}", field="max_tokens")
        if self.temperature < 0:
            raise ModelError(f"temperature must be 0 or more, not {self.temperature}", field="temperature")

    def cache_payload(self) -> dict[str, Any] | None:
        """The parameters part of a generate call's cache key; ``None`` when the call must not be cached.

        Without a constraint (or with a JSON schema) the keys are those proceval wrote before constraints
        existed, so existing call caches stay valid.
        """
        payload: dict[str, Any] = {
            "max_tokens": self.max_tokens,
            "temperature": self.temperature,
            "seed": self.seed,
            "stop": list(self.stop) if self.stop is not None else None,
            "json_schema": self.constraint.schema if isinstance(self.constraint, JsonSchema) else None,
        }
        if self.constraint is not None and not isinstance(self.constraint, JsonSchema):
            key = constraint_key(self.constraint)
            if key is None:
                return None
            payload["constraint"] = key
        return payload
