"""`proceval run` on the command line: arguments reach the library, errors print without a traceback."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from proceval.cli.main import main
from proceval.run import load_run


def test_cli_runs_and_resumes(tiny_hf_path: Path, tiny_choice_dataset, tmp_path: Path,
                              capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "run"
    args = [str(tiny_choice_dataset.path), "--model", f"hf/{tiny_hf_path}", "--out", str(out), "--limit", "3",
            "--threads", "1", "--no-progress", "--seed", "5", "--system", "Be careful."]
    assert main(["run", *args]) == 0
    printed = capsys.readouterr().out
    assert "cache_hits" in printed and "accuracy" in printed
    run = load_run(out)
    assert len(run.responses) == 3 and run.info["seed"] == 5 and run.info["system"] == "Be careful."
    assert main(["run", *args, "--limit", "4"]) == 0  # a larger limit adds the missing item
    run = load_run(out)
    assert len(run.responses) == 4 and run.info["sessions"][-1]["resumed_from"] == 3


def test_cli_errors_are_one_clear_line(tiny_choice_dataset, tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    code = main(["run", str(tiny_choice_dataset.path), "--model", "frobnicate/x", "--out", str(tmp_path / "r")])
    err = capsys.readouterr().err
    assert code == 2 and "known providers" in err and "Traceback" not in err
    code = main(["run", str(tmp_path / "nowhere"), "--out", str(tmp_path / "r")])
    assert code == 2 and "no such dataset directory" in capsys.readouterr().err
    monkeypatch.setenv("OPENAI_API_KEY", "sk-cli-secret")
    code = main(["run", str(tiny_choice_dataset.path), "--model", "openai/m", "--base-url", "http://127.0.0.1:9/v1",
                 "--out", str(tmp_path / "r2"), "--no-progress", "--max-retries", "1"])
    err = capsys.readouterr().err
    assert code == 2 and "127.0.0.1:9" in err and "sk-cli-secret" not in err
    assert "sk-cli-secret" not in json.dumps([p.read_text() for p in (tmp_path).rglob("*.json")])
