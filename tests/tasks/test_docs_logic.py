"""The examples in docs/logic.md run as written, and its commands generate datasets."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from proceval.cli.main import main
from tests.conftest import REPO

TEXT = (REPO / "docs" / "logic.md").read_text(encoding="utf-8")


def test_python_examples_run() -> None:
    blocks = re.findall(r"```python\n(.*?)```", TEXT, flags=re.S)
    assert len(blocks) == 3
    namespace: dict[str, object] = {}  # the examples build on each other, as a reader's session would
    for block in blocks:
        exec(compile(block, "docs/logic.md", "exec"), namespace)


def test_generate_commands_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    commands = [line for line in TEXT.splitlines() if line.startswith("proceval generate ")]
    assert len(commands) == 2
    monkeypatch.chdir(tmp_path)
    for command in commands:
        assert main(shlex.split(command)[1:]) == 0
    assert (tmp_path / "data" / "pq").is_dir() and (tmp_path / "data" / "syllogisms").is_dir()
