"""Model answers given elsewhere → a run directory that `analyze` reads beside a proceval run and people."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from proceval.analysis.agreement import HUMAN_BASELINE
from proceval.cli.main import main
from proceval.dataset import Dataset, Scenario
from proceval.errors import HumansError
from proceval.humans.model_answers import import_model_answers
from proceval.run import load_run
from proceval.run.io import read_responses
from tests.conftest import choice_item, write_dataset

OPTIONS = ("Snowfall", "Fog")  # key a, key b
TEXT = {"a": "Snowfall", "b": "fog"}
MAPPING = ("scenario: {column: story, by: record, base: 0}\n"
           "factors: {inference: kind}\nquestions: {q: answer}\n")


@pytest.fixture
def dataset(tmp_path: Path) -> Dataset:
    """i1 (emotion), i2 and i3 (outcome): the small table of tests/analysis/test_agreement.py."""
    levels = ["emotion", "outcome", "outcome"]
    items = [choice_item(s, {"inference": level}, options=OPTIONS) for s, level in enumerate(levels)]
    scenarios = [Scenario(id=item.scenario_id, template="toy", variables={"x": str(s)},
                          source={"kind": "table", "file": "rows.csv", "line": s + 1, "record": s + 1})
                 for s, item in enumerate(items)]
    return write_dataset(tmp_path / "ds", items, scenarios, factors={"inference": ["emotion", "outcome"]})


def write_humans(root: Path) -> Path:
    # as in test_agreement: i1 P1 a, P2 b, P3 a; i2 P1 b, P2 a, P3 a; i3 P1 a, P2 b — given as option texts —
    # plus P4, whose answers (a typo and an unknown answer) cannot be used
    rows = [("P1", 0, "a"), ("P2", 0, "b"), ("P3", 0, "a"), ("P1", 1, "b"), ("P2", 1, "a"), ("P3", 1, "a"),
            ("P1", 2, "a"), ("P2", 2, "b")]
    kinds = ["emotion", "outcome", "outcome"]
    lines = [f"{p},{s},{kinds[s]},{TEXT[k]}" for p, s, k in rows] + ["P4,0,emotion,Snowfal", "P4,1,outcome,Rain"]
    path = root / "humans.csv"
    path.write_text("participant,story,kind,answer\n" + "\n".join(lines) + "\n", encoding="utf-8")
    (root / "humans.mapping.yaml").write_text("participant: participant\n" + MAPPING, encoding="utf-8")
    return path


def write_models(root: Path) -> Path:
    # M1: i1 a, i2 b, i3 b (the hand-worked model); M2: i1 b, i2 a, i3 a; one M2 answer names no item
    rows = [("M1", 0, "a"), ("M1", 1, "b"), ("M1", 2, "b"), ("M2", 0, "b"), ("M2", 1, "a"), ("M2", 2, "a")]
    kinds = ["emotion", "outcome", "outcome"]
    lines = [f"{m},{s},{kinds[s]},{TEXT[k].upper()}" for m, s, k in rows] + ["M2,9,outcome,Fog"]
    path = root / "models.csv"
    path.write_text("model,story,kind,answer\n" + "\n".join(lines) + "\n", encoding="utf-8")
    (root / "models.mapping.yaml").write_text("model: model\n" + MAPPING, encoding="utf-8")
    return path


def test_imported_answers_are_a_run_directory_with_provenance(dataset: Dataset, tmp_path: Path) -> None:
    models = write_models(tmp_path)
    result = import_model_answers([models], dataset, tmp_path / "imported")
    assert result.subjects == ["M1", "M2"]
    assert result.counts == {"answers": 7, "ok": 6, "invalid": 0, "no_item": 1, "replaced": 0}
    assert [(Path(u["file"]).name, u["line"]) for u in result.unmatched] == [("models.csv", 8)]
    run = load_run(tmp_path / "imported")  # the run engine's own reader
    assert run.complete and run.info["import"]["files"][0]["sha256"] == __import__("hashlib").sha256(
        models.read_bytes()).hexdigest()
    assert run.info["import"]["files"][0]["mapping"]["participant"] == "model"
    items = dataset.items
    assert [(r["subject"], r["item_id"], r["choice"]) for r in run.responses] == [
        ("M1", items[0].id, "a"), ("M1", items[1].id, "b"), ("M1", items[2].id, "b"),
        ("M2", items[0].id, "b"), ("M2", items[1].id, "a"), ("M2", items[2].id, "a")]
    assert [r["correct"] for r in run.responses[:3]] == [True, False, False]  # every answer key here is a
    with pytest.raises(HumansError, match="already holds a run"):
        import_model_answers([models], dataset, tmp_path / "imported")


def test_cli_errors_are_one_line(dataset: Dataset, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    lonely = tmp_path / "lonely.csv"
    lonely.write_text("model,answer\nm,a\n", encoding="utf-8")
    assert main(["import-model-answers", str(lonely), "--dataset", str(dataset.path), "--out",
                 str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err
    assert "no mapping for this model answer file" in err and "lonely.csv" in err and "Traceback" not in err
    models = write_models(tmp_path)
    assert main(["import-model-answers", str(models), "--model", "a", "--model", "b", "--dataset",
                 str(dataset.path), "--out", str(tmp_path / "r")]) == 2
    assert "1 files but 2 model names" in capsys.readouterr().err


def test_one_file_per_model_and_answers_that_name_no_option(dataset: Dataset, tmp_path: Path) -> None:
    (tmp_path / "answers.mapping.yaml").write_text(MAPPING, encoding="utf-8")
    for name, answers in (("m1", ["Snowfall", "(b)", "Sleet"]), ("m2", ["1", "2", "b"])):
        text = "story,kind,answer\n" + "".join(f"{s},{k},{a}\n" for s, k, a in
                                                zip(range(3), ["emotion", "outcome", "outcome"], answers, strict=True))
        (tmp_path / f"{name}.csv").write_text(text, encoding="utf-8")
        (tmp_path / f"{name}.mapping.yaml").write_text(MAPPING, encoding="utf-8")
    result = import_model_answers([tmp_path / "m1.csv", tmp_path / "m2.csv"], dataset, tmp_path / "run",
                                  models=["first/model", "second/model"])
    responses, _ = read_responses(tmp_path / "run" / "responses.jsonl")
    by = {(r["subject"], r["item_id"]): r for r in responses}
    items = dataset.items
    assert by[("first/model", items[1].id)]["choice"] == "b"  # the label "(b)"
    sleet = by[("first/model", items[2].id)]
    assert sleet["status"] == "invalid" and sleet["choice"] is None and "matches no option" in sleet["error"]
    assert sleet["raw"] == "Sleet"
    # indices are not options unless the mapping says so
    assert by[("second/model", items[0].id)]["status"] == "invalid"
    assert result.counts["invalid"] == 3 and result.counts["ok"] == 3


def run_tiny_model(dataset: Dataset, out: Path, tmp_path: Path) -> Path:
    from tests.models.tinyhf import build_tiny_hf

    model = build_tiny_hf(tmp_path / "tinyhf")
    assert main(["run", str(dataset.path), "--model", f"hf/{model}", "--out", str(out), "--threads", "1",
                 "--no-progress", "--scoring", "logprob"]) == 0  # log-probabilities: always an option
    return out


# agreement of M1 by inference, worked out by hand in tests/analysis/test_agreement.py
BY_HAND = {
    ("mode_of_all", "split"): {"emotion": 1.0, "outcome": 0.25},
    ("mode_of_all", "first"): {"emotion": 1.0, "outcome": 0.0},
    ("loo_per_participant", "split"): {"emotion": 2 / 3, "outcome": 1.25 / 3},
    ("loo_per_participant", "first"): {"emotion": 2 / 3, "outcome": 2 / 3},
}
HUMANS_BY_HAND = {"split": {"emotion": 1 / 3, "outcome": 0.25}, "first": {"emotion": 1 / 3, "outcome": 0.0}}


def test_analyze_reports_imported_models_beside_a_run_and_people(dataset: Dataset, tmp_path: Path,
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    humans, models = write_humans(tmp_path), write_models(tmp_path)
    assert main(["import-model-answers", str(models), "--dataset", str(dataset.path),
                 "--out", str(tmp_path / "imported")]) == 0
    printed = capsys.readouterr().out
    assert "7 answers from 2 model(s) (M1, M2)" in printed and "models.csv:8" in printed
    tiny = run_tiny_model(dataset, tmp_path / "tiny", tmp_path)
    tables = {}
    for (definition, ties), expected in BY_HAND.items():
        out = tmp_path / f"report-{definition}-{ties}"
        assert main(["analyze", str(tiny), str(tmp_path / "imported"), "--humans", str(humans), "--out", str(out),
                     "--by", "inference", "--agreement-model", definition, "--ties", ties, "--n-boot", "50"]) == 0
        printed = capsys.readouterr().out
        assert "human answers not used: 2 of 10" in printed and "2 × answer matches no option" in printed
        table = pd.read_csv(out / "tables" / "humans__agreement_by_inference.csv")
        got = tables[(definition, ties)] = {(r["subject"], r["inference"]): r["agreement"]
                                            for r in table.to_dict("records")}
        for level in ("emotion", "outcome"):
            assert got[("M1", level)] == pytest.approx(expected[level])
            assert got[(HUMAN_BASELINE, level)] == pytest.approx(HUMANS_BY_HAND[ties][level])
        subjects = set(table["subject"])
        assert {"M1", "M2", HUMAN_BASELINE} < subjects and len(subjects) == 4  # and the tiny model's run
        summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
        numbers = summary["analyses"]["humans"]["numbers"]
        assert numbers["agreement_settings"] == {"definition": definition, "ties": ties}
    # M2 under the defaults (mode of all, split ties): i1 0; i2 1, i3 ½
    default = tables[("mode_of_all", "split")]
    assert default[("M2", "emotion")] == pytest.approx(0.0) and default[("M2", "outcome")] == pytest.approx(0.75)
    accuracy = summary["analyses"]["accuracy"]["numbers"]["overall"]
    assert {"M1", "M2", "humans"} <= set(accuracy)
