"""The analysis stage of the published example studies, on their real data, with runs shaped like the embedded
model's: the OffTheRails study (whose generate-scored ratings did not vary, issue 12) and the BigToM study finish
and write their reports, with the paper's figure."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import pytest

from proceval.analysis import analyze
from proceval.dataset import Item
from proceval.generate import generate
from proceval.study import load_study
from tests.analysis.runfiles import choice_response, rating_response, write_run
from tests.conftest import REPO

EXAMPLES = REPO / "examples"


def _study_dataset(name: str, root: Path) -> Any:
    loaded = load_study(EXAMPLES / name / "study.yaml")
    spec = loaded.study
    files = [loaded.resolve(f) for f in spec.dataset.from_files]
    return loaded, generate(spec.dataset.template, out=root / "dataset", from_files=files, seed=spec.seed,
                            progress=False)


def test_offtherails_with_a_model_whose_ratings_do_not_vary(tmp_path: Path) -> None:
    loaded, dataset = _study_dataset("offtherails", tmp_path)
    spec = loaded.study
    subjects = {s.name: s for s in spec.subjects}
    rated = dataset.items[: subjects["smollm2-logprob"].limit]

    def varying(item: Item, rng: random.Random) -> dict[str, Any]:  # expected ratings, as logprob scoring gives
        return rating_response(item, round(rng.uniform(2.0, 5.0), 3))

    def constant(item: Item, rng: random.Random) -> dict[str, Any]:  # greedy text: the same scale point
        return rating_response(item, 4.0)

    runs = []
    for name, answer in (("smollm2-logprob", varying), ("smollm2-generate", constant)):
        run = write_run(dataset, tmp_path / "runs" / name, answer, subject="local/smollm2-135m", scoring="logprob")
        lines = (run / "responses.jsonl").read_text().splitlines(keepends=True)
        ids = {item.id for item in rated}
        (run / "responses.jsonl").write_text("".join(x for x in lines if json.loads(x)["item_id"] in ids))
        info = json.loads((run / "run.json").read_text())
        (run / "run.json").write_text(json.dumps({**info, "status": "complete", "limit": len(rated)}))
        runs.append(run)
    analysis = spec.analysis
    report = analyze(runs, out=tmp_path / "report", humans=loaded.resolve(str(spec.humans)),
                     analyses=analysis.analyses, n_boot=200, title=analysis.title)
    summary = json.loads(report.summary_path.read_text())
    effects = summary["analyses"]["effects"]
    assert effects["status"] == "ok"
    subject = "local/smollm2-135m [smollm2-generate]"
    for question in ("permissibility", "intention"):
        assert effects["failures"][f"{subject} / {question}"] == (
            f"the ratings of {subject} do not vary ({question}: all 4): effects cannot be estimated")
    assert set(effects["numbers"]) == {"humans", "local/smollm2-135m [smollm2-logprob]"}
    assert set(effects["numbers"]["local/smollm2-135m [smollm2-logprob]"]) == {"permissibility", "intention"}
    assert len(effects["failures"]) == 2
    grid = summary["analyses"]["rating_grid"]
    assert grid["status"] == "ok" and grid["figures"][0]["name"] == "rating_grid"
    assert set(grid["numbers"]["humans"]["permissibility"]) == {"means/evitable", "means/inevitable",
                                                                "side_effect/evitable", "side_effect/inevitable"}
    assert len(summary["warnings"]) == 2  # each run answered 160 of the 320 items (the 10 rated scenarios)
    html = report.html_path.read_text()
    assert html.index('id="summary"') < html.index('id="figures"') < html.index('id="what"')


@pytest.mark.parametrize("version_right", [0.9])
def test_bigtom_reports_accuracy_by_belief_version_and_inference(tmp_path: Path, version_right: float) -> None:
    loaded, dataset = _study_dataset("bigtom", tmp_path)
    spec = loaded.study

    def model(item: Item, rng: random.Random) -> dict[str, Any]:
        keys = [o["key"] for o in item.options]
        right = rng.random() < (version_right if "true" in str(item.condition.get("belief") or "") else 0.5)
        return choice_response(item, item.answer if right else next(k for k in keys if k != item.answer),
                               order=keys)

    runs = [write_run(dataset, tmp_path / "runs" / s.name, model, subject=s.model, strategy=s.strategy, seed=i)
            for i, s in enumerate(spec.subjects)]
    report = analyze(runs, out=tmp_path / "report", analyses=spec.analysis.analyses, n_boot=100)
    summary = json.loads(report.summary_path.read_text())
    assert {n: e["status"] for n, e in summary["analyses"].items()} == {n: "ok" for n in spec.analysis.analyses}
    numbers = summary["analyses"]["belief_accuracy"]["numbers"]
    subject = f"{spec.subjects[0].model} [{spec.subjects[0].name}]"
    for inference in ("forward_belief", "forward_action", "backward_belief"):
        true_cell = numbers[subject][f"{inference}/true_belief"]
        assert true_cell["n"] == 400  # 200 stories × initial belief shown or hidden
        assert true_cell["ci"][0] <= true_cell["accuracy"] <= true_cell["ci"][1]
    assert summary["analyses"]["belief_accuracy"]["figures"][0]["name"] == "belief_accuracy"
