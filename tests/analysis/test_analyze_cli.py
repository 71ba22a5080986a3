"""`proceval analyze` and `proceval runs` as a user meets them: empty and partial runs, re-running into a report
folder, --list, bad settings, --open."""

from __future__ import annotations

import html
import json
import os
import stat
import webbrowser
from pathlib import Path

import pytest

from proceval.analysis.data import list_runs
from proceval.cli.main import main
from proceval.dataset import Dataset
from tests.analysis.runfiles import accuracy_answerer, write_run
from tests.conftest import choice_item, write_dataset


@pytest.fixture
def ds(tmp_path: Path) -> Dataset:
    items = [choice_item(s, {"belief": b}, answer="a" if b == "true_belief" else "b")
             for s in range(10) for b in ("true_belief", "false_belief")]
    return write_dataset(tmp_path / "ds", items, factors={"belief": ["true_belief", "false_belief"]})


def empty_run(ds: Dataset, out: Path, *, with_file: bool = True, subject: str = "local/empty") -> Path:
    """A run killed before its first answer (or made with --limit 0): run.json, no answers."""
    write_run(ds, out, accuracy_answerer(1.0), subject=subject)
    responses = out / "responses.jsonl"
    if with_file:
        responses.write_text("")
    else:
        responses.unlink()
    info = json.loads((out / "run.json").read_text())
    info.update(status="interrupted", limit=0, counts={"items": 0, "responses": 0})
    (out / "run.json").write_text(json.dumps(info))
    return out


def cut_run(out: Path, keep: int) -> Path:
    """Keep the first ``keep`` answers of a run, as a run interrupted after them leaves it."""
    responses = out / "responses.jsonl"
    responses.write_text("".join(responses.read_text().splitlines(keepends=True)[:keep]))
    info = json.loads((out / "run.json").read_text())
    info["status"] = "interrupted"
    (out / "run.json").write_text(json.dumps(info))
    return out


def analyze(*args: str) -> int:
    return main(["analyze", *args, "--n-boot", "50"])


