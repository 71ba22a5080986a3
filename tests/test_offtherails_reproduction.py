"""Reproduce the published OffTheRails human findings (experiment 2) from the released data.

Every figure is computed from the released data shipped in examples/offtherails; anchors.md's raw means are only compared with, never used.
"""

from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path

import pandas as pd
import pytest

from proceval.analysis.data import load_responses
from proceval.analysis.effects import mixed_effects
from proceval.analysis.ratings import rating_means, rating_rows
from proceval.generate import generate
from proceval.humans.data import import_humans
from proceval.study import load_study
from tests.conftest import DATA, REPO

OTR = DATA / "offtherails"
EXAMPLE = REPO / "examples" / "offtherails"

# (question, factor) → (level, level, mean, mean) from anchors.md (raw means of the paper)
PUBLISHED = {
    ("permissibility", "structure"): ("means", 4.04, "side_effect", 4.11),
    ("permissibility", "evitability"): ("evitable", 3.95, "inevitable", 4.20),
    ("permissibility", "action"): ("action", 4.13, "omission", 4.02),
    ("intention", "structure"): ("means", 2.30, "side_effect", 2.09),
    ("intention", "evitability"): ("evitable", 2.36, "inevitable", 2.03),
    ("intention", "action"): ("action", 2.21, "omission", 2.18),
}


@pytest.fixture(scope="module")
def human_rows(tmp_path_factory: pytest.TempPathFactory) -> pd.DataFrame:
    root = tmp_path_factory.mktemp("otr")
    dataset = generate("moral", out=root / "ds", from_files=[OTR / "cc_stage_2_mild.csv",
                                                              OTR / "coc_stage_2_mild.csv"], progress=False)
    # the released ratings (shipped in examples/offtherails) with the example's mapping beside them
    shutil.copy(OTR / "human_exp2_ratings.csv", root / "ratings.csv")
    shutil.copy(EXAMPLE / "human_exp2_ratings.mapping.yaml", root / "ratings.mapping.yaml")
    imported = import_humans(root / "ratings.csv", dataset)
    assert imported.stats["rows"] == 1840 and imported.stats["answers"] == 3680
    assert imported.stats["unmatched"] == 0 and imported.stats["participants"] == 115
    assert imported.stats["items"] == 160  # 10 scenarios × 8 conditions × 2 questions
    data = load_responses([], dataset=dataset.path, humans=root / "ratings.csv")
    return rating_rows(data.frame).rename(columns={"scenario_id": "scenario"})


@pytest.mark.parametrize(("question", "factor"), list(PUBLISHED))
def test_raw_means_equal_the_published_ones(human_rows: pd.DataFrame, question: str, factor: str) -> None:
    part = human_rows[human_rows["question_name"] == question]
    table = rating_means(part, [factor], value="value", n_boot=200).set_index(factor)
    low_level, low_mean, high_level, high_mean = PUBLISHED[(question, factor)]
    assert round(float(table.loc[low_level, "mean"]), 2) == low_mean
    assert round(float(table.loc[high_level, "mean"]), 2) == high_mean
    assert int(table["n"].sum()) == 1840


def test_mixed_model_effects_have_the_published_directions(human_rows: pd.DataFrame) -> None:
    effects = {}
    for question in ("permissibility", "intention"):
        part = human_rows[human_rows["question_name"] == question]
        table = mixed_effects(part, response="value", factors=["structure", "evitability", "action"],
                              reference={"structure": "means", "evitability": "evitable", "action": "action"})
        assert table.attrs["groups"] == ["participant", "scenario"]
        effects[question] = table.set_index("factor")
    perm, intent = effects["permissibility"], effects["intention"]
    # harm as a means and evitable harm lower permissibility and raise intention (vs side effect, inevitable)
    assert perm.loc["structure", "estimate"] > 0 and perm.loc["structure", "p"] < 0.05
    assert perm.loc["evitability", "estimate"] > 0 and perm.loc["evitability", "p"] < 0.05
    assert intent.loc["structure", "estimate"] < 0 and intent.loc["structure", "p"] < 0.05
    assert intent.loc["evitability", "estimate"] < 0 and intent.loc["evitability", "p"] < 0.05
    # action vs omission: no clear effect on intention, and the smallest effect on both questions
    assert intent.loc["action", "p"] > 0.05
    for table in (perm, intent):
        assert abs(table.loc["action", "estimate"]) < abs(table.loc["evitability", "estimate"])


def test_example_study_file_is_valid_and_self_contained() -> None:
    loaded = load_study(EXAMPLE / "study.yaml")
    study = loaded.study
    assert study.dataset.template == "moral"
    assert {s.scoring for s in study.subjects} == {"logprob", "generate"}
    for name in ("cc_stage_2_mild.csv", "coc_stage_2_mild.csv", "human_exp2_ratings.csv"):
        assert (EXAMPLE / name).read_bytes() == (OTR / name).read_bytes()


@pytest.mark.skipif(importlib.util.find_spec("llama_cpp") is None,
                    reason="llama-cpp-python is not installed (the embedded model needs it)")
def test_embedded_model_rates_a_few_items_both_ways(tmp_path: Path) -> None:
    from proceval.run import run_dataset

    dataset = generate("moral", out=tmp_path / "ds", from_files=[OTR / "cc_stage_2_mild.csv",
                                                                  OTR / "coc_stage_2_mild.csv"], progress=False)
    for scoring in ("logprob", "generate"):
        run = run_dataset(dataset, "local/smollm2-135m", tmp_path / scoring, scoring=scoring, limit=2,
                          progress=False)
        assert run is not None
        data = load_responses([tmp_path / scoring], dataset=dataset.path)
        rows = rating_rows(data.frame)
        assert len(rows) == 2
        if scoring == "logprob":
            assert rows["expected_rating"].between(1, 5).all()
        else:
            assert (rows["rating"].dropna().between(1, 5)).all()
