"""The registry of scenario sources: where a causal template's fillings come from.

A source is a function ``(template, request) → Filling``: the scenarios (or rows it skipped) and what the dataset
manifest records about it. Built in: ``lexicon`` (sampled offline), ``table`` (rows of files), ``writer`` (an LLM
writes them); plugins add sources under the ``proceval.scenario_sources`` entry-point group.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from proceval.core.registry import Registry
from proceval.dataset import Scenario, SkippedRow
from proceval.errors import SourceError
from proceval.templates import Template


@dataclass
class SourceRequest:
    """What ``generate`` asks a source for."""

    n: int | None = None
    seed: int = 0
    files: list[Path] = field(default_factory=list)
    model: str | None = None  # the writer's model spec
    options: dict[str, Any] = field(default_factory=dict)  # the source's own settings (the writer's)
    progress: bool = True


@dataclass
class Filling:
    """A source's scenarios (in order, skipped rows among them) and what the manifest says about them."""

    outcomes: Iterable[Scenario | SkippedRow]
    source: dict[str, Any]  # the manifest's ``source``: at least its ``kind``
    total: int | None = None  # how many to expect, for the progress bar
    manifest: dict[str, Any] = field(default_factory=dict)  # more manifest fields (the writer's settings)


ScenarioSource = Callable[[Template, SourceRequest], Filling]


def _need_n(request: SourceRequest, what: str) -> int:
    if request.n is None or request.n < 1:
        raise SourceError(f"say how many scenarios {what} with --n N (N ≥ 1)")
    return request.n


def lexicon_source(template: Template, request: SourceRequest) -> Filling:
    from proceval.scenarios.lexicon import lexicon_scenarios

    n = _need_n(request, "to fill from the lexicon")
    return Filling(lexicon_scenarios(template, n, request.seed), {"kind": "lexicon", "n": n}, total=n)


def table_source(template: Template, request: SourceRequest) -> Filling:
    from proceval.scenarios.table import table_scenarios

    return Filling(table_scenarios(template, request.files),
                   {"kind": "table", "files": [str(f) for f in request.files]})


def writer_source(template: Template, request: SourceRequest) -> Filling:
    from proceval.scenarios.writer import write_scenarios

    n = _need_n(request, "the writer should fill")
    if not request.model:
        raise SourceError("the writer needs a model: --writer MODEL")
    model = request.model
    result = write_scenarios(template, model=model, n=n, seed=request.seed, progress=request.progress,
                             **request.options)

    def outcomes() -> Iterator[Scenario | SkippedRow]:
        for i, values in enumerate(result.scenarios):
            yield Scenario.of(template.name, dict(values), {"kind": "writer", "model": model, "index": i})

    info = {**result.info, "rejections": dict(result.rejections)}
    return Filling(outcomes(), {"kind": "writer", "model": model, "n": n}, total=n, manifest={"writer": info})


SOURCES: Registry[ScenarioSource] = Registry(
    "scenario_sources", singular="scenario source", error=SourceError, builtins={
        "lexicon": "proceval.scenarios.sources:lexicon_source",
        "table": "proceval.scenarios.sources:table_source",
        "writer": "proceval.scenarios.sources:writer_source",
    })