@pytest.mark.parametrize("with_file", [True, False], ids=["empty-responses", "no-responses-file"])
def test_an_empty_run_alone_is_analysed_with_zero_answers(ds: Dataset, tmp_path: Path, with_file: bool,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    run = empty_run(ds, tmp_path / "empty", with_file=with_file)
    assert analyze(str(run), "--out", str(tmp_path / "r")) == 0
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err
    assert "run empty answered 0 of the dataset's 20 items (limit 0, status interrupted)" in captured.err
    summary = json.loads((tmp_path / "r" / "summary.json").read_text())
    assert summary["analyses"]["validity"]["numbers"]["local/empty"]["answers"] == 0
    assert summary["analyses"]["accuracy"]["status"] == "skipped"
    assert "no answers to analyse" in summary["analyses"]["accuracy"]["reason"]
    assert summary["subjects"][0]["items_answered"] == 0


def test_an_empty_run_beside_another_is_shown_not_dropped(ds: Dataset, tmp_path: Path,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    full = write_run(ds, tmp_path / "full", accuracy_answerer(1.0), subject="local/full")
    empty = empty_run(ds, tmp_path / "empty")
    assert analyze(str(full), str(empty), "--out", str(tmp_path / "r")) == 0
    summary = json.loads((tmp_path / "r" / "summary.json").read_text())
    overall = summary["analyses"]["accuracy"]["numbers"]["overall"]
    assert overall["local/full"]["accuracy"] == 1.0 and overall["local/full"]["n"] == 20
    assert overall["local/empty"]["n"] == 0 and overall["local/empty"]["accuracy"] is None
    assert [s["subject"] for s in summary["subjects"]] == ["local/full", "local/empty"]
    validity = summary["analyses"]["validity"]["numbers"]
    assert validity["local/empty"]["answers"] == 0 and validity["local/full"]["answers"] == 20
    assert "0 of 20 items (incomplete)" in (tmp_path / "r" / "report.html").read_text()
    assert "local/empty" in capsys.readouterr().out  # the terminal's accuracy table lists it too


def test_a_partial_run_is_warned_about_in_the_terminal_and_the_report(ds: Dataset, tmp_path: Path,
                                                                      capsys: pytest.CaptureFixture[str]) -> None:
    run = cut_run(write_run(ds, tmp_path / "part", accuracy_answerer(1.0)), keep=5)
    assert analyze(str(run), "--out", str(tmp_path / "r")) == 0
    warning = "run part answered 5 of the dataset's 20 items (status interrupted): its numbers cover only those items"
    assert f"warning: {warning}" in capsys.readouterr().err
    summary = json.loads((tmp_path / "r" / "summary.json").read_text())
    assert summary["warnings"] == [warning]
    assert summary["subjects"][0]["complete"] is False
    assert warning in html.unescape((tmp_path / "r" / "report.html").read_text())


def test_a_complete_run_gets_no_warning(ds: Dataset, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run = write_run(ds, tmp_path / "run", accuracy_answerer(1.0))
    assert analyze(str(run), "--out", str(tmp_path / "r")) == 0
    assert "warning" not in capsys.readouterr().err
    assert json.loads((tmp_path / "r" / "summary.json").read_text())["warnings"] == []


def test_reanalysing_into_a_report_folder_leaves_nothing_stale(ds: Dataset, tmp_path: Path) -> None:
    run = write_run(ds, tmp_path / "run", accuracy_answerer(0.5))
    out = tmp_path / "r"
    assert analyze(str(run), "--out", str(out), "--analyses", "accuracy,position_bias") == 0
    assert (out / "tables" / "position_bias__position_bias.csv").is_file()
    assert analyze(str(run), "--out", str(out), "--analyses", "accuracy") == 0
    tables = sorted(p.name for p in (out / "tables").iterdir())
    assert tables and all(name.startswith("accuracy__") for name in tables), tables
    assert not (out / "figures" / "position_bias.png").exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no temporary folder left
    assert stat.S_IMODE(out.stat().st_mode) & 0o055 == 0o055  # readable by others, like any folder


def test_a_folder_that_is_not_a_report_is_never_replaced(ds: Dataset, tmp_path: Path,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    run = write_run(ds, tmp_path / "run", accuracy_answerer(0.5))
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "thesis.tex").write_text("precious")
    assert analyze(str(run), "--out", str(mine)) == 2
    assert "not a proceval report" in capsys.readouterr().err
    assert (mine / "thesis.tex").read_text() == "precious"


def test_list_needs_no_out(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["analyze", "--list"]) == 0
    out = capsys.readouterr().out
    for name in ("accuracy", "effects", "belief_accuracy", "rating_grid"):
        assert f"{name}:" in out


def test_missing_out_is_one_line(ds: Dataset, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run = write_run(ds, tmp_path / "run", accuracy_answerer(0.5))
    assert main(["analyze", str(run)]) == 2
    assert "--out is required" in capsys.readouterr().err


@pytest.mark.parametrize(("option", "value", "expected"), [
    ("--level", "95", "--level: must be a fraction between 0 and 1 (exclusive), e.g. 0.95, not 95"),
    ("--level", "0", "--level: must be a fraction between 0 and 1"),
    ("--n-boot", "0", "--n-boot: must be a whole number of at least 10 (default 2000), not 0"),
])
def test_bad_settings_are_one_line_errors(ds: Dataset, tmp_path: Path, option: str, value: str, expected: str,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    run = write_run(ds, tmp_path / "run", accuracy_answerer(0.5))
    assert main(["analyze", str(run), "--out", str(tmp_path / "r"), option, value]) == 2
    err = capsys.readouterr().err
    assert err.strip() == f"error: {expected}" or err.startswith(f"error: {expected}")
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "r").exists()


def fake_browser(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A browser command (via $BROWSER, as a user sets it) that writes the URL it was given to a file."""
    opened = tmp_path / "opened.txt"
    browser = tmp_path / "browser.sh"
    browser.write_text(f'#!/bin/sh\necho "$1" > {opened}\n')
    browser.chmod(0o755)
    monkeypatch.setenv("BROWSER", f"{browser} %s")
    monkeypatch.setattr(webbrowser, "_tryorder", None)  # read BROWSER afresh
    monkeypatch.setattr(webbrowser, "_browsers", {})
    return opened


def test_open_starts_the_browser_on_the_report(ds: Dataset, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    opened = fake_browser(tmp_path, monkeypatch)
    run = write_run(ds, tmp_path / "run", accuracy_answerer(0.5))
    assert analyze(str(run), "--out", str(tmp_path / "r"), "--open") == 0
    assert opened.read_text().strip() == (tmp_path / "r" / "report.html").resolve().as_uri()


def test_view_opens_a_report_and_names_a_missing_one(ds: Dataset, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    opened = fake_browser(tmp_path, monkeypatch)
    run = write_run(ds, tmp_path / "run", accuracy_answerer(0.5))
    assert analyze(str(run), "--out", str(tmp_path / "r")) == 0
    assert main(["view", str(tmp_path / "r")]) == 0
    assert opened.read_text().strip() == (tmp_path / "r" / "report.html").resolve().as_uri()
    assert main(["view", str(tmp_path / "run")]) == 2
    assert "no report here" in capsys.readouterr().err


def test_runs_lists_run_folders_with_status_and_counts(ds: Dataset, tmp_path: Path,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    root = tmp_path / "runs"
    write_run(ds, root / "full", accuracy_answerer(1.0), subject="local/full")
    cut_run(write_run(ds, root / "nested" / "part", accuracy_answerer(1.0), subject="local/part"), keep=3)
    empty_run(ds, root / "empty", with_file=False)
    (root / "notes").mkdir()
    (root / "notes" / "readme.txt").write_text("not a run")
    runs = {Path(r["path"]).name: r for r in list_runs(root)}
    assert set(runs) == {"full", "part", "empty"}
    assert runs["part"]["status"] == "interrupted" and runs["part"]["subject"] == "local/part"
    assert runs["empty"]["responses"] == 0
    assert main(["runs", str(root)]) == 0
    out = capsys.readouterr().out
    lines = {line.split("│")[1].strip(): line for line in out.splitlines() if line.count("│") > 3}
    assert {"full", "nested/part", "empty"} <= set(lines)
    assert "interrupted" in lines["nested/part"] and "3/20" in lines["nested/part"]
    assert "complete" not in lines["empty"] and "0" in lines["empty"]
    assert "notes" not in out


def test_runs_in_a_folder_without_runs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["runs", str(tmp_path)]) == 0
    assert "no run directories" in capsys.readouterr().out
    assert main(["runs", str(tmp_path / "nope")]) == 2
    assert os.fspath(tmp_path / "nope") in capsys.readouterr().err
