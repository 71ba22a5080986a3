"""``openai/MODEL``: any OpenAI-compatible server (vLLM, Ollama, llama.cpp server, SGLang, OpenAI).

The base URL comes from ``base_url`` or else ``OPENAI_BASE_URL``; with neither the provider refuses to start
rather than guess (OpenAI's own API is used only when named: ``https://api.openai.com/v1``). The key comes
only from ``OPENAI_API_KEY`` and never appears in identities, errors or logs.

Only failures whose answer can change are retried: 408/409/429/5xx answers, timeouts and connections dropped
mid-request, with exponential backoff and jitter, honouring ``Retry-After``; each retry is announced as a
warning with its count. A refused connection, an unknown host or a malformed URL cannot get better by waiting
and is reported at once. A server that stays unreachable raises :class:`ModelUnavailable` (the runner stops,
keeping finished work). ``max_connections`` bounds the requests in flight (the runner sends that many items
at once).

Log-probability scoring asks for one token with the top-``top_logprobs`` alternatives and reads the
options' first tokens from them: exact for letters and scale points (single tokens). An option absent
from the top alternatives gets the smallest listed log-probability (an upper bound); when no option is
listed the item is an error. Chat endpoints cannot continue a partial assistant message (unless the
server supports ``continue_final_message``, as vLLM does), so there the prompt's own instruction stands in
for the answer prefix.

Constraints (:mod:`proceval.core.generate`) go to the server in the forms servers accept: a JSON schema as
``response_format`` on chat endpoints; on ``/completions`` and for a regular expression, choice or grammar,
vLLM's ``guided_json`` / ``guided_regex`` / ``guided_choice`` / ``guided_grammar`` keys and, in GBNF,
``grammar`` (llama.cpp's servers). Whatever the server did with them, the
answer is checked here and drawn again (at most ``constraint_retries`` more times, at temperature at least 0.7
with another seed) until it satisfies the constraint; ``Generation.attempts`` counts the draws,
``Generation.redraws`` those after a failed one (also summed in ``redraws`` for run manifests) and
``Generation.satisfied`` says whether the last one passed. A guide runs block by block, each block a request
that continues the text so far (so it needs ``endpoint="completions"`` or ``continue_final_message``); a block
whose every draw broke the guide is left out and ends the response (finish reason ``constraint``), so the text
returned follows the guide (a block cut short by ``max_tokens`` is kept where it is the start of a valid one).

Why over 400 lines: one class speaks one wire protocol, and its parts (retries, key redaction, constraint
re-draws, guides, log-probability scoring) share the client, the server's answers learnt so far and the retry
count; what needs none of that (URLs, request keys for constraints) is in :mod:`proceval.models.openai_wire`.
Retries are the ~40 lines of ``_send`` rather than ``tenacity`` or the ``openai`` SDK: neither is a dependency
(installing one for a loop is more weight than the loop), and the SDK retries a refused connection, which must
fail at once here (a run aimed at a server that is not started says so in under 2 s:
tests/models/test_openai.py).
"""

from __future__ import annotations

import dataclasses
import os
import random
import threading
import time
import warnings
from collections.abc import Callable
from typing import Any

import httpx

from proceval.core.generate import Free, GenerateConfig, Guide, JsonSchema, Step
from proceval.errors import ModelError
from proceval.models.base import (
    ContinuationScores,
    Generation,
    Message,
    ModelIdentity,
    ModelUnavailable,
    PromptTooLong,
    ResponseLogprob,
)
from proceval.models.chat import render_chat
from proceval.models.openai_wire import (
    OPENAI_API,
    RETRY_STATUS,
    SCHEMA_FORMATS,
    TOO_LONG_HINTS,
    guided_keys,
    logsumexp,
    refuses_format,
    resolve_base_url,
)

__all__ = ["OPENAI_API", "RETRY_STATUS", "OpenAIModel", "resolve_base_url"]


