"""Study files whose dataset is drawn from a Python task and whose subjects are solvers with options (the
logic-guide example), run on a tiny Hugging Face model built here (its answers are arbitrary; what is checked is
the plumbing: conditions, labels, the ablation note, resuming)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from proceval.cli.main import main
from proceval.errors import StudyError
from proceval.run import load_run
from proceval.study import load_study, run_study
from proceval.tasks import make_task
from tests.models.tinyhf import build_tiny_hf

REPO = Path(__file__).resolve().parents[1]

STUDY = """\
name: logic
seed: 1
dataset:
  task: prontoqa
  n: 6
  options:
    hops: 1
    ontology: true,false
subjects:
  - model: hf/{model}
    solver: logic-cot
    options: {{max_tokens: 12, examples: 0, n_threads: 1}}
  - model: hf/{model}
    solver: logic-guide
    options: {{formalise: proceval, max_tokens: 12, examples: 0}}
analysis:
  analyses: [reasoning_accuracy, soundness, content_effect]
  n_boot: 200
"""


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    pytest.importorskip("transformers")
    pytest.importorskip("llguidance")
    return build_tiny_hf(tmp_path_factory.mktemp("tinyhf") / "model")


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "study.yaml"
    path.write_text(text)
    return path


def test_a_task_dataset_and_solver_subjects(tmp_path: Path, tiny_model: Path) -> None:
    loaded = load_study(write(tmp_path, STUDY.format(model=tiny_model)))
    slug = str(tiny_model).strip("/").replace("/", "-")
    assert [s.run_name for s in loaded.study.subjects] == [
        f"hf-{slug}-logic-cot-examples-0-max_tokens-12",
        f"hf-{slug}-logic-guide-examples-0-formalise-proceval-max_tokens-12"]
    result = run_study(loaded, out=tmp_path / "out", progress=False)
    # the dataset is the task's own draws with the study's options and seed
    expected = make_task("prontoqa", {"hops": "1", "ontology": "true,false"}).items(6, seed=1)
    assert [i.id for i in result.dataset.items] == [i.id for i in expected]
    strategies = [{r["strategy"] for r in load_run(path).responses} for path in result.runs]
    assert strategies == [{"cot"}, {"guided-formalised"}]
    assert load_run(result.runs[1]).info["solver"] == "logic-guide:examples=0,formalise=proceval,max_tokens=12"
    report = result.report
    assert report.results["soundness"].status == "ok"
    table = report.results["reasoning_accuracy"].tables["by_cell"]
    assert set(table["condition"]) == {"cot", "guided-formalised"} and set(table["ontology"]) == {"true", "false"}
    assert sum(table["n"]) == 12
    assert "ablation" in (tmp_path / "out" / "report" / "report.html").read_text()
    again = run_study(loaded, out=tmp_path / "out", progress=False)
    assert [s.status for s in again.stages] == ["skipped"] * 4


@pytest.mark.parametrize(("old", "new", "needle"), [
    ("  task: prontoqa\n", "  task: prontoqa\n  template: tom\n", "either a 'template' or a 'task'"),
    ("  task: prontoqa\n", "", "'template' (a causal template) or 'task'"),
])
def test_dataset_source_mistakes(tmp_path: Path, old: str, new: str, needle: str) -> None:
    with pytest.raises(StudyError, match=re.escape(needle)):
        load_study(write(tmp_path, STUDY.format(model="m").replace(old, new)))


@pytest.mark.parametrize(("old", "new", "needle"), [
    ("formalise: proceval", "formalise: people", "subjects.1.options: formalise='people'"),
    ("solver: logic-cot", "solver: logic-gide", "subjects.0.solver: unknown solver 'logic-gide'"),
    ("hops: 1", "hops: 9", "dataset.options: hops='9'"),
])
def test_check_names_solver_and_task_option_mistakes(tmp_path: Path, tiny_model: Path, old: str, new: str,
                                                     needle: str, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, STUDY.format(model=tiny_model).replace(old, new))
    code = main(["study", str(path), "--check", "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err
    assert needle in err


def test_the_shipped_example_is_valid() -> None:
    loaded = load_study(REPO / "examples" / "logic-guide" / "study.yaml")
    assert [s.run_name for s in loaded.study.subjects] == ["cot", "guided", "guided-formalised"]
    assert loaded.study.dataset.n == 540  # 60 problems in each of 3 hops × 3 ontologies
