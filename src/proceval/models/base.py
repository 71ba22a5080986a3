"""The one protocol every model backend speaks, and the registry of providers.

A backend turns chat messages into text (``generate``) and, where it can, scores continuations of a
prompt by log-probability (``score``). Scoring several continuations of one prompt is one call so that a
backend can evaluate the shared prompt once (llama.cpp state reuse, server prompt caching).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from proceval.errors import ModelError


@dataclass
class Message:
    role: str  # "system" | "user" | "assistant"
    content: str


@dataclass
class Generation:
    text: str
    prompt_tokens: int = 0
    completion_tokens: int = 0
    finish_reason: str | None = None


@dataclass
class ContinuationScores:
    """Log-probabilities of each continuation given the prompt (summed over the continuation's tokens)."""

    logprobs: list[float]
    token_counts: list[int]
    prompt_tokens: int = 0  # tokens of the prompt this call had to evaluate (0 when fully reused)


@dataclass
class ModelIdentity:
    """What a run manifest records about a model: enough to know it is the same model next time."""

    provider: str
    name: str
    revision: str | None = None  # file hash, HF revision or server-reported id
    parameters: dict[str, Any] = field(default_factory=dict)


@runtime_checkable
class LanguageModel(Protocol):
    spec: str

    @property
    def identity(self) -> ModelIdentity: ...

    @property
    def supports_logprobs(self) -> bool: ...

    @property
    def context_length(self) -> int | None: ...

    def count_tokens(self, messages: list[Message], assistant_prefix: str = "") -> int: ...

    def generate(
        self,
        messages: list[Message],
        *,
        max_tokens: int = 256,
        temperature: float = 0.0,
        seed: int | None = None,
        stop: list[str] | None = None,
        json_schema: dict[str, Any] | None = None,
    ) -> Generation: ...

    def score(
        self, messages: list[Message], continuations: list[str], *, assistant_prefix: str = ""
    ) -> ContinuationScores: ...


class PromptTooLong(ModelError):
    """The prompt does not fit the model's context window (the item is marked ``too_long``)."""


# provider name → factory(model_name, **options) -> LanguageModel. Plugins add entries under the
# ``proceval.providers`` entry-point group.
PROVIDERS: dict[str, Any] = {}


def register_provider(name: str, factory: Any) -> None:
    PROVIDERS[name] = factory
