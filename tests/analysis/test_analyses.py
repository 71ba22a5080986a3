"""Analyses on real run directories (written per docs/formats.md) with answers whose statistics are known."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from proceval.analysis import AnalysisContext, load_responses, run_analyses
from proceval.analysis.accuracy import accuracy_table
from proceval.dataset import Dataset, Item
from proceval.errors import AnalysisError, HumansError, RunError
from proceval.ids import content_id
from tests.analysis.runfiles import accuracy_answerer, choice_response, rating_response, write_run
from tests.conftest import choice_item, write_dataset

CTX = AnalysisContext(seed=0, n_boot=300)


def tom_like(tmp_path: Path, n: int = 10) -> Dataset:
    items = [choice_item(s, {"belief": b, "init": i}, answer="a" if b == "true_belief" else "b")
             for s in range(n) for b in ("true_belief", "false_belief") for i in ("shown", "hidden")]
    return write_dataset(tmp_path / "ds", items, factors={"belief": ["true_belief", "false_belief"],
                                                          "init": ["shown", "hidden"]})


def scripted(correct: dict[str, list[int]]) -> Any:
    """Right or wrong per condition and scenario, exactly as listed (1 = right)."""
    counters: dict[str, int] = {}

    def answer(item: Item, rng: random.Random) -> dict[str, Any]:
        k = counters.get(item.condition_name, 0)
        counters[item.condition_name] = k + 1
        right = correct[item.condition_name][k]
        choice = item.answer if right else ("b" if item.answer == "a" else "a")
        return choice_response(item, choice, order=["a", "b"])

    return answer


def test_accuracy_counts_by_hand(tmp_path: Path) -> None:
    ds = tom_like(tmp_path, n=4)
    plan = {"true_belief_shown": [1, 1, 1, 0], "true_belief_hidden": [1, 0, 0, 0],
            "false_belief_shown": [1, 1, 0, 0], "false_belief_hidden": [0, 0, 0, 0]}
    write_run(ds, tmp_path / "run", scripted(plan))
    data = load_responses([tmp_path / "run"])
    results = run_analyses(data, ["accuracy"], CTX)
    table = results["accuracy"].tables["by_condition"].set_index("condition_name")
    for condition, answers in plan.items():
        assert table.loc[condition, "n"] == 4
        assert table.loc[condition, "accuracy"] == pytest.approx(sum(answers) / 4)
        assert table.loc[condition, "chance"] == 0.5
        assert table.loc[condition, "ci_low"] <= table.loc[condition, "accuracy"] <= table.loc[condition, "ci_high"]
    by_belief = results["accuracy"].tables["by_belief"].set_index("belief")
    assert by_belief.loc["true_belief", "accuracy"] == pytest.approx(4 / 8)
    assert by_belief.loc["false_belief", "accuracy"] == pytest.approx(2 / 8)


def test_joint_metric_by_hand(tmp_path: Path) -> None:
    ds = tom_like(tmp_path, n=4)
    # shown: scenarios 0,1 both right; scenario 2 only TB; scenario 3 only... TB wrong.
    plan = {"true_belief_shown": [1, 1, 1, 0], "false_belief_shown": [1, 1, 0, 1],
            "true_belief_hidden": [0, 0, 0, 0], "false_belief_hidden": [1, 1, 1, 1]}
    write_run(ds, tmp_path / "run", scripted(plan))
    result = run_analyses(load_responses([tmp_path / "run"]), ["joint"], CTX)["joint"]
    table = result.tables["joint"].set_index("init")
    assert result.numbers["pair_factor"] == "belief"
    assert table.loc["shown", "joint_accuracy"] == pytest.approx(0.5)
    assert table.loc["shown", "true_accuracy"] == pytest.approx(0.75)
    assert table.loc["shown", "false_accuracy"] == pytest.approx(0.75)
    assert table.loc["hidden", "joint_accuracy"] == 0.0
    assert table.loc["shown", "n_pairs"] == 4
    overall = result.numbers["overall"]["local/test-model"]
    assert overall["joint"] == pytest.approx(2 / 8) and overall["n_pairs"] == 8  # 2 of the 8 pairs both right
    assert overall["true"] == pytest.approx(3 / 8) and overall["false"] == pytest.approx(7 / 8)


def test_invalid_answers_count_as_wrong_and_failures_are_reported(tmp_path: Path) -> None:
    ds = tom_like(tmp_path, n=5)

    def answer(item: Item, rng: random.Random) -> dict[str, Any]:
        number = int(item.text.split()[2])
        if number == 0:
            return choice_response(item, None, status="invalid")
        if number == 1:
            return choice_response(item, None, status="error")
        return choice_response(item, item.answer)

    write_run(ds, tmp_path / "run", answer)
    results = run_analyses(load_responses([tmp_path / "run"]), ["accuracy", "validity"], CTX)
    overall = results["accuracy"].tables["overall"].iloc[0]
    assert (overall["n"], overall["n_invalid"], overall["n_failed"]) == (16, 4, 4)
    assert overall["accuracy"] == pytest.approx(12 / 16)
    validity = results["validity"].tables["validity"].iloc[0]
    assert (validity["ok"], validity["invalid"], validity["error"]) == (12, 4, 4)


def test_position_bias_detects_a_first_option_chooser(tmp_path: Path) -> None:
    ds = tom_like(tmp_path, n=25)

    def always_first(item: Item, rng: random.Random) -> dict[str, Any]:
        order = ["a", "b"] if rng.random() < 0.5 else ["b", "a"]
        return choice_response(item, order[0], order=order)

    write_run(ds, tmp_path / "first", always_first, subject="m/first")
    write_run(ds, tmp_path / "fair", accuracy_answerer(0.5), subject="m/fair", seed=5)
    table = run_analyses(load_responses([tmp_path / "first", tmp_path / "fair"]), ["position_bias"],
                         CTX)["position_bias"].tables["position_bias"].set_index("subject")
    assert table.loc["m/first", "share_first"] == 1.0
    assert table.loc["m/first", "p_value"] < 1e-20
    assert table.loc["m/fair", "p_value"] > 0.001


def test_calibration_by_hand(tmp_path: Path) -> None:
    ds = tom_like(tmp_path, n=3)

    def probs(item: Item, rng: random.Random) -> dict[str, Any]:
        p_right = 0.8 if item.condition["belief"] == "true_belief" else 0.4
        p = {item.answer: p_right, ("b" if item.answer == "a" else "a"): 1 - p_right}
        return choice_response(item, max(p, key=lambda k: p[k]), probs=p)

    write_run(ds, tmp_path / "run", probs, scoring="logprob")
    result = run_analyses(load_responses([tmp_path / "run"]), ["calibration"], CTX)["calibration"]
    row = result.tables["calibration"].iloc[0]
    # TB: 2·0.2² = 0.08, FB: 2·0.6² = 0.72 → mean 0.40; top option 0.8 (right) or 0.6 (wrong)
    assert row["brier"] == pytest.approx(0.40)
    assert row["mean_confidence"] == pytest.approx(0.7)
    assert row["ece"] == pytest.approx(0.5 * 0.2 + 0.5 * 0.6)


def test_ratings_on_choice_items_is_not_applicable_and_the_rest_runs(tmp_path: Path) -> None:
    ds = tom_like(tmp_path, n=3)
    write_run(ds, tmp_path / "run", accuracy_answerer(0.7))
    results = run_analyses(load_responses([tmp_path / "run"]), ["ratings", "effects", "accuracy"], CTX)
    assert results["ratings"].status == "skipped" and "no rating items" in (results["ratings"].reason or "")
    assert results["effects"].status == "skipped"
    assert results["accuracy"].status == "ok"


def test_runs_of_different_datasets_are_refused(tmp_path: Path) -> None:
    one = tom_like(tmp_path, n=3)
    other = write_dataset(tmp_path / "other", [choice_item(9, {"belief": "true_belief"})])
    write_run(one, tmp_path / "r1", accuracy_answerer(0.5))
    write_run(other, tmp_path / "r2", accuracy_answerer(0.5))
    with pytest.raises(AnalysisError, match="different datasets"):
        load_responses([tmp_path / "r1", tmp_path / "r2"])


def test_corrupt_run_line_names_file_and_line(tmp_path: Path) -> None:
    ds = tom_like(tmp_path, n=2)
    run = write_run(ds, tmp_path / "run", accuracy_answerer(0.5))
    with (run / "responses.jsonl").open("a") as f:
        f.write("{not json\n")
    with pytest.raises(RunError, match=r"responses.jsonl:9"):
        load_responses([run])


def test_unknown_analysis_lists_the_known_ones(tmp_path: Path) -> None:
    ds = tom_like(tmp_path, n=2)
    write_run(ds, tmp_path / "run", accuracy_answerer(0.5))
    with pytest.raises(AnalysisError, match=r"known analyses: .*accuracy"):
        run_analyses(load_responses([tmp_path / "run"]), ["acuracy"], CTX)


def rating_dataset(tmp_path: Path, scenarios: int = 12) -> Dataset:
    items = []
    for s in range(scenarios):
        sid = content_id("scenario", s)
        for structure in ("means", "side_effect"):
            items.append(Item(id=content_id("moral", sid, structure), template="moral", scenario_id=sid,
                              condition={"structure": structure}, condition_name=structure,
                              question_name="permissible", text=f"Dilemma {s} ({structure}).",
                              question="It was morally permissible.",
                              response={"type": "rating", "scale": {"min": 1, "max": 5, "labels": {}}},
                              answer=None))
    return write_dataset(tmp_path / "moral", items, template="moral", factors={"structure": ["means", "side_effect"]})


def test_human_comparison_and_rating_effects(tmp_path: Path) -> None:
    ds = rating_dataset(tmp_path)
    rng = random.Random(4)
    rows = []
    for p in range(30):
        bias = rng.choice([0, 1])  # with noise ±1 every answer stays inside 1..5: the effect is exactly 1
        for item in ds.items:
            base = 2 if item.condition["structure"] == "means" else 3
            rows.append({"participant": f"P{p}", "item_id": item.id,
                         "response": str(base + bias + rng.choice([-1, 0, 0, 1])), "rt_ms": "1200"})
    rows.append({"participant": "P0", "item_id": "no-such-item", "response": "3", "rt_ms": ""})
    rows.append({"participant": "P1", "item_id": ds.items[0].id, "response": "seven", "rt_ms": ""})
    humans = tmp_path / "humans.csv"
    pd.DataFrame(rows).to_csv(humans, index=False)

    def model(item: Item, rng: random.Random) -> dict[str, Any]:
        return rating_response(item, 2.5 if item.condition["structure"] == "means" else 3.5)

    write_run(ds, tmp_path / "run", model, subject="m/rater", scoring="logprob")
    data = load_responses([tmp_path / "run"], humans=humans)
    assert data.human_stats["unknown_items"] == 1 and data.human_stats["invalid"] == 1
    results = run_analyses(data, ["ratings", "effects", "humans"], CTX)
    means = results["ratings"].tables["by_structure"].set_index(["subject", "structure"])
    assert means.loc[("humans", "means"), "mean"] == pytest.approx(2.5, abs=0.3)
    assert means.loc[("m/rater", "side_effect"), "mean"] == pytest.approx(3.5)
    effects = results["effects"].tables["effects"].set_index("subject")
    human_effect = effects.loc["humans"]
    assert human_effect["term"] == "structure: side_effect vs means"
    assert human_effect["ci_low"] < 1.0 < human_effect["ci_high"]
    assert human_effect["p"] < 1e-10
    assert "crossed random intercepts" in human_effect["model"]
    corr = results["humans"].tables["rating_correlation"].iloc[0]
    assert corr["n_items"] == len(ds.items) and corr["r"] > 0.9
    alpha = results["humans"].tables["krippendorff_alpha"].iloc[0]
    # item variance 0.25 (the effect of 1 on half the items) vs rater variance 0.25 + 0.5: alpha ≈ 0.25
    assert alpha["level"] == "interval" and 0.15 < alpha["alpha"] < 0.35


def test_human_table_without_required_columns(tmp_path: Path) -> None:
    ds = tom_like(tmp_path, n=2)
    write_run(ds, tmp_path / "run", accuracy_answerer(0.5))
    bad = tmp_path / "h.csv"
    bad.write_text("worker,item,answer\n1,x,a\n")
    with pytest.raises(HumansError, match="missing column"):
        load_responses([tmp_path / "run"], humans=bad)


def test_accuracy_table_on_plain_frames_is_deterministic(tmp_path: Path) -> None:
    ds = tom_like(tmp_path, n=6)
    write_run(ds, tmp_path / "run", accuracy_answerer(0.6))
    frame = load_responses([tmp_path / "run"]).frame
    first = accuracy_table(frame, ["condition_name"], seed=7, n_boot=200)
    again = accuracy_table(frame, ["condition_name"], seed=7, n_boot=200)
    pd.testing.assert_frame_equal(first, again)
    # counted from the run file itself, not through the analysis code
    answers: dict[str, list[bool]] = {}
    for line in (tmp_path / "run" / "responses.jsonl").read_text().splitlines():
        row = json.loads(line)
        answers.setdefault(row["condition_name"], []).append(row["correct"])
    records = json.loads(first.to_json(orient="records"))  # plain numbers: the table survives JSON
    assert len(records) == len(answers) == 4
    for record in records:
        right = answers[record["condition_name"]]
        assert (record["n"], record["correct"]) == (len(right), sum(right))
        assert record["accuracy"] == pytest.approx(sum(right) / len(right))
        assert record["ci_low"] <= record["accuracy"] <= record["ci_high"]


def test_two_runs_of_one_model_are_two_subjects(tmp_path: Path) -> None:
    """One model under two prompts is two rows of every table, labelled by run, never pooled."""
    ds = tom_like(tmp_path, n=4)
    right = {c: [1, 1, 1, 1] for c in ("true_belief_shown", "true_belief_hidden", "false_belief_shown",
                                       "false_belief_hidden")}
    wrong = {c: [0, 0, 0, 0] for c in right}
    write_run(ds, tmp_path / "zero-shot", scripted(right))
    write_run(ds, tmp_path / "cot", scripted(wrong), strategy="cot")
    write_run(ds, tmp_path / "other", scripted(right), subject="local/other-model")
    data = load_responses([tmp_path / "zero-shot", tmp_path / "cot", tmp_path / "other"])
    assert data.subjects() == ["local/test-model [zero-shot]", "local/test-model [cot]", "local/other-model"]
    numbers = run_analyses(data, ["accuracy"], CTX)["accuracy"].numbers["overall"]
    assert numbers["local/test-model [zero-shot]"]["accuracy"] == 1.0
    assert numbers["local/test-model [cot]"]["accuracy"] == 0.0
    assert numbers["local/other-model"]["accuracy"] == 1.0


def test_a_parquet_human_table_reads_like_the_same_csv(tmp_path: Path) -> None:
    """Parquet keeps types (integer participants and times, a missing answer as null): the rows must come out as
    from the CSV with the same content, and the accuracy is the share of right answers counted by hand."""
    ds = tom_like(tmp_path, n=3)
    write_run(ds, tmp_path / "run", accuracy_answerer(0.5))
    rows = []
    for participant in (1, 2, 3):
        for k, item in enumerate(ds.items):
            wrong = "b" if item.answer == "a" else "a"
            answer = None if (participant, k) == (3, 0) else item.answer if (k + participant) % 3 else wrong
            rows.append({"participant": participant, "item_id": item.id, "response": answer, "rt_ms": 800 + k})
    table = pd.DataFrame(rows)
    table.to_parquet(tmp_path / "h.parquet", index=False)
    table.fillna("").to_csv(tmp_path / "h.csv", index=False)
    from_parquet = load_responses([tmp_path / "run"], humans=tmp_path / "h.parquet")
    from_csv = load_responses([tmp_path / "run"], humans=tmp_path / "h.csv")
    humans = [frame[frame["subject"] == "humans"].reset_index(drop=True)
              for frame in (from_parquet.frame, from_csv.frame)]
    pd.testing.assert_frame_equal(humans[0], humans[1])
    assert from_parquet.human_stats["invalid"] == from_csv.human_stats["invalid"] == 1
    answered = [r for r in rows if r["response"] is not None]
    key = {item.id: item.answer for item in ds.items}
    accuracy = run_analyses(from_parquet, ["accuracy"], CTX)["accuracy"].numbers["overall"]["humans"]
    assert accuracy["n"] == len(rows)  # an empty answer counts, as wrong
    assert accuracy["accuracy"] == pytest.approx(sum(r["response"] == key[r["item_id"]] for r in answered) / len(rows))
