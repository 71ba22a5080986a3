"""Psychometric alignment end to end: run directories and a human table written as docs/formats.md says."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from proceval.analysis.alignment import align, bootstrap_correlations
from proceval.analysis.irt import run_irt
from proceval.cli.main import main
from proceval.dataset import Dataset
from proceval.errors import AnalysisError
from tests.conftest import choice_item, write_dataset

N_ITEMS = 30


def _answers(b: np.ndarray, a: np.ndarray, n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    theta = rng.normal(0, 1, n)
    return rng.random((n, b.size)) < 1 / (1 + np.exp(-a * (theta[:, None] - b)))


def _write_persona_run(out: Path, dataset: Dataset, correct: np.ndarray, spec: str = "local/test-model") -> Path:
    out.mkdir(parents=True)
    items = dataset.items
    with (out / "responses.jsonl").open("w") as f:
        for p, row in enumerate(correct):
            for item, ok in zip(items, row, strict=True):
                f.write(json.dumps({
                    "item_id": item.id, "scenario_id": item.scenario_id, "condition_name": item.condition_name,
                    "question_name": item.question_name, "subject": f"{spec}#persona=P{p}",
                    "subject_kind": "persona", "choice": "a" if ok else "b", "correct": bool(ok), "status": "ok",
                }) + "\n")
    (out / "run.json").write_text(json.dumps({
        "dataset": {"path": str(dataset.path), "content_hash": dataset.content_hash},
        "model": {"spec": spec},
    }))
    return out


@pytest.fixture(scope="module")
def study(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("align")
    rng = np.random.default_rng(0)
    dataset = write_dataset(root / "data", [choice_item(s, {"level": "x"}, answer="a") for s in range(N_ITEMS)])
    b = rng.normal(0, 1, N_ITEMS)
    a = rng.lognormal(0, 0.2, N_ITEMS)
    humans = _answers(b, a, 600, seed=1)
    lines = ["participant,item_id,response,rt_ms"]
    for p, row in enumerate(humans):
        for item, ok in zip(dataset.items, row, strict=True):
            lines.append(f"H{p},{item.id},{'a' if ok else 'b'},1200")
    lines.append(f"H0,{dataset.items[0].id},maybe,900")  # an unparseable answer: counted, not used
    (root / "humans.csv").write_text("\n".join(lines) + "\n")
    aligned = _write_persona_run(root / "aligned", dataset, _answers(b + rng.normal(0, 0.15, N_ITEMS), a, 400, 2))
    shuffled = _write_persona_run(root / "shuffled", dataset, _answers(rng.permutation(b), a, 400, 3))
    return {"data": dataset.path, "humans": root / "humans.csv", "aligned": aligned, "shuffled": shuffled,
            "root": root}


def test_alignment_separates_an_aligned_from_a_misaligned_population(study: dict[str, Path]) -> None:
    out = study["root"] / "report"
    result = align(study["humans"], [study["aligned"], study["shuffled"]], out, n_boot=500)
    good = result.comparisons["aligned"].correlations["difficulty"]
    bad = result.comparisons["shuffled"].correlations["difficulty"]
    assert good["pearson"].r > 0.9 and good["spearman"].r > 0.85
    assert good["pearson"].ci[0] > bad["pearson"].ci[1]  # the intervals do not overlap
    assert good["pearson"].ci[0] <= good["pearson"].r <= good["pearson"].ci[1]
    assert abs(bad["pearson"].r) < 0.6
    assert result.comparisons["aligned"].accuracy["mean_abs_difference"] < \
        result.comparisons["shuffled"].accuracy["mean_abs_difference"]
    summary = json.loads((out / "summary.json").read_text())
    assert summary["ranking_by_difficulty_pearson"] == ["aligned", "shuffled"]
    assert summary["inputs"]["humans"]["skipped"] == [{"reason": "status invalid", "count": 1}]
    assert len(summary["populations"]["shuffled"]["most_divergent"]) == 5
    html = (out / "report.html").read_text()
    assert "data:image/png;base64," in html and "shuffled" in html
    for name in ("difficulty.png", "accuracy.png", "icc_aligned.png", "items.csv", "irt_items_humans.csv"):
        assert (out / name).is_file(), name


def test_most_divergent_items_are_the_ones_made_to_diverge(study: dict[str, Path], tmp_path: Path) -> None:
    dataset = Dataset.load(study["data"])
    rng = np.random.default_rng(0)
    b = rng.normal(0, 1, N_ITEMS)
    a = rng.lognormal(0, 0.2, N_ITEMS)
    moved = b.copy()
    moved[[3, 17]] += np.where(b[[3, 17]] > 0, -3.0, 3.0)  # two items made much easier/harder for the models
    run = _write_persona_run(tmp_path / "twisted", dataset, _answers(moved, a, 800, 5))
    result = align(study["humans"], [run], n_boot=200)
    top = set(result.comparisons["twisted"].most_divergent(2)["item_id"])
    assert top == {dataset.items[3].id, dataset.items[17].id}


def test_constant_simulated_items_are_reported_and_still_compared_on_accuracy(
    study: dict[str, Path], tmp_path: Path
) -> None:
    dataset = Dataset.load(study["data"])
    answers = _answers(np.zeros(N_ITEMS), np.ones(N_ITEMS), 300, 9)
    answers[:, 0] = True  # every persona gets item 0 right
    run = _write_persona_run(tmp_path / "sim", dataset, answers)
    result = align(study["humans"], [run], n_boot=100)
    comp = result.comparisons["sim"]
    row = comp.items.set_index("item_id").loc[dataset.items[0].id]
    assert not row["estimated_both"]
    assert row["p_simulated"] == 1.0
    assert "everyone answered correctly" in row["excluded"]
    assert any("could not be estimated" in note for note in comp.notes)


def test_bootstrap_correlations_are_seeded_and_handle_degenerate_input() -> None:
    x = np.arange(10.0)
    y = x + np.random.default_rng(1).normal(0, 2, 10)
    one = bootstrap_correlations(x, y, n_boot=300, seed=4)
    two = bootstrap_correlations(x, y, n_boot=300, seed=4)
    assert one["pearson"].ci == two["pearson"].ci and one["spearman"].ci == two["spearman"].ci
    flat = bootstrap_correlations(x, np.ones(10))
    assert np.isnan(flat["pearson"].r) and flat["pearson"].to_dict()["r"] is None


def test_no_shared_items_is_an_error(study: dict[str, Path], tmp_path: Path) -> None:
    other = tmp_path / "other.csv"
    other.write_text("person,x1,x2\na,1,0\nb,0,1\n")
    with pytest.raises(AnalysisError, match="none of the items"):
        align(other, [study["aligned"]])


def test_cli_irt_and_align_write_reports(study: dict[str, Path], tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["irt", str(study["aligned"]), "--model", "2pl", "--out", str(tmp_path / "irt")]) == 0
    summary = json.loads((tmp_path / "irt" / "summary.json").read_text())
    assert summary["populations"]["aligned"]["n_persons"] == 400
    items = (tmp_path / "irt" / "items_aligned.csv").read_text().splitlines()
    assert len(items) == N_ITEMS + 1 and items[0].startswith("item_id,a,se_a,b,se_b")
    assert main(["align", "--humans", str(study["humans"]), "--simulated", str(study["aligned"]),
                 "--boot", "100", "--out", str(tmp_path / "align")]) == 0
    assert "aligned" in capsys.readouterr().out
    assert (tmp_path / "align" / "report.html").is_file()
    # a user error is one line naming the problem, no traceback
    assert main(["irt", str(tmp_path / "nope.csv")]) == 2
    assert "no such file" in capsys.readouterr().err


def test_irt_on_a_human_table_uses_the_dataset(study: dict[str, Path]) -> None:
    fits = run_irt([study["humans"]], dataset=study["data"])
    fit = fits["humans"]
    assert fit.n_persons == 600 and len(fit.items) == N_ITEMS
    with pytest.raises(AnalysisError, match="needs the dataset"):
        run_irt([study["humans"]])


def test_irt_runs_inside_proceval_analyze(study: dict[str, Path], tmp_path: Path) -> None:
    from proceval.analysis import analyze

    report = analyze([study["aligned"]], out=tmp_path / "report", humans=study["humans"],
                     analyses=["irt"], n_boot=50)
    result = report.results["irt"]
    assert set(result.numbers) == {"aligned", "humans"}
    assert result.numbers["aligned"]["n_persons"] == 400 and result.numbers["humans"]["n_persons"] == 600
    assert len(result.tables["items_aligned"]) == N_ITEMS


def test_cli_irt_on_a_matrix_csv_and_a_tsv_human_table(study: dict[str, Path], tmp_path: Path,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    answers = _answers(np.linspace(-1.5, 1.5, 8), np.ones(8), 200, 4).astype(int)
    lines = ["person," + ",".join(f"q{j}" for j in range(8))]
    lines += [f"s{i}," + ",".join(map(str, row)) for i, row in enumerate(answers)]
    lines[5] = "s4," + ",".join([""] * 8)  # a respondent with no answers
    (tmp_path / "m.csv").write_text("\n".join(lines) + "\n")
    assert main(["irt", str(tmp_path / "m.csv"), "--model", "rasch", "--out", str(tmp_path / "out")]) == 0
    printed = capsys.readouterr().out
    assert "excluded 1 respondent" in printed
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())["populations"]["m"]
    assert summary["excluded_persons"] == {"s4": "no answers"} and summary["n_items"] == 8
    tsv = tmp_path / "humans.tsv"
    tsv.write_text(study["humans"].read_text().replace(",", "\t"))
    fits = run_irt([tsv], dataset=study["data"], model="1pl")
    assert fits["humans"].n_persons == 600


def test_model_runs_pooled_by_subject_are_one_respondent_each(study: dict[str, Path], tmp_path: Path) -> None:
    from proceval.analysis.irt import load_matrices
    from tests.analysis.runfiles import choice_response, write_run

    dataset = Dataset.load(study["data"])
    runs = []
    for k in range(4):
        def answer(item, rng, k=k):  # type: ignore[no-untyped-def]
            return choice_response(item, "a" if rng.random() < 0.3 + 0.15 * k else "b")

        runs.append(tmp_path / f"model{k}")
        write_run(dataset, runs[-1], answer, subject="local/same-model", seed=k)
    (pooled,) = load_matrices(runs, by="subject").values()
    assert pooled.persons == ["model0", "model1", "model2", "model3"]
    assert pooled.n_items == N_ITEMS and pooled.n_missing == 0


def test_align_example_in_docs(study: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import re
    import shutil

    from tests.conftest import REPO

    text = (REPO / "docs" / "irt.md").read_text(encoding="utf-8")
    (code,) = [b for b in re.findall(r"```python\n(.*?)```", text, flags=re.S) if b.startswith("# docs-example: align")]
    shutil.copytree(study["aligned"], tmp_path / "runs" / "quiz-personas")
    shutil.copytree(study["shuffled"], tmp_path / "runs" / "quiz-plain")
    shutil.copy(study["humans"], tmp_path / "humans.csv")
    monkeypatch.chdir(tmp_path)
    namespace: dict[str, object] = {}
    exec(compile(code, "docs/irt.md", "exec"), namespace)
    result = namespace["result"]
    assert list(result.comparisons) == ["quiz-personas", "quiz-plain"]  # type: ignore[attr-defined]
    assert (tmp_path / "reports" / "align" / "report.html").is_file()
