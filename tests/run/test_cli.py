"""`proceval run` on the command line: arguments reach the library, errors print without a traceback."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from proceval.cli.main import main
from proceval.run import load_run
from proceval.solvers.personas import load_personas
from tests.run.test_persona_order import human_table


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


def test_cli_personas_file(tiny_hf_path: Path, tiny_choice_dataset, tmp_path: Path) -> None:
    table = tmp_path / "people.csv"
    table.write_text("id,age,country\nr1,34,Kenya\nr2,71,Peru\n")
    out = tmp_path / "run"
    assert main(["run", str(tiny_choice_dataset.path), "--model", f"hf/{tiny_hf_path}", "--out", str(out),
                 "--limit", "2", "--threads", "1", "--no-progress", "--personas", str(table)]) == 0
    run = load_run(out)
    assert sorted(run.subjects()) == [f"hf/{tiny_hf_path}#persona=r1", f"hf/{tiny_hf_path}#persona=r2"]
    systems = {s["id"]: s["system"] for s in run.info["subjects"]}
    assert "Kenya" in systems[f"hf/{tiny_hf_path}#persona=r1"] and "Peru" in systems[f"hf/{tiny_hf_path}#persona=r2"]


def test_ctrl_c_stops_cleanly_and_the_same_command_resumes(tiny_hf_path: Path, tmp_path: Path) -> None:
    import os
    import signal
    import subprocess
    import sys
    import time

    from tests.conftest import choice_item, write_dataset

    items = [choice_item(s, {"belief": lv}) for s in range(60) for lv in ("true", "false")]
    ds = write_dataset(tmp_path / "ds", items)
    out = tmp_path / "run"
    command = [sys.executable, "-m", "proceval", "run", str(ds.path), "--model", f"hf/{tiny_hf_path}",
               "--out", str(out), "--threads", "1", "--no-progress"]
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    responses = out / "responses.jsonl"
    while not responses.is_file() or responses.read_text().count("\n") < 5:
        assert proc.poll() is None and time.monotonic() < deadline
        time.sleep(0.02)
    os.kill(proc.pid, signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err.decode()
    assert "run the same command again to resume" in err.decode() and "Traceback" not in err.decode()
    stopped = load_run(out)
    assert stopped.info["status"] == "interrupted" and 5 <= len(stopped.responses) < len(items)
    assert main(command[3:]) == 0
    assert load_run(out).complete and len(load_run(out).responses) == len(items)


def test_cli_persona_options(tiny_hf_path: Path, tiny_choice_dataset, tmp_path: Path,
                             capsys: pytest.CaptureFixture[str]) -> None:
    ids = [item.id for item in tiny_choice_dataset.items]
    table = human_table(tmp_path / "humans.csv", {"h1": [ids[2], ids[0]], "h2": [ids[1]], "h3": [ids[0]]})
    out = tmp_path / "run"
    base = ["run", str(tiny_choice_dataset.path), "--model", f"hf/{tiny_hf_path}", "--threads", "1",
            "--no-progress", "--limit", "3"]
    assert main([*base, "--out", str(out), "--personas", str(table), "--persona-order", "human",
                 "--persona-memory", "1", "--n-personas", "2", "--persona-seed", "5",
                 "--persona-template", "You are {{ age }} years old."]) == 0
    run = load_run(out)
    assert run.info["persona_order"] == "human" and run.info["persona_memory"] == 1
    expected = [p.id for p in load_personas(table, n=2, seed=5)]
    assert sorted({r["persona"] for r in run.responses}) == expected
    assert {s["system"] for s in run.info["subjects"]} <= {"You are 30 years old.", "You are 31 years old.",
                                                           "You are 32 years old."}
    for option in (["--persona-order", "shuffled"], ["--persona-memory", "1"], ["--n-personas", "2"],
                   ["--persona-seed", "1"], ["--persona-template", "x.j2"]):
        code = main([*base, "--out", str(tmp_path / "bad"), *option])
        err = capsys.readouterr().err
        assert code == 2 and option[0] in err and "--personas" in err and "Traceback" not in err