class OpenAIModel:
    provider = "openai"

    def __init__(
        self,
        name: str,
        *,
        base_url: str | None = None,
        endpoint: str = "chat",
        max_connections: int = 4,
        timeout: float = 60.0,
        max_retries: int = 6,
        backoff_base: float = 0.5,
        backoff_max: float = 30.0,
        top_logprobs: int = 20,
        logprobs: bool = True,
        continue_final_message: bool = False,
        context_length: int | None = None,
        rng_seed: int | None = None,
        constraint_retries: int = 3,
    ) -> None:
        if endpoint not in ("chat", "completions"):
            raise ModelError(f"unknown endpoint {endpoint!r}; use chat or completions", field="endpoint")
        self.spec = f"openai/{name}"
        self.name = name
        self.base_url, self.base_url_origin = resolve_base_url(base_url)
        self.endpoint = endpoint
        self.max_concurrency = max(1, int(max_connections))
        self.max_retries = max_retries
        self.backoff_base = backoff_base
        self.backoff_max = backoff_max
        self.top_logprobs = top_logprobs
        self._logprobs = logprobs
        self.continue_final_message = continue_final_message
        self._context = context_length
        self._key = os.environ.get("OPENAI_API_KEY")
        headers = {"Authorization": f"Bearer {self._key}"} if self._key else {}
        self._client = httpx.Client(
            base_url=self.base_url,
            headers=headers,
            timeout=httpx.Timeout(timeout, connect=min(timeout, 10.0)),
            limits=httpx.Limits(max_connections=self.max_concurrency,
                                max_keepalive_connections=self.max_concurrency),
        )
        self._rng = random.Random(rng_seed)
        self._rng_lock = threading.Lock()
        self.retries = 0  # requests retried (for tests and run manifests)
        self.redraws = 0  # texts that failed a constraint and were drawn again (for run manifests)
        self._server_model: str | None = None
        self._server_model_known = False
        self._schema_style: int | None = None  # which response_format this server accepts (index in SCHEMA_FORMATS)
        self.constraint_retries = max(0, int(constraint_retries))
        self._send_guided_keys = True  # False once the server refused the guided_*/grammar body keys

    # -- plumbing ---------------------------------------------------------------------------------
    def _clean(self, text: str) -> str:
        """Server text with the key (if a server echoes it) removed."""
        if self._key:
            text = text.replace(self._key, "***")
        return text[:500]

    def _delay(self, attempt: int, retry_after: str | None) -> float:
        if retry_after:
            try:
                return min(self.backoff_max, max(0.0, float(retry_after)))
            except ValueError:
                pass
        with self._rng_lock:
            jitter = self._rng.uniform(0.5, 1.5)
        return float(min(self.backoff_max, self.backoff_base * (2**attempt)) * jitter)

    def request(self, method: str, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        """One API call with retries; returns the JSON body."""
        return self._answer(self._send(method, path, body), path)

    def _send(self, method: str, path: str, body: dict[str, Any] | None,
              final: Callable[[httpx.Response], bool] = lambda response: False) -> httpx.Response:
        """The server's response, retried while the failure can change (RETRY_STATUS, timeouts, dropped
        connections) unless ``final`` says the answer is definite; a connection that cannot be made is
        reported at once."""
        last = ""
        for attempt in range(self.max_retries + 1):
            retry_after = None
            try:
                response = self._client.request(method, path, json=body)
            except httpx.ConnectError as exc:  # refused, unknown host: waiting does not help
                raise ModelUnavailable(
                    f"cannot connect to {self.base_url} (from {self.base_url_origin}): {self._clean(str(exc))}",
                    hint="start the server, or check --base-url / OPENAI_BASE_URL",
                ) from None
            except (httpx.TimeoutException, httpx.NetworkError, httpx.RemoteProtocolError) as exc:
                last = f"{type(exc).__name__}: {self._clean(str(exc))}"
            except httpx.TransportError as exc:  # e.g. an unsupported protocol: not worth a retry
                raise ModelUnavailable(f"cannot reach {self.base_url}{path}: {self._clean(str(exc))}",
                                       hint="check --base-url / OPENAI_BASE_URL") from None
            else:
                if response.status_code not in RETRY_STATUS or final(response):
                    return response
                last = f"HTTP {response.status_code}: {self._clean(response.text)}"
                retry_after = response.headers.get("retry-after")
            if attempt < self.max_retries:
                self.retries += 1
                delay = self._delay(attempt, retry_after)
                warnings.warn(f"{self.base_url}{path}: {last[:200]}; retry {attempt + 1} of {self.max_retries} "
                              f"in {delay:.1f} s", stacklevel=2)
                time.sleep(delay)
        raise ModelUnavailable(
            f"could not get an answer from {self.base_url}{path} after {self.max_retries + 1} tries ({last})",
            hint="check that the server is running and reachable (--base-url or OPENAI_BASE_URL)",
        )

    def _answer(self, response: httpx.Response, path: str) -> dict[str, Any]:
        """The JSON body of a response, or the error it means."""
        if response.status_code < 400:
            try:
                data = response.json()
            except ValueError:
                raise ModelError(f"{self.base_url}{path} answered with text that is not JSON: "
                                 f"{self._clean(response.text)!r}") from None
            if not isinstance(data, dict):
                raise ModelError(f"{self.base_url}{path} answered with JSON that is not an object")
            return data
        message = self._clean(response.text)
        if response.status_code in RETRY_STATUS:
            raise ModelUnavailable(f"{self.base_url}{path} answered {response.status_code}: {message}")
        if response.status_code == 400 and any(h in message.lower() for h in TOO_LONG_HINTS):
            raise PromptTooLong(f"the server refused the prompt as too long: {message}")
        if response.status_code in (401, 403):
            raise ModelUnavailable(
                f"{self.base_url} refused the request ({response.status_code}): {message}",
                hint="set OPENAI_API_KEY in the environment",
            )
        if response.status_code == 404 and path != "/models":
            raise ModelUnavailable(
                f"{self.base_url}{path} does not exist (404): {message}",
                hint="check --base-url (it usually ends in /v1) and the model name",
            )
        raise ModelError(f"{self.base_url}{path} answered {response.status_code}: {message}")

    def _server_identity(self) -> str | None:
        if not self._server_model_known:
            self._server_model_known = True
            try:
                data = self.request("GET", "/models")
            except ModelError as exc:
                if isinstance(exc, ModelUnavailable) and "404" not in str(exc):
                    raise
                return None
            ids = [str(m.get("id")) for m in data.get("data", []) if isinstance(m, dict)]
            self._server_model = self.name if self.name in ids else (ids[0] if len(ids) == 1 else None)
        return self._server_model

    # -- protocol -------------------------------------------------------------------------------
    @property
    def identity(self) -> ModelIdentity:
        return ModelIdentity(
            provider="openai",
            name=self.name,
            revision=self._server_identity(),
            parameters={"base_url": self.base_url, "endpoint": self.endpoint},
        )

    @property
    def supports_logprobs(self) -> bool:
        return self._logprobs

    @property
    def can_continue_assistant(self) -> bool:
        return self.endpoint == "completions" or self.continue_final_message

    @property
    def context_length(self) -> int | None:
        return self._context

    def count_tokens(self, messages: list[Message], assistant_prefix: str = "") -> int:
        # servers do not expose their tokenizer portably: a rough estimate (4 characters a token)
        return sum(len(m.content) for m in messages) // 4 + len(assistant_prefix) // 4

    def _completion_prompt(self, messages: list[Message], assistant_prefix: str = "") -> str:
        return render_chat(None, messages) + assistant_prefix

    def _body(self, messages: list[Message], assistant_prefix: str = "") -> dict[str, Any]:
        if self.endpoint == "completions":
            return {"model": self.name, "prompt": self._completion_prompt(messages, assistant_prefix)}
        chat = [{"role": m.role, "content": m.content} for m in messages]
        body: dict[str, Any] = {"model": self.name, "messages": chat}
        if assistant_prefix and self.continue_final_message:
            chat.append({"role": "assistant", "content": assistant_prefix})
            body.update(continue_final_message=True, add_generation_prompt=False)
        return body

    def generate(self, messages: list[Message], config: GenerateConfig | None = None) -> Generation:
        config = config or GenerateConfig()
        constraint = config.constraint
        if isinstance(constraint, Guide):
            return self._generate_guided(messages, constraint, config)
        if constraint is None:
            return self._complete(messages, "", config, None)
        return self._sample_checked(messages, "", config, constraint)

    def _complete(self, messages: list[Message], prefix: str, config: GenerateConfig,
                  step: Step | None) -> Generation:
        """One request: the assistant's text after ``prefix``, under ``step`` where the server enforces it."""
        body = self._body(messages, prefix)
        body.update(max_tokens=config.max_tokens, temperature=config.temperature)
        if config.seed is not None:
            body["seed"] = config.seed
        if config.stop:
            body["stop"] = list(config.stop)
        path = "/chat/completions" if self.endpoint == "chat" else "/completions"
        if isinstance(step, JsonSchema) and self.endpoint == "chat":
            data = self._structured_request(path, body, step.schema)
        elif step is not None and not isinstance(step, Free) and self._send_guided_keys:
            try:
                data = self.request("POST", path, {**body, **guided_keys(step)})
            except ModelError as exc:
                if isinstance(exc, ModelUnavailable | PromptTooLong) or not any(
                        f" answered {code}:" in exc.message for code in (400, 422)):
                    raise
                self._send_guided_keys = False  # the server refuses the keys: sample and check instead
                data = self.request("POST", path, body)
        else:
            data = self.request("POST", path, body)
        choice = self._first_choice(data, path)
        if self.endpoint == "chat":
            text = (choice.get("message") or {}).get("content") or ""
        else:
            text = choice.get("text") or ""
        usage = data.get("usage") or {}
        return Generation(
            text=str(text),
            prompt_tokens=int(usage.get("prompt_tokens") or 0),
            completion_tokens=int(usage.get("completion_tokens") or 0),
            finish_reason=choice.get("finish_reason"),
        )

    def _sample_checked(self, messages: list[Message], prefix: str, config: GenerateConfig,
                        step: Step, block: bool = False) -> Generation:
        """Draw until the text satisfies ``step`` (at most ``constraint_retries`` more draws). ``block``: the
        text is one block of a guide, which ends where ``step`` admits nothing more (as under token masking), so
        a text that goes on past a complete block is cut there."""
        from proceval.models.guided import allows_prefix, complete_prefix, satisfies

        draw = config
        for attempt in range(self.constraint_retries + 1):
            gen = self._complete(messages, prefix, draw, step)
            cut = complete_prefix(step, gen.text) if block else None
            if cut is not None or satisfies(step, gen.text):
                return dataclasses.replace(gen, text=gen.text if cut is None else cut, satisfied=True,
                                           attempts=attempt + 1, redraws=attempt)
            if attempt == self.constraint_retries or (block and gen.finish_reason == "length"
                                                      and allows_prefix(step, gen.text)):
                break  # (the guide's token budget ran out on a block that kept to it: a redraw has no more room)
            self.redraws += 1
            # the same request would give the same text: draw again with some randomness and another seed
            draw = dataclasses.replace(config, temperature=max(config.temperature, 0.7),
                                       seed=(config.seed or 0) + attempt + 1)
        return dataclasses.replace(gen, satisfied=False, attempts=attempt + 1, redraws=attempt)

    def _generate_guided(self, messages: list[Message], guide: Guide, config: GenerateConfig) -> Generation:
        if not self.can_continue_assistant:
            raise ModelError("a guide on an OpenAI-compatible server continues the text block by block, which a "
                             "chat endpoint cannot do", field="constraint",
                             hint="use endpoint='completions' (or continue_final_message on vLLM)")
        from proceval.models.guided import allows_prefix

        text, prompt_tokens, completion, attempts, redraws, satisfied, finish = "", 0, 0, 0, 0, True, "stop"
        while (step := guide.allowed(text)) is not None:
            budget = config.max_tokens - completion
            if budget <= 0:
                finish, satisfied = "length", False
                break
            block_config = dataclasses.replace(config, max_tokens=budget, constraint=None)
            if isinstance(step, Free):
                stop = (step.until,) if step.until else config.stop
                gen = self._complete(messages, text, dataclasses.replace(block_config, stop=stop), None)
                attempts += 1
                piece = gen.text
                if step.until and gen.finish_reason == "stop":
                    piece += step.until  # the server stopped at the marker (or ended the turn): the block ends
            else:
                gen = self._sample_checked(messages, text, block_config, step, block=True)
                attempts += gen.attempts
                redraws += gen.redraws
                piece = gen.text
                if not gen.satisfied and not allows_prefix(step, piece):
                    # every draw broke the guide: none of it is kept, so what is returned still follows the guide
                    gen, piece = dataclasses.replace(gen, finish_reason="constraint"), ""
            prompt_tokens = prompt_tokens or gen.prompt_tokens
            completion += gen.completion_tokens
            text += piece
            if gen.satisfied is False or (isinstance(step, Free) and step.until and gen.finish_reason != "stop"):
                finish, satisfied = gen.finish_reason or "length", False
                break
            if isinstance(step, Free) and step.until is None:
                finish = gen.finish_reason or "stop"
                break
        return Generation(text=text, prompt_tokens=prompt_tokens, completion_tokens=completion,
                          finish_reason=finish, satisfied=satisfied, attempts=attempts, redraws=redraws)

    def _structured_request(self, path: str, body: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
        """POST with a JSON-schema ``response_format`` in the form this server accepts.

        OpenAI and vLLM take ``{"type": "json_schema", ...}``; llama.cpp's server refuses it and takes
        ``{"type": "json_object", "schema": ...}``. Until a server has answered, the standard form is sent; only
        a refusal of it leads to trying llama.cpp's form, and the form the server accepted is kept. A network
        failure or an overloaded server says nothing about the format and is handled as for any request.
        """
        style = self._schema_style or 0
        body["response_format"] = SCHEMA_FORMATS[style](schema)
        probing = self._schema_style is None
        response = self._send("POST", path, body, final=refuses_format if probing else lambda r: False)
        if probing and refuses_format(response):
            body["response_format"] = SCHEMA_FORMATS[1](schema)
            other = self._send("POST", path, body)
            if other.status_code < 400:
                self._schema_style = 1
                return self._answer(other, path)
            return self._answer(response, path)  # refused in both forms: the standard form's error
        if self._schema_style is None and response.status_code < 400:
            self._schema_style = 0
        return self._answer(response, path)

    def _first_choice(self, data: dict[str, Any], path: str) -> dict[str, Any]:
        choices = data.get("choices")
        if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
            raise ModelError(f"{self.base_url}{path} answered without choices")
        return choices[0]

    def _top_tokens(self, choice: dict[str, Any]) -> list[tuple[str, float]]:
        logprobs = choice.get("logprobs") or {}
        if self.endpoint == "chat":
            content = logprobs.get("content") or []
            if not content:
                return []
            return [(str(t["token"]), float(t["logprob"])) for t in content[0].get("top_logprobs") or []]
        tops = logprobs.get("top_logprobs") or []
        if not tops or not isinstance(tops[0], dict):
            return []
        return [(str(tok), float(lp)) for tok, lp in tops[0].items()]

    def score(
        self, messages: list[Message], continuations: list[str], *, assistant_prefix: str = ""
    ) -> ContinuationScores:
        body = self._body(messages, assistant_prefix)
        body.update(max_tokens=1, temperature=0.0)
        if self.endpoint == "chat":
            body.update(logprobs=True, top_logprobs=self.top_logprobs)
            path = "/chat/completions"
        else:
            body.update(logprobs=self.top_logprobs)
            path = "/completions"
        data = self.request("POST", path, body)
        top = self._top_tokens(self._first_choice(data, path))
        if not top:
            raise ModelError(
                f"{self.base_url} returned no log-probabilities",
                field="scoring",
                hint="this server does not offer logprobs: use --scoring generate",
            )
        targets = [c.strip() for c in continuations]
        if len(set(targets)) != len(targets):
            raise ModelError("two options start alike; logprob scoring on a server needs distinct first tokens",
                             field="option_format", hint="use --option-format letters")
        floor = min(lp for _, lp in top)
        logprobs = []
        found_any = False
        for target in targets:
            matches = [lp for tok, lp in top if tok.strip() == target and tok.strip()]
            if matches:
                found_any = True
                logprobs.append(logsumexp(matches))
            else:
                logprobs.append(floor)
        if not found_any:
            listed = ", ".join(repr(t) for t, _ in top[:5])
            raise ModelError(f"none of the options is among the server's top {len(top)} next tokens ({listed}…)",
                             field="scoring", hint="use --scoring generate for this model")
        usage = data.get("usage") or {}
        prompt_tokens = int(usage.get("prompt_tokens") or 0)
        return ContinuationScores(logprobs=logprobs, token_counts=[1] * len(continuations),
                                  prompt_tokens=prompt_tokens, prompt_length=prompt_tokens)

    def close(self) -> None:
        self._client.close()

    def _echo(self, prompt: str) -> list[tuple[str, float | None]]:
        """The server's (token, log-probability) for each token of ``prompt`` (``/completions`` with echo)."""
        body = {"model": self.name, "prompt": prompt, "max_tokens": 1, "temperature": 0.0, "echo": True,
                "logprobs": 1}
        data = self.request("POST", "/completions", body)
        logprobs = self._first_choice(data, "/completions").get("logprobs") or {}
        tokens, values = logprobs.get("tokens"), logprobs.get("token_logprobs")
        if not isinstance(tokens, list) or not isinstance(values, list) or len(tokens) != len(values):
            raise ModelError(f"{self.base_url} returned no log-probabilities for an echoed prompt",
                             field="response_logprobs",
                             hint="use a server that gives prompt log-probabilities (echo with logprobs on "
                                  "/completions), or a local model")
        generated = int((data.get("usage") or {}).get("completion_tokens") or 0)
        pairs = list(zip(tokens, values, strict=True))
        return pairs[: len(pairs) - generated] if generated else pairs

    def response_logprobs(self, messages: list[Message], response: str, *, end: bool = True) -> ResponseLogprob:
        """From the server's log-probabilities of echoed prompts: the ChatML prompt alone and with the response
        as the assistant's turn (and ``<|im_end|>`` after it when ``end``); the response's tokens are those the
        second has beyond the first.

        llama-cpp-python's server shifts echoed log-probabilities by one token when the prompt does not begin
        with the model's BOS token (each token then gets the probability of repeating itself); such a server
        is recognised by the near-certain ChatML tokens of the prompt scoring as improbable, and refused.
        """
        prompt = self._completion_prompt(messages)
        alone = self._echo(prompt)
        whole = self._echo(prompt + response + ("<|im_end|>" if end else ""))
        if [t for t, _ in whole[: len(alone)]] != [t for t, _ in alone] or len(whole) <= len(alone):
            raise ModelError("the server tokenised the prompt differently once the response followed it",
                             field="response", hint="score this response with a local model")
        known = [v for _, v in alone if v is not None]
        if known and sum(known) / len(known) < -8.0:
            raise ModelError(
                f"{self.base_url} reports echoed prompt log-probabilities shifted by one token (the prompt's "
                f"template tokens average {sum(known) / len(known):.1f} nats)", field="response_logprobs",
                hint="llama-cpp-python's server does this for models whose prompts do not begin with their BOS "
                     "token: use a local model (llama-cpp/PATH.gguf) or a server such as vLLM")
        picked = [float(v) for _, v in whole[len(alone):] if v is not None]
        total = sum(picked)
        return ResponseLogprob(sum=total, mean=total / len(picked), n_tokens=len(picked))
