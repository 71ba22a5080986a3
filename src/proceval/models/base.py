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
    prompt_evaluated: int | None = None  # prompt tokens actually evaluated (after prefix reuse), if known
    satisfied: bool | None = None  # the text satisfies the config's constraint (None: no constraint)
    attempts: int = 1  # samples drawn: more than 1 where a server's output was checked and drawn again


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


# provider name → factory(model_name, **options) -> LanguageModel. Plugins add entries under the
# ``proceval.providers`` entry-point group (the entry point's object is such a factory).
PROVIDERS: dict[str, Callable[..., LanguageModel]] = {}
ENTRY_POINT_GROUP = "proceval.providers"


def register_provider(name: str, factory: Callable[..., LanguageModel]) -> None:
    PROVIDERS[name] = factory


def _lazy(module: str, attr: str) -> Callable[..., LanguageModel]:
    """A factory that imports its backend module only when a model of that provider is loaded."""

    def factory(name: str, **options: Any) -> LanguageModel:
        import importlib

        cls = getattr(importlib.import_module(module), attr)
        return cls(name, **options)  # type: ignore[no-any-return]

    factory.__name__ = f"{attr}_factory"
    factory.target = (module, attr)  # type: ignore[attr-defined]  # lets checks read its options unloaded
    return factory


register_provider("local", _lazy("proceval.models.llamacpp", "EmbeddedModel"))
register_provider("llama-cpp", _lazy("proceval.models.llamacpp", "LlamaCppModel"))
register_provider("openai", _lazy("proceval.models.openai", "OpenAIModel"))
register_provider("hf", _lazy("proceval.models.hf", "HFModel"))


def _load_entry_points() -> dict[str, str]:
    """Add the plugins' providers (built-in names win); returns the plugins that failed to load, with why."""
    from proceval.plugins import load_entry_points

    loaded, broken = load_entry_points(ENTRY_POINT_GROUP)
    for name, factory in loaded.items():
        PROVIDERS.setdefault(name, factory)
    return broken


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

    Unknown providers raise :class:`ModelError` listing the known ones (built-in and plugins).
    """
    provider, name = split_spec(spec)
    if provider not in PROVIDERS and provider in (broken := _load_entry_points()):
        raise ModelError(f"provider plugin {provider!r} failed to load: {broken[provider]}", field="model",
                         hint="reinstall or remove the package that provides it")
    if provider not in PROVIDERS:
        known = ", ".join(sorted(PROVIDERS))
        raise ModelError(
            f"unknown model provider {provider!r} in {spec!r}; known providers: {known}",
            field="model",
            hint=f"plugins add providers under the {ENTRY_POINT_GROUP!r} entry-point group",
        )
    from proceval.models.check import check_options

    check_options(provider, options)  # a misspelt option is named, not a TypeError from the backend
    model = PROVIDERS[provider](name, **options)
    model.spec = spec
    return model
