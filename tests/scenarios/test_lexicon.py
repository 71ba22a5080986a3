"""Offline filling from the lexicon: deterministic, distinct, grammatical, and honest about its size."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from proceval.errors import SourceError
from proceval.generate import generate


def test_same_seed_same_dataset_other_seed_other_scenarios(tmp_path: Path) -> None:
    a = generate("tom", n=12, seed=3, out=tmp_path / "a", progress=False)
    b = generate("tom", n=12, seed=3, out=tmp_path / "b", progress=False)
    c = generate("tom", n=12, seed=4, out=tmp_path / "c", progress=False)
    assert [i.to_dict() for i in a.items] == [i.to_dict() for i in b.items]
    assert {s.id for s in a.scenarios} != {s.id for s in c.scenarios}
    assert len(a) == 12 * 25 and set(a.manifest.counts_per_condition.values()) == {12}


def test_scenarios_are_distinct_and_read_as_sentences(tmp_path: Path) -> None:
    dataset = generate("tom", n=300, seed=0, out=tmp_path / "d", progress=False)
    scenarios = dataset.scenarios
    assert len({s.id for s in scenarios}) == 300
    assert len({tuple(sorted(s.variables.items())) for s in scenarios}) == 300
    sentence = re.compile(r"^[A-Z][^{}]*[.?]$")
    for scenario in scenarios:
        for name, value in scenario.variables.items():
            assert sentence.match(value), (name, value)
            assert "  " not in value and " ." not in value
    for item in dataset.items[:500]:
        assert "{{" not in item.text and item.text.count(". ") >= 2


def test_lexicon_too_small_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(SourceError) as info:
        generate("tom", n=20000, out=tmp_path / "big", progress=False)
    assert "only 11520 distinct scenarios" in info.value.message and "--n" in str(info.value)
    assert not (tmp_path / "big").exists()


def test_n_is_required_without_other_source(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="--n"):
        generate("tom", out=tmp_path / "x", progress=False)
