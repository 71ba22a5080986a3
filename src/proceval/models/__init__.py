"""Model backends behind one protocol (:class:`LanguageModel`), the provider registry and the call cache."""

from proceval.core.generate import Choice, Free, GenerateConfig, Grammar, Guide, JsonSchema, Regex
from proceval.models.base import (
    PROVIDERS,
    ContinuationScores,
    Generation,
    LanguageModel,
    Message,
    ModelIdentity,
    ModelUnavailable,
    PromptTooLong,
    ResponseLogprob,
    load_model,
    register_provider,
    split_spec,
)

__all__ = [
    "PROVIDERS",
    "Choice",
    "ContinuationScores",
    "Free",
    "GenerateConfig",
    "Generation",
    "Grammar",
    "Guide",
    "JsonSchema",
    "LanguageModel",
    "Message",
    "ModelIdentity",
    "ModelUnavailable",
    "PromptTooLong",
    "Regex",
    "ResponseLogprob",
    "load_model",
    "register_provider",
    "split_spec",
]
