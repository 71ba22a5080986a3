"""The examples in docs/qdc.md and docs/writer.md run and do what the text says."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.conftest import REPO


def docs_python(doc: str, name: str) -> str:
    text = (REPO / "docs" / doc).read_text(encoding="utf-8")
    for block in re.findall(r"```python\n(.*?)```", text, flags=re.S):
        if block.startswith(f"# docs-example: {name}\n"):
            return str(block)
    raise AssertionError(f"no python block '# docs-example: {name}' in docs/{doc}")


def run_example(doc: str, name: str, where: Path) -> dict[str, object]:
    mp = pytest.MonkeyPatch()
    mp.chdir(where)
    mp.setenv("PROCEVAL_CACHE_DIR", str(where / "cache"))
    try:
        namespace: dict[str, object] = {}
        exec(compile(docs_python(doc, name), f"docs/{doc}", "exec"), namespace)
        return namespace
    finally:
        mp.undo()


def test_qdc_example(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    namespace = run_example("qdc.md", "qdc", tmp_path)
    profiles = namespace["profiles"]
    assert isinstance(profiles, list) and [p["name"] for p in profiles] == ["tom-a", "tom-b"]
    assert (tmp_path / "reports" / "qdc" / "report.html").is_file()
    for p in profiles:
        assert p["headline"]["causal_steps_mean"] == pytest.approx(2.0)  # as docs/qdc.md says for tom
        assert p["headline"]["validity"] is not None
    assert len(capsys.readouterr().out.splitlines()) == 2


def test_writer_example(tmp_path: Path) -> None:
    pytest.importorskip("llama_cpp", reason="llama-cpp-python is not installed (pip install llama-cpp-python)")
    namespace = run_example("writer.md", "writer", tmp_path)
    result = namespace["result"]
    assert result.info["structured_output"] == "json_schema"  # type: ignore[attr-defined]
    assert len(result.scenarios) + result.info["gave_up"] == 2  # type: ignore[attr-defined]
    for values in result.scenarios:  # type: ignore[attr-defined]
        assert set(values) == {"person", "place"}
