"""A new user's mistakes with generate and show: one clear line, nothing destroyed, nothing shown wrong."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"


def proceval(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "160", "PYTHONPATH": str(SRC)}
    return subprocess.run([sys.executable, "-m", "proceval", *args], capture_output=True, text=True, cwd=cwd,
                          env=env, timeout=300)


def test_generate_into_the_current_folder_is_refused(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("mine")
    result = proceval("generate", "tom", "--n", "1", "--out", ".", "--force", cwd=tmp_path)
    assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr
    assert "current folder" in result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]


def test_force_replaces_a_dataset_but_never_a_folder_with_other_files(tmp_path: Path) -> None:
    out = tmp_path / "data"
    assert proceval("generate", "tom", "--n", "1", "--out", str(out)).returncode == 0
    again = proceval("generate", "tom", "--n", "2", "--out", str(out), "--force")
    assert again.returncode == 0, again.stderr
    assert "50 items from 2 scenarios" in again.stdout
    (out / "analysis.ipynb").write_text("{}")
    refused = proceval("generate", "tom", "--n", "1", "--out", str(out), "--force")
    assert refused.returncode == 2 and "Traceback" not in refused.stderr
    assert "analysis.ipynb" in refused.stderr and (out / "analysis.ipynb").read_text() == "{}"
    assert (out / "manifest.json").is_file()  # the dataset is untouched too
    empty = tmp_path / "empty"
    empty.mkdir()
    assert proceval("generate", "tom", "--n", "1", "--out", str(empty), "--force").returncode == 0
    assert (empty / "items.jsonl").is_file()


def test_show_an_unknown_condition_names_the_known_ones(tmp_path: Path) -> None:
    out = tmp_path / "tom"
    assert proceval("generate", "tom", "--n", "1", "--out", str(out)).returncode == 0
    result = proceval("show", str(out), "--condition", "hidden_forward_belief_true_belef")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "no condition 'hidden_forward_belief_true_belef'" in result.stderr
    assert "did you mean 'hidden_forward_belief_true_belief'?" in result.stderr
    assert "percept_to_belief" in result.stderr  # the known conditions are listed


def test_show_counts_the_items_on_disk_and_flags_a_cut_short_file(tmp_path: Path) -> None:
    out = tmp_path / "tom"
    assert proceval("generate", "tom", "--n", "4", "--out", str(out)).returncode == 0
    lines = (out / "items.jsonl").read_text(encoding="utf-8").splitlines(keepends=True)
    assert len(lines) == 100
    (out / "items.jsonl").write_text("".join(lines[:30]), encoding="utf-8")  # cut at a line boundary
    result = proceval("show", str(out), "--n", "2")
    assert result.returncode == 1
    assert "30 items in" in result.stdout and "100 items" not in result.stdout
    assert "holds 30 items but manifest.json says 100" in result.stderr
