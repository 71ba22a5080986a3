"""The call cache: every model call, keyed by provider, model identity, full prompt and parameters.

A SQLite file in WAL mode, committed after every call, so a run killed at any moment and started again
repeats no model call it had finished. :class:`CachedModel` wraps any :class:`LanguageModel` and counts
calls made and cache hits; other stages (the LLM scenario writer) wrap their model the same way::

    cache = CallCache("runs/calls.sqlite")
    model = CachedModel(load_model("local/smollm2-135m"), cache)
    model.generate([Message("user", "Hi")], GenerateConfig(max_tokens=8))

A generate call's key holds its :class:`GenerateConfig`, constraint included (a JSON schema under the key
``json_schema`` as before constraints existed, other constraints under ``constraint``), so the same prompt
under another constraint is another entry. Calls under a guide without a ``cache_key()`` are not cached.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
import time
from dataclasses import asdict
from typing import Any

from proceval.core.generate import GenerateConfig
from proceval.core.store import SqliteStore
from proceval.errors import RunError
from proceval.ids import canonical_json
from proceval.models.base import (
    ContinuationScores,
    Generation,
    LanguageModel,
    Message,
    ModelIdentity,
    ResponseLogprob,
)

SCHEMA = """
CREATE TABLE IF NOT EXISTS calls (
    key TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    provider TEXT NOT NULL,
    model TEXT NOT NULL,
    value TEXT NOT NULL,
    created REAL NOT NULL
)
"""


def call_key(identity: ModelIdentity, kind: str, payload: dict[str, Any]) -> str:
    """sha256 of the canonical JSON of everything that determines a call's result."""
    record = {"identity": asdict(identity), "kind": kind, "payload": payload}
    return hashlib.sha256(canonical_json(record).encode("utf-8")).hexdigest()


class CallCache(SqliteStore):
    """A persistent key → JSON value store for model calls (SQLite, WAL, safe across threads)."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        super().__init__(path, SCHEMA, error=RunError, what="call cache",
                         hint="delete the file to start with an empty cache, or pass another --cache")

    def get(self, key: str) -> Any | None:
        with self.lock:
            row = self._db.execute("SELECT value FROM calls WHERE key = ?", (key,)).fetchone()
        return json.loads(row[0]) if row else None

    def put(self, key: str, kind: str, identity: ModelIdentity, value: Any) -> None:
        text = json.dumps(value, ensure_ascii=False)
        with self.lock:
            self._db.execute(
                "INSERT OR REPLACE INTO calls (key, kind, provider, model, value, created) VALUES (?,?,?,?,?,?)",
                (key, kind, identity.provider, identity.name, text, time.time()),
            )
            self._db.commit()

    def __len__(self) -> int:
        with self.lock:
            return int(self._db.execute("SELECT COUNT(*) FROM calls").fetchone()[0])


def _messages(messages: list[Message]) -> list[dict[str, str]]:
    return [{"role": m.role, "content": m.content} for m in messages]


class CachedModel:
    """A :class:`LanguageModel` that answers from the cache when it can and records every new call.

    ``calls`` counts calls that reached the model, ``hits`` calls answered by the cache, and
    ``prompt_tokens_evaluated`` the prompt tokens the backend reports it actually had to evaluate.
    """

    def __init__(self, model: LanguageModel, cache: CallCache | None) -> None:
        self.model = model
        self.cache = cache
        self.spec = model.spec
        self.calls = 0
        self.hits = 0
        self.prompt_tokens_evaluated = 0
        self._lock = threading.Lock()

    @property
    def identity(self) -> ModelIdentity:
        return self.model.identity

    @property
    def supports_logprobs(self) -> bool:
        return self.model.supports_logprobs

    @property
    def context_length(self) -> int | None:
        return self.model.context_length

    @property
    def max_concurrency(self) -> int:
        return int(getattr(self.model, "max_concurrency", 1))

    def count_tokens(self, messages: list[Message], assistant_prefix: str = "") -> int:
        return self.model.count_tokens(messages, assistant_prefix)

    def _count(self, hit: bool, evaluated: int = 0) -> None:
        with self._lock:
            if hit:
                self.hits += 1
            else:
                self.calls += 1
                self.prompt_tokens_evaluated += evaluated

    def generate(self, messages: list[Message], config: GenerateConfig | None = None) -> Generation:
        config = config or GenerateConfig()
        params = config.cache_payload()
        key = call_key(self.identity, "generate", {"messages": _messages(messages), **params}) \
            if params is not None else None
        if key is not None and self.cache is not None and (found := self.cache.get(key)) is not None:
            self._count(True)
            return Generation(**found)
        result = self.model.generate(messages, config)
        evaluated = result.prompt_evaluated if result.prompt_evaluated is not None else result.prompt_tokens
        self._count(False, evaluated)
        if key is not None and self.cache is not None:
            self.cache.put(key, "generate", self.identity, asdict(result))
        return result

    def score(
        self, messages: list[Message], continuations: list[str], *, assistant_prefix: str = ""
    ) -> ContinuationScores:
        payload = {
            "messages": _messages(messages),
            "continuations": list(continuations),
            "assistant_prefix": assistant_prefix,
        }
        key = call_key(self.identity, "score", payload)
        if self.cache is not None and (found := self.cache.get(key)) is not None:
            self._count(True)
            return ContinuationScores(**found)
        result = self.model.score(messages, continuations, assistant_prefix=assistant_prefix)
        self._count(False, result.prompt_tokens)
        if self.cache is not None:
            self.cache.put(key, "score", self.identity, asdict(result))
        return result

    def response_logprobs(self, messages: list[Message], response: str, *, end: bool = True) -> ResponseLogprob:
        payload = {"messages": _messages(messages), "response": response, "end": end}
        key = call_key(self.identity, "response_logprobs", payload)
        if self.cache is not None and (found := self.cache.get(key)) is not None:
            self._count(True)
            return ResponseLogprob(**found)
        result = self.model.response_logprobs(messages, response, end=end)
        self._count(False, 0)
        if self.cache is not None:
            self.cache.put(key, "response_logprobs", self.identity, asdict(result))
        return result
