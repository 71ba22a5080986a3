"""Run settings a user gets wrong: a lowered --limit, changed settings, too few few-shot examples, and
analysing a run from another folder."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from proceval.analysis.data import load_responses
from proceval.cli.main import main
from proceval.errors import RunError
from proceval.run import load_run, run_dataset


def _args(dataset: Path, model: Path, out: Path, *more: str) -> list[str]:
    return ["run", str(dataset), "--model", f"hf/{model}", "--out", str(out), "--threads", "1", "--no-progress",
            *more]


def test_a_lowered_limit_counts_only_its_items(tiny_hf_path: Path, tiny_choice_dataset, tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "run"
    assert main(_args(tiny_choice_dataset.path, tiny_hf_path, out, "--limit", "10")) == 0
    capsys.readouterr()
    assert main(_args(tiny_choice_dataset.path, tiny_hf_path, out, "--limit", "3")) == 0
    printed = capsys.readouterr().out
    counts = load_run(out).info["counts"]
    assert counts["items"] == 3 and counts["ok"] + counts["invalid"] == 3 and counts["beyond_limit"] == 7
    assert "kept beyond --limit" in printed and " 3 answered items" in printed
    assert len(load_run(out).responses) == 10  # the earlier answers are kept, never dropped


def test_other_settings_name_what_differs(tiny_hf_path: Path, tiny_choice_dataset, tmp_path: Path) -> None:
    out = tmp_path / "run"
    model = f"hf/{tiny_hf_path}"
    run_dataset(tiny_choice_dataset, model, out, limit=2, progress=False, n_threads=1)
    with pytest.raises(RunError) as info:
        run_dataset(tiny_choice_dataset, model, out, limit=2, progress=False, n_threads=1, temperature=0.5, seed=7)
    message = str(info.value)
    assert "seed: 0 → 7" in message and "temperature: 0.0 → 0.5" in message


def test_few_shot_on_a_small_dataset_warns_and_records(tiny_hf_path: Path, tiny_choice_dataset,
                                                       tmp_path: Path) -> None:
    # 6 scenarios: each item has 5 worked examples from other scenarios of its condition, fewer than 8
    with pytest.warns(UserWarning, match=r"few-shot: 4 of 4 items get fewer than 8 worked examples \(as few as 5\)"):
        run = run_dataset(tiny_choice_dataset, f"hf/{tiny_hf_path}", tmp_path / "run", strategy="few-shot",
                          k_shots=8, limit=4, progress=False, n_threads=1)
    assert run.info["few_shot_shortfall"] == {"k_shots": 8, "items_short": 4, "items": 4, "fewest": 5}
    assert {r["n_shots"] for r in run.responses} == {5}


def test_a_run_is_analysed_from_any_folder(tiny_hf_path: Path, tiny_choice_dataset, tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    work = tmp_path / "work"
    shutil.copytree(tiny_choice_dataset.path, work / "data" / "tiny")
    monkeypatch.chdir(work)
    assert main(_args(Path("data/tiny"), tiny_hf_path, Path("runs/r"), "--limit", "2")) == 0
    recorded = json.loads((work / "runs" / "r" / "run.json").read_text())["dataset"]["path"]
    assert (work / "runs" / "r" / recorded).resolve() == (work / "data" / "tiny").resolve()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    data = load_responses([work / "runs" / "r"])
    assert len(data.frame) == 2
