"""The examples in docs/analysis.md run and print what the text says."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from proceval.analysis import ANALYSES

DOC = Path(__file__).resolve().parents[2] / "docs" / "analysis.md"
BLOCKS = re.findall(r"```python\n(.*?)```", DOC.read_text(), flags=re.S)


@pytest.mark.parametrize("code", BLOCKS, ids=[f"block{i}" for i in range(len(BLOCKS))])
def test_doc_example_runs(code: str, capsys: pytest.CaptureFixture[str]) -> None:
    before = set(ANALYSES)
    try:
        exec(compile(code, str(DOC), "exec"), {})
    finally:
        for name in set(ANALYSES) - before:  # an example that registers an analysis must not leak into others
            del ANALYSES[name]
    if "loo_agreement" in code:
        assert "0.666" in capsys.readouterr().out


def test_examples_found() -> None:
    assert len(BLOCKS) >= 3
