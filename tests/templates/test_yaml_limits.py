"""Hostile or broken files end in one clear error, quickly: alias bombs, huge files, sandbox escapes."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from proceval.errors import HumansError, StudyError, TemplateError
from proceval.study import load_study
from proceval.templates import load_template, yamlio

# nine levels of nine aliases: 9**9 ≈ 387 million values from under 400 bytes ("billion laughs")
BOMB = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join(['*' + chr(97 + i)] * 9)}]\n" for i in range(8)
)


def cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "proceval", *args], capture_output=True, text=True, cwd=cwd,
                          timeout=120)


def test_an_alias_bomb_is_refused_at_once(tmp_path: Path) -> None:
    assert len(BOMB.encode()) < 800
    path = tmp_path / "bomb.yaml"
    path.write_text("name: bomb\n" + BOMB, encoding="utf-8")
    start = time.monotonic()
    result = cli("generate", str(path), "--n", "1", "--out", str(tmp_path / "out"))
    assert time.monotonic() - start < 20  # interpreter start-up included; the refusal itself is instant
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "aliases (*name) expand this document to" in result.stderr and str(path) in result.stderr


def test_every_yaml_reader_has_the_limit(tmp_path: Path) -> None:
    from proceval.humans.config import load_study_config
    from proceval.humans.data import load_mapping

    path = tmp_path / "bomb.yaml"
    path.write_text(BOMB, encoding="utf-8")
    for reader, error in ((load_study, StudyError), (load_study_config, HumansError), (load_mapping, HumansError)):
        start = time.monotonic()
        with pytest.raises(error, match="aliases"):
            reader(path)
        assert time.monotonic() - start < 2


def test_modest_aliases_still_work() -> None:
    data, _ = yamlio.load_yaml("base: &b {x: 1, y: [1, 2]}\nfirst: *b\nsecond: *b\n", "f.yaml")
    assert data == {"base": {"x": 1, "y": [1, 2]}, "first": {"x": 1, "y": [1, 2]}, "second": {"x": 1, "y": [1, 2]}}


def test_a_recursive_alias_is_an_error() -> None:
    with pytest.raises(TemplateError, match="refers to a value that contains it"):
        yamlio.load_yaml("a: &a [1, *a]\n", "f.yaml", TemplateError)


def test_a_file_over_the_size_limit_is_refused_before_reading(tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(yamlio, "MAX_YAML_BYTES", 1000)
    path = tmp_path / "big.yaml"
    path.write_text("name: big\n" + "# padding\n" * 200, encoding="utf-8")
    with pytest.raises(TemplateError, match=r"2,010 bytes, more than the 1,000"):
        load_template(path)


def test_a_sandbox_escape_is_one_line_naming_the_field(tmp_path: Path) -> None:
    path = tmp_path / "inject.yaml"
    path.write_text(
        "name: inject\n"
        "variables: {who: {description: a name, fill: '{{ w }}'}}\n"
        "story:\n"
        "  - {name: setup, text: \"{{ who }} says {{ ''.__class__.__mro__[1].__subclasses__() }}\"}\n"
        "questions:\n"
        "  - {name: q, text: \"Why?\", response: {type: free_text}}\n"
        "lexicon: {w: [Ana, Ben]}\n",
        encoding="utf-8",
    )
    result = cli("generate", str(path), "--n", "1", "--out", str(tmp_path / "out"))
    assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr
    assert "story.setup" in result.stderr and "sandbox forbids" in result.stderr
    assert not (tmp_path / "out").exists()
