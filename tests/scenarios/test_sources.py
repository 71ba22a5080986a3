"""Scenario sources are a registry: a registered source fills a template through ``generate(source=...)``."""

from __future__ import annotations

from pathlib import Path

import pytest

from proceval.errors import SourceError
from proceval.generate import generate
from proceval.scenarios.sources import SOURCES, Filling, SourceRequest
from proceval.templates import Template


def test_a_registered_source_fills_the_template(tmp_path: Path) -> None:
    reference = generate("tom", n=3, seed=5, out=tmp_path / "lexicon", progress=False)

    def replay(template: Template, request: SourceRequest) -> Filling:  # hands back another dataset's scenarios
        return Filling(list(reference.scenarios), {"kind": "replay", "n": request.n}, total=request.n)

    saved = SOURCES.snapshot()
    SOURCES.register("replay", replay)
    try:
        replayed = generate("tom", n=3, source="replay", out=tmp_path / "replay", progress=False)
    finally:
        SOURCES.restore(saved)
    assert replayed.manifest.source == {"kind": "replay", "n": 3}
    assert [s.id for s in replayed.scenarios] == [s.id for s in reference.scenarios]
    assert [i.id for i in replayed.items] == [i.id for i in reference.items]


def test_an_unknown_source_suggests_the_nearest(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="unknown scenario source 'lexicn'; did you mean 'lexicon'"):
        generate("tom", n=2, source="lexicn", out=tmp_path / "x", progress=False)
