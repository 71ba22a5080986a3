"""Degenerate data (no variance, one level, one subject) never crash an analysis: each says why in words, and an
analysis that fails for any reason is reported as failed while the others and the report are still written."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from proceval.analysis import (
    ANALYSES,
    AnalysisContext,
    AnalysisResult,
    analyze,
    available_analyses,
    load_responses,
    register_analysis,
    run_analyses,
)
from proceval.analysis.base import CannotEstimate
from proceval.analysis.effects import mixed_effects
from proceval.dataset import Dataset, Item
from proceval.ids import content_id
from tests.analysis.runfiles import choice_response, rating_response, write_run
from tests.conftest import choice_item, write_dataset

CTX = AnalysisContext(seed=0, n_boot=100)
UNEXPECTED = "stopped with an unexpected error"


def ratings_dataset(root: Path, levels: tuple[str, ...] = ("means", "side_effect"), scenarios: int = 6) -> Dataset:
    items = []
    for s in range(scenarios):
        sid = content_id("scenario", s)
        for structure in levels:
            items.append(Item(id=content_id("moral", sid, structure), template="moral", scenario_id=sid,
                              condition={"structure": structure}, condition_name=structure,
                              question_name="permissible", text=f"Dilemma {s} ({structure}).",
                              question="It was morally permissible.",
                              response={"type": "rating", "scale": {"min": 1, "max": 5, "labels": {}}}, answer=None))
    return write_dataset(root / "ds", items, template="moral", factors={"structure": list(levels)})


def choice_dataset(root: Path, levels: tuple[str, ...] = ("true_belief", "false_belief"), scenarios: int = 6) -> Dataset:
    items = [choice_item(s, {"belief": b}, answer="a" if b.startswith("true") else "b")
             for s in range(scenarios) for b in levels]
    return write_dataset(root / "ds", items, factors={"belief": list(levels)})


def humans_csv(root: Path, ds: Dataset, participants: int, answer: Any) -> Path:
    rng = random.Random(0)
    rows = [{"participant": f"P{p}", "item_id": item.id, "response": str(answer(item, rng))}
            for p in range(participants) for item in ds.items]
    path = root / "humans.csv"
    pd.DataFrame(rows).to_csv(path, index=False)
    return path


def constant_rating(value: float) -> Any:
    return lambda item, rng: rating_response(item, value)


def always(key: str) -> Any:
    return lambda item, rng: choice_response(item, key, order=["a", "b"])


def case_constant_ratings(root: Path) -> tuple[list[Path], Path | None]:
    """No variance: the model rates every dilemma 4, the people vary."""
    ds = ratings_dataset(root)
    run = write_run(ds, root / "run", constant_rating(4.0), subject="m/rater", scoring="generate")
    return [run], humans_csv(root, ds, 8, lambda item, rng: rng.randint(1, 5))


def case_constant_choices(root: Path) -> tuple[list[Path], Path | None]:
    """No variance: model and people always choose the first option."""
    ds = choice_dataset(root)
    run = write_run(ds, root / "run", always("a"), subject="m/chooser")
    return [run], humans_csv(root, ds, 5, lambda item, rng: "a")


def case_one_level(root: Path) -> tuple[list[Path], Path | None]:
    """One level: every rating item is in the same condition."""
    ds = ratings_dataset(root, levels=("means",))
    run = write_run(ds, root / "run", lambda item, rng: rating_response(item, float(rng.randint(1, 5))),
                    subject="m/rater")
    return [run], humans_csv(root, ds, 6, lambda item, rng: rng.randint(1, 5))


def case_one_subject(root: Path) -> tuple[list[Path], Path | None]:
    """One subject: one model, one human participant, one scenario."""
    ds = choice_dataset(root, scenarios=1)
    run = write_run(ds, root / "run", always("a"), subject="m/only")
    return [run], humans_csv(root, ds, 1, lambda item, rng: item.answer)


CASES = {"constant_ratings": case_constant_ratings, "constant_choices": case_constant_choices,
         "one_level": case_one_level, "one_subject": case_one_subject}


@pytest.mark.parametrize("case", list(CASES))
def test_every_analysis_explains_degenerate_data(case: str, tmp_path: Path) -> None:
    runs, humans = CASES[case](tmp_path)
    data = load_responses(runs, humans=humans)
    names = list(available_analyses())
    assert {"accuracy", "effects", "ratings", "humans", "irt", "joint"} <= set(names)
    results = run_analyses(data, names, CTX)
    assert set(results) == set(names)
    for name, result in results.items():
        assert result.status in ("ok", "skipped", "failed"), (name, result.status)
        if result.status != "ok":
            assert result.reason and len(result.reason.split()) >= 4, (name, result.reason)  # a sentence
            assert UNEXPECTED not in result.reason, (name, result.reason)  # recognised, not crashed into
        for part, reason in result.failures.items():
            assert UNEXPECTED not in reason, (name, part, reason)


def test_constant_ratings_are_named_and_the_people_still_get_effects(tmp_path: Path) -> None:
    runs, humans = case_constant_ratings(tmp_path)
    results = run_analyses(load_responses(runs, humans=humans), ["ratings", "effects"], CTX)
    effects = results["effects"]
    assert effects.status == "ok"
    assert effects.failures == {
        "m/rater / permissible": "the ratings of m/rater do not vary (permissible: all 4): effects cannot be estimated"}
    assert list(effects.tables["effects"]["subject"]) == ["humans"]
    means = results["ratings"].tables["by_structure"].set_index(["subject", "structure"])
    assert means.loc[("m/rater", "means"), "mean"] == 4.0


def test_an_analysis_of_constant_ratings_alone_fails_with_its_reason(tmp_path: Path) -> None:
    runs, _ = case_constant_ratings(tmp_path)
    report = analyze(runs, out=tmp_path / "report", analyses=["ratings", "effects"], n_boot=100)
    reason = "the ratings of m/rater do not vary (permissible: all 4): effects cannot be estimated"
    assert report.failed == {"effects": reason}
    summary = json.loads((tmp_path / "report" / "summary.json").read_text())
    assert summary["analyses"]["effects"]["status"] == "failed"
    assert summary["analyses"]["effects"]["reason"] == reason
    assert summary["analyses"]["ratings"]["status"] == "ok"
    assert reason in (tmp_path / "report" / "report.html").read_text()


def test_one_respondent_is_named_for_item_response_theory(tmp_path: Path) -> None:
    runs, humans = case_one_subject(tmp_path)
    result = run_analyses(load_responses(runs, humans=humans), ["irt"], CTX)["irt"]
    assert result.status == "skipped"
    assert "run: one respondent, no IRT (run it with --personas" in str(result.reason)
    assert "humans: one respondent, no IRT (IRT needs several participants)" in str(result.reason)


def test_one_level_is_named(tmp_path: Path) -> None:
    runs, humans = case_one_level(tmp_path)
    result = run_analyses(load_responses(runs, humans=humans), ["effects"], CTX)["effects"]
    assert result.status == "failed"
    assert "single level" in str(result.reason) and "cannot be estimated" in str(result.reason)


def test_confounded_factors_are_refused_before_fitting() -> None:
    rng = np.random.default_rng(0)
    rows = [{"participant": f"p{p}", "scenario": f"s{s}", "structure": structure,
             "evitability": "evitable" if structure == "means" else "inevitable", "rating": rng.normal()}
            for p in range(6) for s in range(4) for structure in ("means", "side_effect")]
    with pytest.raises(CannotEstimate, match="singular: evitability is confounded"):
        mixed_effects(pd.DataFrame(rows), factors=["structure", "evitability"])


def test_constant_response_is_refused_before_fitting() -> None:
    rows = [{"participant": f"p{p}", "scenario": f"s{s}", "structure": st, "rating": 3.0}
            for p in range(4) for s in range(3) for st in ("means", "side_effect")]
    with pytest.raises(CannotEstimate, match=r"rating do not vary \(all 3\)"):
        mixed_effects(pd.DataFrame(rows), factors=["structure"])


def test_an_unexpected_error_fails_one_analysis_and_the_report_is_still_written(tmp_path: Path) -> None:
    runs, humans = case_constant_choices(tmp_path)

    @register_analysis("boom", "An analysis that breaks")
    def boom(data: Any, ctx: Any) -> AnalysisResult:
        raise np.linalg.LinAlgError("Singular matrix")

    try:
        report = analyze(runs, out=tmp_path / "report", humans=humans, analyses=["accuracy", "boom", "validity"],
                         n_boot=100)
    finally:
        del ANALYSES["boom"]
    assert report.failed == {"boom": "stopped with an unexpected error: LinAlgError: Singular matrix"}
    summary = json.loads(report.summary_path.read_text())
    assert [summary["analyses"][n]["status"] for n in ("accuracy", "boom", "validity")] == ["ok", "failed", "ok"]
    assert summary["analyses"]["accuracy"]["numbers"]["overall"]["m/chooser"]["accuracy"] == 0.5
    html = report.html_path.read_text()
    assert "LinAlgError: Singular matrix" in html and "Accuracy by condition" in html
    assert 'raise np.linalg.LinAlgError("Singular matrix")' in summary["analyses"]["boom"]["notes"][0]  # traceback
