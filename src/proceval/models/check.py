"""What can be checked about a model spec and its backend options without loading the model.

``study --check`` uses it to catch typos before a long study starts, and :func:`load_model` checks the option
names the same way, so a misspelt option is one clear error instead of a ``TypeError`` from a constructor.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from difflib import get_close_matches
from pathlib import Path
from typing import Any

from proceval.errors import ModelError
from proceval.models.base import PROVIDERS, provider_factory


def accepted_options(factory: Callable[..., Any]) -> set[str] | None:
    """The keyword options a provider's factory takes, or ``None`` when it takes any (``**options``)."""
    target: Any = factory
    if not inspect.isclass(target):
        own, takes_any = _keywords(target)
        return None if takes_any else own
    names: set[str] = set()
    for cls in target.__mro__:  # an __init__ that passes **options on takes its base class's options too
        if "__init__" not in vars(cls):
            continue
        own, takes_any = _keywords(vars(cls)["__init__"])
        names |= own
        if not takes_any:
            return names
    return None


def _keywords(function: Callable[..., Any]) -> tuple[set[str], bool]:
    """The keyword parameters of ``function`` and whether it also takes ``**options``."""
    parameters = inspect.signature(function).parameters.values()
    named = {p.name for p in parameters if p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD)} - {"self", "name"}
    return named, any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters)


def check_options(provider: str, options: dict[str, Any]) -> None:
    """An error naming the first option ``provider`` does not take, with the closest one it does."""
    accepted = accepted_options(PROVIDERS[provider])
    if accepted is None:
        return
    for key in options:
        if key not in accepted:
            close = get_close_matches(key, sorted(accepted), n=1)
            raise ModelError(
                f"{provider}/ models take no option {key!r}",
                field=f"options.{key}",
                hint=(f"did you mean {close[0]!r}? " if close else "") + f"options: {', '.join(sorted(accepted))}",
            )


def check_model(spec: str, options: dict[str, Any]) -> list[str]:
    """Check ``spec`` and ``options`` as far as possible without loading a model or asking a server.

    Raises :class:`ModelError` for what is certainly wrong (unknown provider, option or embedded model, a
    missing file, no server address); returns notes on what only running can tell.
    """
    provider, name, _ = provider_factory(spec)
    check_options(provider, options)
    if provider == "local":
        from proceval.models.llamacpp import EMBEDDED, embedded_model_path

        if name not in EMBEDDED:
            close = get_close_matches(name, sorted(EMBEDDED), n=1)
            raise ModelError(f"unknown embedded model {name!r} in {spec!r}", field="model",
                             hint=(f"did you mean 'local/{close[0]}'? " if close else "")
                             + f"embedded models: {', '.join(sorted(EMBEDDED))}; any GGUF file: llama-cpp/PATH")
        embedded_model_path(name)  # its package is installed
        return []
    if provider == "llama-cpp":
        if not Path(name).expanduser().is_file():
            raise ModelError(f"no GGUF file {name!r}", field="model", hint="paths are relative to the working folder")
        return [f"{spec}: whether the file is a GGUF model llama.cpp can load is known when it loads"]
    if provider == "hf":
        path = Path(name).expanduser()
        if path.is_dir():
            return [f"{spec}: whether transformers can load the folder is known when it loads"]
        if name.startswith((".", "/", "~")):
            raise ModelError(f"no model folder {name!r}", field="model",
                             hint="give a local folder with config, weights and tokenizer, or a hub name")
        return [f"{spec}: a hub name; whether it is in the local cache or can be downloaded is known when it loads"]
    if provider == "openai":
        from proceval.models.openai import resolve_base_url

        url, _ = resolve_base_url(options.get("base_url"))
        return [f"{spec}: whether {url} answers and serves {name!r} is known when the run starts"]
    return [f"{spec}: the plugin provider {provider!r} checks its model name when it loads"]
