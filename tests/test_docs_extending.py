"""The examples in docs/extending.md run as written (no model needed: the solvers there are programs)."""

from __future__ import annotations

import re
import sys
import types
from pathlib import Path

import pytest

from proceval.solvers import SOLVERS
from proceval.solvers.scorers import SCORERS
from proceval.tasks import TASKS
from tests.conftest import REPO


def test_extending_examples_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    text = (REPO / "docs" / "extending.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```python\n(.*?)```", text, flags=re.S)
    assert len(blocks) == 6
    monkeypatch.chdir(tmp_path)
    from proceval.analysis import ANALYSES
    from proceval.models.base import PROVIDERS

    registries = (TASKS, SOLVERS, SCORERS, ANALYSES, PROVIDERS)
    saved = [registry.snapshot() for registry in registries]  # the examples register names: forget them after
    module = types.ModuleType("doc_example")  # dataclasses look their module up in sys.modules
    monkeypatch.setitem(sys.modules, "doc_example", module)
    try:
        for block in blocks:
            exec(compile(block, "docs/extending.md", "exec"), module.__dict__)
    finally:
        added = set(TASKS.names())
        for registry, before in zip(registries, saved, strict=True):
            registry.restore(before)
    assert {"count-letters"} <= added


def test_running_md_solver_commands_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import shlex

    from proceval.cli.main import main
    from proceval.run import load_run

    text = (REPO / "docs" / "running.md").read_text(encoding="utf-8")
    section = text.split("## Solvers (`--solver`)", 1)[1].split("\n## ", 1)[0]
    commands = [line.strip() for line in section.splitlines() if line.startswith("    proceval ")]
    assert len(commands) == 2
    monkeypatch.chdir(tmp_path)
    for command in commands:
        assert main(shlex.split(command)[1:] + (["--no-progress"] if " run " in command else [])) == 0
    run = load_run(tmp_path / "runs" / "long-calculator")
    assert len(run.responses) == 20 and all(r["correct"] for r in run.responses)
