"""Study files: typos named with their line, and stages skipped when their inputs are unchanged."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from proceval.cli.main import main
from proceval.errors import StudyError
from proceval.study import load_study, run_study, stage_hashes
from tests.models.tinyhf import build_tiny_hf

REPO = Path(__file__).resolve().parents[1]

GOOD = """\
name: t
seed: 3
dataset:
  template: tom
  n: 1
subjects:
  - model: local/smollm2-135m
    strategy: zero-shot
analysis:
  n_boot: 200
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "study.yaml"
    path.write_text(text)
    return path


@pytest.mark.parametrize(("text", "line", "needle"), [
    (GOOD.replace("subjects:", "subjetcs:"), 6, "did you mean 'subjects'"),
    (GOOD.replace("    strategy: zero-shot", "    strategy: zero-shot\n    temprature: 0.5"), 9,
     "did you mean 'temperature'"),
    (GOOD.replace("strategy: zero-shot", "strategy: zeroshot"), 8, "subjects.0.strategy"),
    (GOOD.replace("  n: 1\n", ""), 3, "say how many scenarios"),
    (GOOD.replace("  n_boot: 200", "  n_boot: 200\n  nboot: 3"), 11, "did you mean 'n_boot'"),
    (GOOD + "humans: answers.csv\n", 11, "no such file 'answers.csv'"),
    (GOOD.replace("    strategy: zero-shot", "    strategy: zero-shot\n    personas: people.csv"), 9,
     "no such file 'people.csv'"),
    (GOOD.replace("    strategy: zero-shot", "    strategy: zero-shot\n    persona_memory: 2"), 7,
     "persona_memory need 'personas'"),
])
def test_mistakes_name_file_line_and_field(tmp_path: Path, text: str, line: int, needle: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(StudyError) as info:
        load_study(path)
    assert info.value.line == line, str(info.value)
    assert needle in str(info.value)
    assert str(path) in str(info.value)


def test_duplicate_run_names_are_refused(tmp_path: Path) -> None:
    text = GOOD.replace("analysis:", "  - model: local/smollm2-135m\n    strategy: zero-shot\nanalysis:")
    with pytest.raises(StudyError, match="same run directory"):
        load_study(write(tmp_path, text))


def test_shipped_examples_are_valid() -> None:
    for example in ("tom-demo", "bigtom"):
        loaded = load_study(REPO / "examples" / example / "study.yaml")
        assert loaded.study.subjects


def test_hashes_follow_inputs(tmp_path: Path) -> None:
    base = stage_hashes(load_study(write(tmp_path, GOOD)), tmp_path)
    more_boot = stage_hashes(load_study(write(tmp_path, GOOD.replace("n_boot: 200", "n_boot: 300"))), tmp_path)
    assert more_boot["generate"] == base["generate"]
    assert more_boot["run:local-smollm2-135m-zero-shot"] == base["run:local-smollm2-135m-zero-shot"]
    assert more_boot["analyze"] != base["analyze"]
    other_seed = stage_hashes(load_study(write(tmp_path, GOOD.replace("seed: 3", "seed: 4"))), tmp_path)
    assert len({other_seed[k] for k in base} & set(base.values())) == 0  # the seed feeds every stage


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    pytest.importorskip("transformers")
    return build_tiny_hf(tmp_path_factory.mktemp("tinyhf") / "model")


@pytest.mark.slow
def test_study_runs_once_then_skips_and_redoes_only_what_changed(tmp_path: Path, tiny_model: Path,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    text = f"""\
name: tiny
seed: 0
dataset:
  template: tom
  n: 1
subjects:
  - name: tiny
    model: hf/{tiny_model}
    scoring: logprob
    limit: 10
    options: {{n_threads: 1}}
analysis:
  n_boot: 200
"""
    study = write(tmp_path, text)
    out = tmp_path / "out"
    first = run_study(study, out=out, progress=False)
    assert [s.status for s in first.stages] == ["ran", "ran", "ran"]
    summary = json.loads((out / "report" / "summary.json").read_text())
    assert summary["analyses"]["accuracy"]["numbers"]["overall"][f"hf/{tiny_model}"]["n"] == 10
    made = (out / "runs" / "tiny" / "responses.jsonl").stat().st_mtime_ns

    again = run_study(study, out=out, progress=False)
    assert [s.status for s in again.stages] == ["skipped", "skipped", "skipped"]
    assert (out / "runs" / "tiny" / "responses.jsonl").stat().st_mtime_ns == made

    # a corrupt state file: said so, kept beside the new one; the regenerated dataset is the same dataset, so
    # the run resumes on it without a single model call
    (out / "study-state.json").write_text('{"generate": {"hash": ')
    with pytest.warns(UserWarning, match=r"study-state\.json is unreadable .* moved to study-state\.json\.corrupt-"):
        recovered = run_study(study, out=out, progress=False)
    assert [s.status for s in recovered.stages] == ["ran", "resumed", "ran"]
    (kept,) = out.glob("study-state.json.corrupt-*")
    assert kept.read_text() == '{"generate": {"hash": '
    assert set(json.loads((out / "study-state.json").read_text())) == {"generate", "run:tiny", "analyze"}
    assert json.loads((out / "runs" / "tiny" / "run.json").read_text())["sessions"][-1]["calls"] == 0

    write(tmp_path, text.replace("n_boot: 200", "n_boot: 150"))
    changed = run_study(study, out=out, progress=False)
    assert [s.status for s in changed.stages] == ["skipped", "skipped", "ran"]
    assert json.loads((out / "report" / "summary.json").read_text())["settings"]["n_boot"] == 150

    write(tmp_path, text.replace("limit: 10", "limit: 12"))
    assert main(["study", str(study), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "skipped generate" in " ".join(printed.split())
    assert str(out / "report" / "report.html") in printed.replace("\n", "")
    summary = json.loads((out / "report" / "summary.json").read_text())
    assert summary["analyses"]["accuracy"]["numbers"]["overall"][f"hf/{tiny_model}"]["n"] == 12


@pytest.mark.slow
def test_a_subject_can_be_a_persona_population(tmp_path: Path, tiny_model: Path) -> None:
    """Personas with a memory, from a table beside the study file; editing the table redoes only that run."""
    (tmp_path / "people.csv").write_text("id,age\np1,30\np2,70\np3,50\n")
    text = f"""\
name: population
seed: 0
dataset:
  template: tom
  n: 1
subjects:
  - model: hf/{tiny_model}
    scoring: logprob
    limit: 3
    options: {{n_threads: 1}}
  - model: hf/{tiny_model}
    scoring: logprob
    limit: 3
    options: {{n_threads: 1}}
    personas: people.csv
    persona_template: "You are {{{{ age }}}} years old."
    n_personas: 2
    persona_order: shuffled
    persona_memory: 1
analysis:
  n_boot: 200
  analyses: [accuracy]
"""
    study = write(tmp_path, text)
    out = tmp_path / "out"
    first = run_study(study, out=out, progress=False)
    plain_dir, personas_dir = (s.output for s in first.stages[1:3])
    assert personas_dir.name.endswith("-personas") and not plain_dir.name.endswith("-personas")
    responses = [json.loads(line) for line in (personas_dir / "responses.jsonl").read_text().splitlines()]
    assert len({r["persona"] for r in responses}) == 2 and len(responses) == 6
    assert all(len(r["memory"]) == min(r["position"], 1) for r in responses)
    info = json.loads((personas_dir / "run.json").read_text())
    assert all(s["system"].startswith("You are ") for s in info["subjects"])
    # the same model as a plain run and as a population: two subjects of the report, not one pooled row
    overall = json.loads((out / "report" / "summary.json").read_text())["analyses"]["accuracy"]["numbers"]["overall"]
    assert set(overall) == {f"hf/{tiny_model} [{plain_dir.name}]", f"hf/{tiny_model} [{personas_dir.name}]"}

    (tmp_path / "people.csv").write_text("id,age\np1,31\np2,70\np3,50\n")
    again = run_study(study, out=out, progress=False)
    assert [s.status for s in again.stages] == ["skipped", "skipped", "ran", "ran"]


def test_docs_study_example_is_a_valid_study(tmp_path: Path) -> None:
    import re

    text = (REPO / "docs" / "study.md").read_text()
    block = re.search(r"```yaml\n(.*?)```", text, flags=re.S)
    assert block is not None
    loaded = load_study(write(tmp_path, block.group(1)))
    assert [s.run_name for s in loaded.study.subjects] == ["smollm2-zero-shot", "smollm2-cot"]


@pytest.mark.slow
def test_check_writes_nothing_and_force_redoes_every_stage(tmp_path: Path, tiny_model: Path,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    study = write(tmp_path, f"""\
name: tiny
dataset: {{template: tom, n: 1}}
subjects:
  - {{name: tiny, model: "hf/{tiny_model}", scoring: logprob, limit: 3, options: {{n_threads: 1}}}}
analysis: {{n_boot: 100, analyses: [accuracy]}}
""")
    out = tmp_path / "out"
    assert main(["study", str(study), "--check", "--out", str(out)]) == 0
    printed = " ".join(capsys.readouterr().out.split())  # the terminal may wrap
    assert printed.startswith(f"ok {study}: study tiny")
    hashes = stage_hashes(load_study(study), out)
    assert list(hashes) == ["generate", "run:tiny", "analyze"]
    for stage, digest in hashes.items():
        assert f"{stage} inputs {digest}" in printed
    assert not out.exists()  # a check runs nothing

    assert main(["study", str(study), "--out", str(out)]) == 0
    made = {p: p.stat().st_mtime_ns for p in (out / "dataset" / "items.jsonl", out / "report" / "summary.json")}
    capsys.readouterr()
    assert main(["study", str(study), "--out", str(out), "--force"]) == 0
    printed = capsys.readouterr().out
    assert "skipped" not in printed and printed.count("ran") >= 3
    assert all(path.stat().st_mtime_ns != before for path, before in made.items())
    run = json.loads((out / "runs" / "tiny" / "run.json").read_text())
    assert run["status"] == "complete" and run["counts"]["responses"] == 3
    assert run["sessions"][-1]["calls"] > 0  # the answers were asked again, not read back


@pytest.mark.slow
def test_a_studys_from_and_humans_are_used(tmp_path: Path, tiny_model: Path) -> None:
    """`from:` imports the table rows (not the lexicon) and `humans:` reaches the report; editing the human
    table redoes only the report."""
    from proceval.generate import generate
    from tests.conftest import DATA

    rows = (DATA / "bigtom" / "bigtom.csv").read_text(encoding="utf-8").splitlines()[:2]
    (tmp_path / "rows.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    items = generate("tom", out=tmp_path / "expected", from_files=[tmp_path / "rows.csv"], progress=False).items
    # every fourth answer names no option: invalid, so wrong
    answers = [(p, item.id, item.answer if (n + k) % 4 else "x")
               for n, p in enumerate(("P1", "P2")) for k, item in enumerate(items)]
    (tmp_path / "humans.csv").write_text(
        "participant,item_id,response\n" + "".join(f"{p},{i},{a}\n" for p, i, a in answers), encoding="utf-8")
    study = write(tmp_path, f"""\
name: imported
dataset: {{template: tom, from: [rows.csv]}}
subjects:
  - {{name: tiny, model: "hf/{tiny_model}", scoring: logprob, limit: 2, options: {{n_threads: 1}}}}
humans: humans.csv
analysis: {{n_boot: 100, analyses: [accuracy]}}
""")
    out = tmp_path / "out"
    result = run_study(study, out=out, progress=False)
    manifest = json.loads((out / "dataset" / "manifest.json").read_text())
    assert manifest["source"]["kind"] == "table" and manifest["n_scenarios"] == 2 and manifest["n_items"] == 50
    assert [item.id for item in result.dataset.items] == [item.id for item in items]
    summary = json.loads((out / "report" / "summary.json").read_text())
    assert summary["humans"]["participants"] == 2 and summary["humans"]["rows"] == 100
    humans = summary["analyses"]["accuracy"]["numbers"]["overall"]["humans"]
    right = sum(a != "x" for _, _, a in answers)
    assert humans["n"] == 100 and humans["accuracy"] == pytest.approx(right / 100)

    (tmp_path / "humans.csv").write_text("participant,item_id,response\n" + "".join(
        f"{p},{i},{a}\n" for p, i, a in answers if p == "P1"), encoding="utf-8")
    again = run_study(study, out=out, progress=False)
    assert [s.status for s in again.stages] == ["skipped", "skipped", "ran"]
    assert json.loads((out / "report" / "summary.json").read_text())["humans"]["participants"] == 1
