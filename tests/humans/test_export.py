"""Export: the long table `proceval analyze --humans` reads, with nothing left out silently."""

from __future__ import annotations

import argparse
import csv
import json
from pathlib import Path

import pytest

from proceval.dataset import Dataset
from proceval.errors import HumansError
from proceval.humans import COLUMNS, StudyConfig, create_app, export_responses
from proceval.humans.simulate import SimulatedParticipant

from .conftest import client_for, participant

PID = "PROLIFIC_PID={}&STUDY_ID=s1&SESSION_ID=x{}"


def populate(dataset: Dataset, config: StudyConfig, db_url: str) -> dict[str, SimulatedParticipant]:
    """Two completed participants, one stopped after two trials, one pilot."""
    app = create_app(dataset, config, db_url)
    people = {}
    for name in ("p1", "p2"):
        people[name] = participant(client_for(app))
        people[name].run(PID.format(name, name))
    quitter = participant(client_for(app))
    page = quitter.open(PID.format("p3", "p3"))
    for _ in range(5):
        page = quitter.step(page)
    people["p3"] = quitter
    pilot = participant(client_for(create_app(dataset, config, db_url, pilot=True)))
    pilot.run()
    people["pilot"] = pilot
    return people


def test_export_writes_the_documented_long_table(dataset: Dataset, config: StudyConfig, db_url: str,
                                                 tmp_path: Path) -> None:
    people = populate(dataset, config, db_url)
    out = tmp_path / "humans.csv"
    summary = export_responses(db_url, out)
    with out.open(newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0])[:4] == ["participant", "item_id", "response", "rt_ms"]
    assert list(rows[0]) == COLUMNS
    per_list = len(dataset.items) // 2
    assert len(rows) == summary.rows == 2 * per_list and summary.participants == 2
    assert {r["participant"] for r in rows} == {"p1", "p2"}
    items = dataset.item_map()
    for r in rows:
        item = items[r["item_id"]]
        assert r["condition"] == item.condition_name and r["scenario_id"] == item.scenario_id
        assert int(r["rt_ms"]) >= 0 and r["completed"] == "True" and r["pilot"] == "False"
        assert r["attention_passed"] == "True"
        if item.response_type == "choice":
            assert sorted(r["option_order"].split()) == ["a", "b"]
    # what each participant was acknowledged is exactly what was exported
    for name in ("p1", "p2"):
        acked = {(a.item_id, a.response) for a in people[name].acknowledged if a.item_id in items}
        assert acked == {(r["item_id"], r["response"]) for r in rows if r["participant"] == name}
    # every row left out is counted, by reason
    assert summary.excluded == {"attention-check answers": 2, "answers from unfinished sessions": 2,
                                "pilot answers": per_list + 1}
    assert "left out" in summary.describe()


def test_export_options_and_jsonl(dataset: Dataset, config: StudyConfig, sqlite_url: str, tmp_path: Path) -> None:
    populate(dataset, config, sqlite_url)
    summary = export_responses(sqlite_url, tmp_path / "all.jsonl", include_pilot=True, include_incomplete=True,
                               include_checks=True)
    rows = [json.loads(line) for line in (tmp_path / "all.jsonl").read_text().splitlines()]
    assert len(rows) == summary.rows and summary.excluded == {}
    assert {r["participant"] for r in rows} >= {"p1", "p2", "p3"}
    assert any(r["pilot"] for r in rows) and any(not r["completed"] for r in rows)
    assert {r["item_id"] for r in rows if r["item_id"] == "attn-blue"} == {"attn-blue"}
    assert all(isinstance(r["rt_ms"], int) for r in rows)
    with pytest.raises(HumansError, match="export format"):
        export_responses(sqlite_url, tmp_path / "humans.xlsx")
    assert not (tmp_path / "humans.xlsx").exists()


def test_the_analysis_reads_the_export(dataset: Dataset, config: StudyConfig, sqlite_url: str,
                                       tmp_path: Path) -> None:
    data = pytest.importorskip("proceval.analysis.data", reason="the analysis package is not in this checkout")
    populate(dataset, config, sqlite_url)
    export_responses(sqlite_url, tmp_path / "humans.csv")
    table = data.read_humans(tmp_path / "humans.csv")
    assert len(table) == len(dataset.items) and set(table["item_id"]) <= set(dataset.item_map())


