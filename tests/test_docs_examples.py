"""Examples in docs/ run: the documented template loads and generates what the text says."""

from __future__ import annotations

import re
from pathlib import Path

from proceval.generate import generate
from proceval.templates import load_template_text
from tests.conftest import REPO


def docs_yaml_example(name: str, doc: str = "templates.md") -> str:
    text = (REPO / "docs" / doc).read_text(encoding="utf-8")
    for block in re.findall(r"```yaml\n(.*?)```", text, flags=re.S):
        if block.startswith(f"# docs-example: {name}\n"):
            return str(block)
    raise AssertionError(f"no yaml block '# docs-example: {name}' in docs/{doc}")


def test_keys_example_generates_24_items(tmp_path: Path) -> None:
    template = load_template_text(docs_yaml_example("keys"), display="docs/templates.md")
    assert [c.name for c in template.conditions] == ["moved_seen", "moved_unseen", "stayed_unseen"]
    dataset = generate(template, n=8, out=tmp_path / "keys", progress=False)
    assert len(dataset) == 24
    answers = {(i.condition_name, i.answer) for i in dataset.items}
    assert answers == {("moved_seen", "new"), ("moved_unseen", "old"), ("stayed_unseen", "old")}


def test_python_api_example_in_docs(tmp_path: Path, monkeypatch: object) -> None:
    import pytest

    text = (REPO / "docs" / "templates.md").read_text(encoding="utf-8")
    code = re.findall(r"```python\n(.*?)```", text, flags=re.S)[0]
    mp = pytest.MonkeyPatch()
    mp.chdir(tmp_path)
    try:
        namespace: dict[str, object] = {}
        exec(compile(code, "docs/templates.md", "exec"), namespace)
    finally:
        mp.undo()
    assert len(namespace["frame"]) == 1000  # type: ignore[arg-type]
    assert Path(tmp_path / "data" / "tom" / "manifest.json").is_file()
