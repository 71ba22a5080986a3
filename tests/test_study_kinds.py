"""`proceval study FILE` runs a study file of another kind (a simulation, a training experiment) with that kind's
module, chosen by the file's top-level section; evaluation studies are unaffected."""

from __future__ import annotations

from pathlib import Path

import pytest

from proceval.cli.main import main
from proceval.study import StageOutcome, StudyResult
from proceval.study_kinds import STUDY_KINDS, study_kind


def test_a_section_selects_its_kind(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                    capsys: pytest.CaptureFixture[str]) -> None:
    calls: list[tuple[Path, Path, bool]] = []

    def run_echo(path: Path, *, out: Path, force: bool, log) -> StudyResult:  # type: ignore[no-untyped-def]
        calls.append((path, out, force))
        log("echo ran")
        return StudyResult(out=out, dataset=None, runs=[], report=None,
                           stages=[StageOutcome("echo", "ran", out / "echo.txt")])

    monkeypatch.setitem(STUDY_KINDS._entries, "echo", run_echo)
    file = tmp_path / "exp" / "study.yaml"
    file.parent.mkdir()
    file.write_text("name: e\necho:\n  n: 1\n", encoding="utf-8")
    assert study_kind({"name": "e", "echo": {}}) == "echo"
    assert study_kind({"name": "e", "dataset": {}, "subjects": []}) is None
    assert main(["study", str(file), "--out", str(tmp_path / "o"), "--force"]) == 0
    assert calls == [(file, tmp_path / "o", True)]
    printed = capsys.readouterr().out
    assert "echo ran" in printed and "echo" in printed and "ran" in printed
