"""docs/sos.md's training commands run as written, after the commands that make the data."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

import pytest
from tests.conftest import REPO

from proceval.cli.main import main

TEXT = (REPO / "docs" / "sos.md").read_text(encoding="utf-8")


def test_training_commands_run_as_written(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    data, training = re.findall(r"```bash\n(.*?)```", TEXT, flags=re.S)[:2]
    assert "train sft" in training
    for command in [*data.splitlines(), *training.splitlines()]:
        assert main(shlex.split(command)[1:]) == 0, command
    run = json.loads((tmp_path / "runs" / "sos" / "run.json").read_text())
    assert run["split"] == "val_target" and run["counts"]["responses"] == 2
    summary = json.loads((tmp_path / "reports" / "sos" / "summary.json").read_text())
    assert summary["analyses"]["search"]["status"] == "ok"
