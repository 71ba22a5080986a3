"""docs/sos.md: its commands, its Python example and its example stream are what the code does."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from proceval.cli.main import main
from proceval.tasks.countdown.search import run_strategy
from tests.conftest import REPO

TEXT = (REPO / "docs" / "sos.md").read_text(encoding="utf-8")


def test_commands_run_as_written(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    commands = re.findall(r"```bash\n(.*?)```", TEXT, flags=re.S)[0].splitlines()  # the training block: tests/train
    assert len(commands) == 2
    for command in commands:
        assert main(shlex.split(command)[1:]) == 0, command
    assert (tmp_path / "streams" / "cd3" / "train.jsonl").is_file()


def test_example_stream_is_what_the_solver_writes() -> None:
    block = re.findall(r"```text\n(.*?)```", TEXT, flags=re.S)[0]
    assert block.strip() == run_strategy("bfs2-mult", 24, [4, 9, 3]).stream


def test_python_example_prints_what_its_comment_says(capsys: pytest.CaptureFixture[str]) -> None:
    code = re.findall(r"```python\n(.*?)```", TEXT, flags=re.S)[0]
    exec(compile(code, "docs/sos.md", "exec"), {})
    expected = code.strip().splitlines()[-1].split("# ")[1]
    assert capsys.readouterr().out.strip() == expected
