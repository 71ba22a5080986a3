"""The examples in docs/humans.md run."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from proceval.errors import HumansError
from proceval.humans import load_study_config
from proceval.humans.config import check_admin_token

from .conftest import make_dataset

DOC = Path(__file__).resolve().parents[2] / "docs" / "humans.md"


def block(kind: str, marker: str | None = None) -> str:
    text = DOC.read_text(encoding="utf-8")
    for body in re.findall(rf"```{kind}\n(.*?)```", text, flags=re.S):
        if marker is None or body.startswith(f"# docs-example: {marker}\n"):
            return str(body)
    raise AssertionError(f"no {kind} block {marker or ''} in {DOC}")


def test_the_documented_study_config_loads(tmp_path: Path) -> None:
    path = tmp_path / "study.yaml"
    path.write_text(block("yaml", "study"), encoding="utf-8")
    config = load_study_config(path)
    assert config.items_per_participant == 12 and config.comprehension[0].answer == "read"
    assert config.completion_url("C1A2B3") == "https://app.prolific.com/submissions/complete?cc=C1A2B3"


def test_the_python_example_runs_a_pilot_participant_and_exports(tmp_path: Path,
                                                                  capsys: pytest.CaptureFixture[str]) -> None:
    make_dataset(tmp_path / "data" / "tom", n_scenarios=6)
    (tmp_path / "study.yaml").write_text(block("yaml", "study"), encoding="utf-8")
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(tmp_path)
        exec(compile(block("python"), str(DOC), "exec"), {})
    out = capsys.readouterr().out
    assert "completed: True" in out
    assert re.search(r"answers acknowledged: 13\b", out)  # 12 items + 1 attention check
    assert "12 answers from 1 participant; left out: 1 attention-check answers" in out
    assert (tmp_path / "pilot.csv").read_text().startswith("participant,item_id,response,rt_ms")


def test_the_documented_admin_token_command_makes_a_token_serve_accepts() -> None:
    [command] = re.findall(r'PROCEVAL_ADMIN_TOKEN="\$\(python -c "(.*?)"\)"', DOC.read_text(encoding="utf-8"))
    for _ in range(3):
        token = subprocess.run([sys.executable, "-c", command], capture_output=True, text=True, check=True).stdout
        check_admin_token(token.strip(), "$PROCEVAL_ADMIN_TOKEN")


def test_the_documented_typo_message_is_what_serve_says(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    documented = re.search(r"```\n(error: study\.yaml:2: .*?)```", DOC.read_text(encoding="utf-8"), flags=re.S)
    assert documented
    monkeypatch.chdir(tmp_path)
    Path("study.yaml").write_text("title: Stories\nitems_per_partcipant: 12\n", encoding="utf-8")
    with pytest.raises(HumansError) as info:
        load_study_config("study.yaml")
    assert f"error: {info.value}\n" == documented.group(1)


def test_the_documented_hosting_command_is_what_the_worker_crash_test_runs() -> None:
    """The `--workers` command in docs/humans.md parses, and its options are the ones
    test_crash.py::test_sigkill_of_one_worker_under_load_loses_nothing starts the server with."""
    import shlex

    from proceval.cli.main import build_parser

    [command] = [line for line in DOC.read_text(encoding="utf-8").splitlines()
                 if line.startswith("proceval serve") and "--workers 2" in line and "#" not in line]
    args = build_parser("serve").parse_args(shlex.split(command)[1:])
    assert (args.workers, args.study_config, args.db) == (2, "study.yaml", "postgresql://user@127.0.0.1/proceval")
    crash_test = (DOC.parents[1] / "tests" / "humans" / "test_crash.py").read_text(encoding="utf-8")
    assert all(f'"{option}"' in crash_test for option in ("--study-config", "--db", "--workers"))