def cli(argv: list[str]) -> int:
    """Run the `humans` and `serve` subcommands through their own argument parsers, as the CLI does."""
    from proceval.cli import humans as humans_cli
    from proceval.cli import serve as serve_cli

    parser = argparse.ArgumentParser(prog="proceval")
    sub = parser.add_subparsers()
    humans_cli.register(sub)
    serve_cli.register(sub)
    args = parser.parse_args(argv)
    return int(args.func(args))


def test_cli_export(dataset: Dataset, config: StudyConfig, sqlite_url: str, tmp_path: Path,
                    capsys: pytest.CaptureFixture[str]) -> None:
    populate(dataset, config, sqlite_url)
    out = tmp_path / "h.tsv"
    assert cli(["humans", "export", "--db", sqlite_url, "--out", str(out), "--format", "csv"]) == 0
    printed = capsys.readouterr().out
    assert f"{len(dataset.items)} answers from 2 participants" in printed and "left out" in printed
    assert out.read_text().startswith("participant,item_id,response,rt_ms,")


def test_admin_figures(dataset: Dataset, config: StudyConfig, sqlite_url: str) -> None:
    from proceval.humans.stats import study_progress

    populate(dataset, config, sqlite_url)
    app = create_app(dataset, config, sqlite_url)
    study = app.state.study
    progress = study_progress(study.store, [len(x) for x in study.lists.lists], 3600)
    assert progress.sessions == 3 and progress.pilot_sessions == 1
    assert [(entry["completed"], entry["active"]) for entry in progress.lists] == [(1, 1), (1, 0)]
    assert progress.completion_rate == pytest.approx(2 / 3)
    assert progress.attention_pass_rate == 1.0 and progress.participants_passing_all_checks == 1.0
    assert progress.median_minutes is not None and progress.median_minutes < 5
    per_list = len(dataset.items) // 2
    assert sum(c["answers"] for c in progress.conditions) == 2 * per_list + 2
    assert {c["name"] for c in progress.conditions} == {"true", "false"}
    with client_for(app) as client:
        page = client.get("/admin", headers={"Authorization": f"Bearer {config.admin_token}"})
        assert page.status_code == 200
        assert '<td id="completion-rate">66.7%</td>' in page.text
        assert '<td id="attention-rate">100.0%</td>' in page.text
        export = client.get("/admin/export.csv", headers={"Authorization": f"Bearer {config.admin_token}"})
        assert export.headers["content-type"].startswith("text/csv")
        assert len(export.text.strip().splitlines()) == 1 + 2 * per_list


def test_participants_export_has_one_row_per_session_with_demographics(
        dataset: Dataset, config: StudyConfig, sqlite_url: str, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    app = create_app(dataset, config, sqlite_url)
    with client_for(app) as client:
        p = participant(client)
        page = p.open(PID.format("d1", "d1"))
        while page.action != "/study/demographics":
            page = p.step(page)
        assert client.post("/study/demographics", data={"csrf": page.hidden["csrf"], "age": "52",
                                                        "gender": ""}).status_code == 303
        p.run()
    populate(dataset, config, sqlite_url)
    out = tmp_path / "people.csv"
    assert cli(["humans", "participants", "--db", sqlite_url, "--out", str(out)]) == 0
    assert "wrote" in capsys.readouterr().out
    with out.open(newline="") as f:
        rows = {r["participant"]: r for r in csv.DictReader(f)}
    assert set(rows) == {"d1", "p1", "p2", "p3"}  # the pilot session is left out
    assert rows["d1"]["demographic_age"] == "52" and rows["d1"]["stage"] == "completed"
    assert rows["p3"]["stage"] == "trials" and rows["p3"]["answers"] == "2" and rows["p3"]["completed_at"] == ""
    assert float(rows["p1"]["minutes"]) >= 0 and rows["p1"]["attention_passed"] == "True"
