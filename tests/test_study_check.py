"""`proceval study --check` finds what would stop the run later: option typos, unknown models, no server."""

from __future__ import annotations

from pathlib import Path

import pytest

from proceval.cli.main import main
from proceval.errors import ModelError
from proceval.models import load_model

STUDY = """\
name: t
dataset:
  template: tom
  n: 1
subjects:
  - model: local/smollm2-135m
    options:
      n_threads: 1
"""


@pytest.fixture(autouse=True)
def wide_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "200")  # rich wraps lines at the terminal's width


def check(tmp_path: Path, text: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    path = tmp_path / "study.yaml"
    path.write_text(text)
    code = main(["study", str(path), "--check", "--out", str(tmp_path / "out")])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_a_valid_study_is_ok_and_says_what_was_not_checked(tmp_path: Path,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    text = STUDY + "  - model: openai/llama\n    options: {base_url: 'http://127.0.0.1:9/v1'}\n"
    code, out, err = check(tmp_path, text, capsys)
    assert code == 0, err
    assert "backend option names" in out
    assert "whether http://127.0.0.1:9/v1 answers and serves 'llama' is known when the run starts" in out
    assert not (tmp_path / "out").exists()  # nothing ran


@pytest.mark.parametrize(("old", "new", "needle"), [
    ("n_threads: 1", "n_thread: 1", "study.yaml:8: subjects.0.options.n_thread: local/ models take no option "
                                    "'n_thread'\n  hint: did you mean 'n_threads'?"),
    ("local/smollm2-135m", "local/smollm3", "study.yaml:6: subjects.0.model: unknown embedded model 'smollm3'"),
    ("local/smollm2-135m", "lokal/smollm2-135m", "did you mean 'local'?"),
    ("local/smollm2-135m", "llama-cpp/missing.gguf", "no GGUF file 'missing.gguf'"),
])
def test_mistakes_are_found_without_running(tmp_path: Path, capsys: pytest.CaptureFixture[str], old: str,
                                            new: str, needle: str) -> None:
    code, _, err = check(tmp_path, STUDY.replace(old, new), capsys)
    assert code == 2 and "Traceback" not in err
    assert needle in err


def test_an_option_typo_is_named_when_loading_too() -> None:
    with pytest.raises(ModelError, match="take no option 'n_thread'") as info:
        load_model("local/smollm2-135m", n_thread=1)
    assert "did you mean 'n_threads'?" in str(info.value)
