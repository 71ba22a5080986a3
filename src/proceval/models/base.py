"""The one protocol every model backend speaks, and the registry of providers.

A backend turns chat messages into text (``generate``, under a :class:`GenerateConfig` that may carry a
constraint) and, where it can, scores continuations of a prompt by log-probability (``score``) and gives the
log-probability of a whole response (``response_logprobs``). Scoring several continuations of one prompt is one call so that a
backend can evaluate the shared prompt once (llama.cpp state reuse, server prompt caching).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from proceval.core.generate import GenerateConfig
from proceval.core.registry import Registry
from proceval.errors import ModelError, ProcevalError


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
    prompt_evaluated: int | None = None  # prompt tokens actually evaluated (after prefix reuse), if known
    satisfied: bool | None = None  # the text satisfies the config's constraint (None: no constraint)
    attempts: int = 1  # samples drawn: more than 1 where a server's output was checked and drawn again
    redraws: int = 0  # of those, draws after one that failed the constraint (at most constraint_retries a block)


@dataclass
class ContinuationScores:
    """Log-probabilities of each continuation given the prompt (summed over the continuation's tokens)."""

    logprobs: list[float]
    token_counts: list[int]
    prompt_tokens: int = 0  # tokens of the prompt this call had to evaluate (0 when fully reused)
    prompt_length: int = 0  # tokens of the whole prompt (with the assistant prefix)


@dataclass
class ResponseLogprob:
    """log p(response | prompt): summed over the response's tokens (and the end-of-sequence token that closes
    it, when counted), with the mean per token; the prompt's own tokens are not counted."""

    sum: float
    mean: float
    n_tokens: int


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

    def generate(self, messages: list[Message], config: GenerateConfig | None = None) -> Generation: ...

    def score(
        self, messages: list[Message], continuations: list[str], *, assistant_prefix: str = ""
    ) -> ContinuationScores: ...

    def response_logprobs(self, messages: list[Message], response: str, *, end: bool = True) -> ResponseLogprob:
        """log p(``response`` | messages) as the assistant's reply; ``end`` counts the end-of-turn token after it."""
        ...


class PromptTooLong(ModelError):
    """The prompt does not fit the model's context window (the item is marked ``too_long``)."""


class ModelUnavailable(ModelError):
    """The backend cannot be reached at all (after retries): a run stops, keeping finished work."""


# provider name → factory(model_name, **options) -> LanguageModel (a backend class is one). Plugins add providers
# under the ``proceval.providers`` entry-point group; the built-in backends are imported when first asked for.
PROVIDERS: Registry[Callable[..., LanguageModel]] = Registry("providers", singular="model provider", builtins={
    "local": "proceval.models.llamacpp:EmbeddedModel",
    "llama-cpp": "proceval.models.llamacpp:LlamaCppModel",
    "openai": "proceval.models.openai:OpenAIModel",
    "hf": "proceval.models.hf:HFModel",
})


def register_provider(name: str, factory: Callable[..., LanguageModel]) -> None:
    PROVIDERS.register(name, factory)


def provider_factory(spec: str) -> tuple[str, str, Callable[..., LanguageModel]]:
    """``"provider/model"`` → (provider, model, the provider's factory); a :class:`ModelError` for a spec that is
    malformed, a provider nobody registered (with the nearest names) or a plugin that failed to load."""
    provider, name = split_spec(spec)
    try:
        return provider, name, PROVIDERS.get(provider)
    except ProcevalError as exc:  # UnknownName, PluginError: the same words, located at the model field
        raise ModelError(f"{exc.message} in {spec!r}", field="model", hint=exc.hint) from None


def split_spec(spec: str) -> tuple[str, str]:
    """``"provider/model"`` → ``(provider, model)``; the model part may itself contain slashes."""
    provider, sep, name = spec.partition("/")
    if not sep or not provider or not name:
        raise ModelError(
            f"model spec {spec!r} is not of the form provider/model",
            field="model",
            hint="for example local/smollm2-135m, openai/llama-3.1-8b or hf/HuggingFaceTB/SmolLM2-135M-Instruct",
        )
    return provider, name


def load_model(spec: str, **options: Any) -> LanguageModel:
    """Make the backend for ``spec`` (``provider/model``); ``options`` go to the provider.

    Unknown providers raise :class:`ModelError` naming the nearest and listing the known ones (built-in and plugins).
    """
    provider, name, factory = provider_factory(spec)
    from proceval.models.check import check_options

    check_options(provider, options)  # a misspelt option is named, not a TypeError from the backend
    model = factory(name, **options)
    model.spec = spec
    return model
