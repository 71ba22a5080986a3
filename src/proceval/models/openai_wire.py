"""What the ``openai/`` provider sends, apart from the client: the server URL, the retryable statuses and the
request keys that make servers enforce a constraint."""

from __future__ import annotations

import json
import math
import os
from typing import Any

import httpx

from proceval.core.generate import Choice, Grammar, JsonSchema, Regex, Step
from proceval.errors import ModelError

RETRY_STATUS = {408, 409, 429, 500, 502, 503, 504}
TOO_LONG_HINTS = ("context length", "context window", "maximum context", "too long", "exceed", "n_ctx")


def logsumexp(values: list[float]) -> float:
    top = max(values)
    return top + math.log(sum(math.exp(v - top) for v in values))


SCHEMA_FORMATS = (
    lambda schema: {"type": "json_schema", "json_schema": {"name": "answer", "schema": schema, "strict": True}},
    lambda schema: {"type": "json_object", "schema": schema},
)


def guided_keys(step: Step) -> dict[str, Any]:
    """Body keys that make servers enforce a constraint: vLLM's guided decoding and llama.cpp's ``grammar``."""
    from proceval.models.guided import choice_to_gbnf, regex_to_gbnf

    if isinstance(step, Regex):
        gbnf = regex_to_gbnf(step.pattern)
        return {"guided_regex": step.pattern, **({"grammar": gbnf} if gbnf else {})}
    if isinstance(step, Choice):
        return {"guided_choice": list(step.options), "grammar": choice_to_gbnf(step.options)}
    if isinstance(step, Grammar):
        return {"guided_grammar": step.text, **({"grammar": step.text} if step.syntax == "gbnf" else {})}
    if isinstance(step, JsonSchema):
        try:  # llama.cpp's own converter, where llama-cpp-python is installed
            from llama_cpp.llama_grammar import json_schema_to_gbnf

            converted: str | None = json_schema_to_gbnf(json.dumps(step.schema))
        except Exception:
            converted = None
        return {"guided_json": step.schema, **({"grammar": converted} if converted else {})}
    return {}


OPENAI_API = "https://api.openai.com/v1"


def resolve_base_url(base_url: str | None) -> tuple[str, str]:
    """The server URL to use and where it came from (``--base-url`` or ``OPENAI_BASE_URL``).

    There is no silent default: a run meant for a local server must not reach a paid public API because a
    variable was unset. A URL that cannot work (no http(s) scheme or no host) is an error before any request.
    """
    if base_url:
        url, origin = base_url, "--base-url"
    elif os.environ.get("OPENAI_BASE_URL"):
        url, origin = os.environ["OPENAI_BASE_URL"], "OPENAI_BASE_URL"
    else:
        raise ModelError(
            "openai/ models need a server address: none was given",
            field="base_url",
            hint=f"pass --base-url (e.g. http://127.0.0.1:8000/v1) or set OPENAI_BASE_URL; for OpenAI's own "
            f"API name it: --base-url {OPENAI_API}",
        )
    try:
        parsed = httpx.URL(url)
        problem = ("it needs http:// or https://" if parsed.scheme not in ("http", "https")
                   else "it names no host" if not parsed.host else "")
    except httpx.InvalidURL as exc:
        problem = str(exc)
    if problem:
        raise ModelError(f"the server URL {url!r} (from {origin}) cannot work: {problem}", field="base_url",
                         hint="give the server's address, e.g. http://127.0.0.1:8000/v1")
    return url.rstrip("/"), origin


def refuses_format(response: httpx.Response) -> bool:
    """The server refused the request's ``response_format``: 400/422, or an error naming it (llama-cpp-python's
    server answers a request it cannot validate with 500 and the pydantic error)."""
    return response.status_code in (400, 422) or (response.status_code >= 400 and "response_format" in response.text)
