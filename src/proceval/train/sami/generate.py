"""Responses of a model under each constitution: the data one SAMI iteration trains on.

For each query and each constitution, the constitution's principles (in an order shuffled per query, seeded, as
in the paper) form the system message and the query the user message; the model answers with temperature
sampling under a seed derived from the query and constitution. Every call goes through the call cache in
``OUT/calls.sqlite``, so a generation interrupted and started again repeats no finished call, and the data does
not depend on the order or the resume point.

``OUT/data.jsonl`` holds one row per query: the query, and per constitution its system prompt and response.
``OUT/generate.json`` records the model, constitutions, settings and counts.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from proceval.ids import text_id
from proceval.train.sami.constitutions import Constitution, ConstitutionSet, SamiError
from proceval.train.sami.queries import Query

DATA = "data.jsonl"
MANIFEST = "generate.json"
CACHE = "calls.sqlite"
SYSTEM = "Follow these principles when you answer:\n{principles}"


class Row(BaseModel):
    """One query: ``systems[i]`` is constitution i's system prompt, ``responses[i]`` the answer written under it."""

    query_id: str
    query: str
    constitutions: list[str]
    systems: list[str]
    responses: list[str]


def system_prompt(constitution: Constitution, query_id: str, seed: int) -> str:
    """The constitution's principles as a numbered list, in an order shuffled by (seed, query)."""
    principles = list(constitution.principles)
    random.Random(f"{seed}:{query_id}").shuffle(principles)
    return SYSTEM.format(principles="\n".join(f"{n}. {p}" for n, p in enumerate(principles, 1)))


def messages(system: str, query: str) -> list[Any]:
    from proceval.models import Message

    return [Message("system", system), Message("user", query)]


def response_seed(seed: int, query_id: str, constitution_id: str) -> int:
    return int(text_id(str(seed), query_id, constitution_id, length=8), 16)


def generate_responses(model: Any, constitutions: ConstitutionSet, queries: list[Query], *, seed: int = 0,
                       max_tokens: int = 96, temperature: float = 0.7,
                       progress: Callable[[int, int], None] | None = None) -> list[Row]:
    """One :class:`Row` per query (``model`` is any LanguageModel, usually a CachedModel)."""
    from proceval.models import GenerateConfig

    rows = []
    for done, query in enumerate(queries):
        systems, responses = [], []
        for constitution in constitutions.constitutions:
            system = system_prompt(constitution, query.id, seed)
            config = GenerateConfig(max_tokens=max_tokens, temperature=temperature,
                                    seed=response_seed(seed, query.id, constitution.id))
            systems.append(system)
            responses.append(model.generate(messages(system, query.text), config).text.strip())
        rows.append(Row(query_id=query.id, query=query.text, constitutions=[c.id for c in constitutions.constitutions],
                        systems=systems, responses=responses))
        if progress is not None:
            progress(done + 1, len(queries))
    return rows


def generate_data(model_spec: str, constitutions: ConstitutionSet, queries: list[Query], out: str | Path, *,
                  seed: int = 0, max_tokens: int = 96, temperature: float = 0.7, model: Any = None,
                  options: dict[str, Any] | None = None, log: Callable[[str], None] = print) -> dict[str, Any]:
    """Generate into ``out`` (resumable through ``out/calls.sqlite``); returns the manifest written. ``model``
    is an already loaded ``model_spec``; else it is loaded with ``options`` (e.g. ``n_threads``)."""
    from proceval.models import load_model
    from proceval.models.cache import CachedModel, CallCache

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    cached = CachedModel(model if model is not None else load_model(model_spec, **(options or {})),
                         CallCache(out / CACHE))
    try:
        rows = generate_responses(cached, constitutions, queries, seed=seed, max_tokens=max_tokens,
                                  temperature=temperature,
                                  progress=lambda d, n: log(f"generated {d}/{n} queries") if d % 16 == 0 else None)
    finally:
        assert cached.cache is not None
        cached.cache.close()
    empty = sum(1 for row in rows for r in row.responses if not r)
    tmp = out / (DATA + ".tmp")
    tmp.write_text("".join(row.model_dump_json() + "\n" for row in rows), encoding="utf-8")
    tmp.replace(out / DATA)
    manifest = {"model": model_spec, "identity": {"provider": cached.identity.provider, "name": cached.identity.name,
                                                  "revision": cached.identity.revision},
                "constitutions": constitutions.model_dump(), "seed": seed, "max_tokens": max_tokens,
                "temperature": temperature, "queries": len(rows), "empty_responses": empty,
                "calls": cached.calls, "cache_hits": cached.hits}
    (out / MANIFEST).write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return manifest


def read_data(path: str | Path) -> tuple[list[Row], dict[str, Any]]:
    """The rows and manifest of a generation directory."""
    folder = Path(path)
    if not (folder / DATA).is_file() or not (folder / MANIFEST).is_file():
        raise SamiError("not a SAMI data directory (no data.jsonl and generate.json)", file=folder,
                        hint="make one with `proceval sami generate`")
    manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    rows = []
    for n, line in enumerate((folder / DATA).read_text(encoding="utf-8").splitlines(), 1):
        try:
            rows.append(Row.model_validate_json(line))
        except ValueError as exc:
            raise SamiError(f"malformed row: {str(exc).splitlines()[0]}", file=folder / DATA, line=n) from None
    return rows, manifest


__all__ = ["Row", "generate_data", "generate_responses", "read_data", "system_prompt"]
