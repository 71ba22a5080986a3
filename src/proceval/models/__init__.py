"""Model backends behind one protocol (:class:`LanguageModel`), the provider registry and the call cache."""

from proceval.models.base import (
    PROVIDERS,
    ContinuationScores,
    Generation,
    LanguageModel,
    Message,
    ModelIdentity,
    ModelUnavailable,
    PromptTooLong,
    load_model,
    register_provider,
    split_spec,
)

__all__ = [
    "PROVIDERS",
    "ContinuationScores",
    "Generation",
    "LanguageModel",
    "Message",
    "ModelIdentity",
    "ModelUnavailable",
    "PromptTooLong",
    "load_model",
    "register_provider",
    "split_spec",
]
