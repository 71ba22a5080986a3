"""The figures of the built-in families' papers: BigToM's accuracy per belief version by inference type and
OffTheRails' mean ratings by structure × evitability, models beside humans, checked against counts by hand."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from proceval.analysis import AnalysisContext, load_responses, run_analyses
from proceval.dataset import Item
from proceval.ids import content_id
from tests.analysis.runfiles import choice_response, rating_response, write_run
from tests.conftest import choice_item, write_dataset

CTX = AnalysisContext(seed=0, n_boot=100)


def test_belief_accuracy_by_inference_type_with_people_beside_the_model(tmp_path: Path) -> None:
    items = [choice_item(s, {"inference": inf, "belief": b}, answer="a" if b == "true_belief" else "b")
             for s in range(4) for inf in ("forward_belief", "forward_action")
             for b in ("true_belief", "false_belief")]
    ds = write_dataset(tmp_path / "ds", items, factors={"inference": ["forward_belief", "forward_action"],
                                                        "belief": ["true_belief", "false_belief"]})

    def model(item: Item, rng: random.Random) -> dict[str, Any]:  # always "a": right on true belief only
        return choice_response(item, "a", order=["a", "b"])

    write_run(ds, tmp_path / "run", model, subject="m/yes-sayer")
    # three people: right everywhere except P2 on forward_action false belief
    rows = [{"participant": f"P{p}", "item_id": it.id,
             "response": ("a" if it.answer == "b" else "b") if p == 2 and it.condition_name ==
             "forward_action_false_belief" else it.answer} for p in range(3) for it in ds.items]
    pd.DataFrame(rows).to_csv(tmp_path / "h.csv", index=False)
    result = run_analyses(load_responses([tmp_path / "run"], humans=tmp_path / "h.csv"), ["belief_accuracy"],
                          CTX)["belief_accuracy"]
    assert result.status == "ok"
    table = result.tables["belief_accuracy"].set_index(["subject", "inference", "belief"])
    assert table.loc[("m/yes-sayer", "forward_belief", "true_belief"), "accuracy"] == 1.0
    assert table.loc[("m/yes-sayer", "forward_action", "false_belief"), "accuracy"] == 0.0
    assert table.loc[("humans", "forward_action", "false_belief"), "accuracy"] == pytest.approx(8 / 12)
    assert table.loc[("humans", "forward_belief", "false_belief"), "n"] == 12
    assert result.figures and result.figures[0].name == "belief_accuracy"
    result.figures[0].draw()  # draws with one panel per inference type


def test_rating_grid_means_by_structure_and_evitability(tmp_path: Path) -> None:
    items = []
    for s in range(3):
        sid = content_id("scenario", s)
        for structure in ("means", "side_effect"):
            for evitability in ("evitable", "inevitable"):
                for question in ("permissibility", "intention"):
                    items.append(Item(
                        id=content_id("moral", sid, structure, evitability, question), template="moral",
                        scenario_id=sid, condition={"structure": structure, "evitability": evitability},
                        condition_name=f"{structure}_{evitability}", question_name=question,
                        text=f"Dilemma {s}.", question="Agree?",
                        response={"type": "rating", "scale": {"min": 1, "max": 5, "labels": {}}}, answer=None))
    ds = write_dataset(tmp_path / "ds", items, template="moral",
                       factors={"structure": ["means", "side_effect"], "evitability": ["evitable", "inevitable"]})

    def model(item: Item, rng: random.Random) -> dict[str, Any]:
        value = 1.0 + (item.condition["structure"] == "side_effect") + 2 * (item.condition["evitability"] == "inevitable")
        return rating_response(item, value)

    write_run(ds, tmp_path / "run", model, subject="m/rater")
    result = run_analyses(load_responses([tmp_path / "run"]), ["rating_grid"], CTX)["rating_grid"]
    table = result.tables["rating_grid"].set_index(["question_name", "structure", "evitability"])
    assert table.loc[("intention", "means", "evitable"), "mean"] == 1.0
    assert table.loc[("intention", "side_effect", "inevitable"), "mean"] == 4.0
    assert table.loc[("permissibility", "means", "inevitable"), "mean"] == 3.0
    assert table.loc[("permissibility", "means", "inevitable"), "n"] == 3
    result.figures[0].draw()


def test_rating_grid_needs_two_factors(tmp_path: Path) -> None:
    items = [choice_item(s, {"belief": b}) for s in range(2) for b in ("true", "false")]
    ds = write_dataset(tmp_path / "ds", items, factors={"belief": ["true", "false"]})
    write_run(ds, tmp_path / "run", lambda item, rng: choice_response(item, "a"))
    results = run_analyses(load_responses([tmp_path / "run"]), ["rating_grid", "belief_accuracy"], CTX)
    assert results["rating_grid"].status == "skipped" and "no rating items" in str(results["rating_grid"].reason)
    assert results["belief_accuracy"].status == "ok"


def test_agreement_by_inference_against_the_leave_one_out_baseline(tmp_path: Path) -> None:
    items = [choice_item(s, {"inference": inf}) for inf in ("emotion", "outcome") for s in range(2)]
    ds = write_dataset(tmp_path / "ds", items, factors={"inference": ["emotion", "outcome"]})
    people = {("emotion", 0): "aab", ("emotion", 1): "aaa", ("outcome", 0): "abb", ("outcome", 1): "bbb"}
    model_says = {("emotion", 0): "a", ("emotion", 1): "b", ("outcome", 0): "b", ("outcome", 1): "b"}
    key = {item.id: (item.condition["inference"], s) for item, s in zip(items, [0, 1, 0, 1], strict=True)}
    rows = [{"participant": f"P{p}", "item_id": item.id, "response": people[key[item.id]][p]}
            for p in range(3) for item in items]
    pd.DataFrame(rows).to_csv(tmp_path / "h.csv", index=False)
    write_run(ds, tmp_path / "run", lambda item, rng: choice_response(item, model_says[key[item.id]]),
              subject="m/feeler")
    result = run_analyses(load_responses([tmp_path / "run"], humans=tmp_path / "h.csv"), ["agreement_by_inference"],
                          CTX)["agreement_by_inference"]
    table = result.tables["agreement_by_inference"].set_index(["subject", "inference"])
    # by hand: leave-one-out credits per person, tied modes 1/2; the model against all three people's mode
    baseline = "humans (leave-one-out baseline)"
    assert table.loc[(baseline, "emotion"), "agreement"] == pytest.approx((0.75 + 0.75 + 0.5) / 3)
    assert table.loc[(baseline, "outcome"), "agreement"] == pytest.approx((0.5 + 0.75 + 0.75) / 3)
    assert table.loc[("m/feeler", "emotion"), "agreement"] == pytest.approx(0.5)
    assert table.loc[("m/feeler", "outcome"), "agreement"] == pytest.approx(1.0)
    assert table.loc[(baseline, "emotion"), "raters"] == 3
    result.figures[0].draw()
