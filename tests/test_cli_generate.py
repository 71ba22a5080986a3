"""The user's first commands: templates, generate, show — through the real entry point."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from proceval.cli.main import main
from tests.conftest import DATA

BIGTOM = DATA / "bigtom" / "bigtom.csv"


def proceval(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "proceval", *args], capture_output=True, text=True, cwd=cwd,
                          env={"COLUMNS": "160", "PATH": "/usr/bin:/bin", "HOME": str(Path.home())}, timeout=600)


def test_templates_lists_tom_with_its_conditions() -> None:
    result = proceval("templates")
    assert result.returncode == 0, result.stderr
    assert "tom" in result.stdout and "25" in result.stdout and "init_belief" in result.stdout


def test_generate_then_show(tmp_path: Path) -> None:
    result = proceval("generate", "tom", "--n", "5", "--seed", "0", "--out", str(tmp_path / "tom"))
    assert result.returncode == 0, result.stderr
    assert "125 items from 5 scenarios in 25 conditions" in result.stdout
    shown = proceval("show", str(tmp_path / "tom"), "--n", "3")
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.count("✓") == 3  # one item per condition, the correct option marked
    assert "hidden_forward_belief_true_belief" in shown.stdout


def test_import_bigtom_from_the_cli(tmp_path: Path) -> None:
    result = proceval("generate", "tom", "--from", str(BIGTOM), "--out", str(tmp_path / "bigtom"))
    assert result.returncode == 0, result.stderr
    assert "5000 items from 200 scenarios in 25 conditions" in result.stdout


def test_user_template_file_and_graph(tmp_path: Path) -> None:
    from tests.test_docs_examples import docs_yaml_example

    path = tmp_path / "keys.yaml"
    path.write_text(docs_yaml_example("keys"), encoding="utf-8")
    result = proceval("generate", str(path), "--n", "8", "--out", str(tmp_path / "keys"))
    assert result.returncode == 0, result.stderr
    assert "24 items from 8 scenarios in 3 conditions" in result.stdout
    graph = proceval("show", str(path), "--graph")
    assert graph.returncode == 0 and "keys_location → knows_location" in graph.stdout


def test_errors_are_one_clear_line_without_traceback(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\nvariables:\n  a: {descripton: typo}\n", encoding="utf-8")
    result = proceval("generate", str(bad), "--n", "1", "--out", str(tmp_path / "o"))
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert f"{bad}:3: variables.a.descripton: unknown key 'descripton'" in result.stderr
    assert "did you mean 'description'" in result.stderr
    missing = proceval("show", str(tmp_path / "nothing"))
    assert missing.returncode == 2 and "no such dataset directory" in missing.stderr


def test_every_listed_command_has_working_help() -> None:
    from proceval.cli.main import COMMANDS

    listing = proceval("--help")
    assert listing.returncode == 0
    for name in COMMANDS:
        assert name in listing.stdout
        result = proceval(name, "--help")
        assert result.returncode == 0, f"proceval {name} --help failed: {result.stderr[-1000:]}"
        assert result.stdout.startswith(f"usage: proceval {name}")


def test_generate_strict_stops_at_the_first_bad_row(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`--strict` turns the first unusable row into an error naming file and line; without it the row is
    skipped and counted."""
    lines = BIGTOM.read_text(encoding="utf-8").splitlines()[:3]
    lines[2] = lines[2].rsplit(";", 1)[0]  # one field short
    source = tmp_path / "rows.csv"
    source.write_text("\n".join(lines) + "\n", encoding="utf-8")
    assert main(["generate", "tom", "--from", str(source), "--strict", "--out", str(tmp_path / "strict")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[0].startswith(f"error: {source}:3: ") and "expected 19 fields, found 18" in err[0]
    assert "Traceback" not in "\n".join(err) and not (tmp_path / "strict").exists()

    assert main(["generate", "tom", "--from", str(source), "--out", str(tmp_path / "lenient")]) == 0
    manifest = json.loads((tmp_path / "lenient" / "manifest.json").read_text())
    assert manifest["n_scenarios"] == 2 and manifest["n_items"] == 50  # rows 1 and 2 (the file has no header)
    assert [(s["line"], s["reason"]) for s in manifest["skipped"]] == [(3, "expected 19 fields, found 18")]
    out = "".join(capsys.readouterr().out.split())
    assert "skipped1row(s)" in out and f"{source}:3:expected19fields,found18" in out
