"""The reasoning analyses on hand-made runs: accuracy cells, soundness and content effects equal the values
counted by hand from the answers written."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pytest

from proceval.analysis import analyze
from proceval.dataset import Item
from proceval.generate import generate
from tests.analysis.runfiles import choice_response, write_run


def answerer(right_on: set[str], steps: tuple[int, int]) -> Any:
    """Right on items whose ontology is in ``right_on``, wrong elsewhere; each answer claims ``steps``
    (inference steps, valid ones)."""

    def answer(item: Item, rng: random.Random) -> dict[str, Any]:
        ok = item.condition["ontology"] in right_on
        choice = item.answer if ok else ("false" if item.answer == "true" else "true")
        return {**choice_response(item, choice), "status": "ok",
                "logic": {"condition": "x", "answer": choice, "certified": ok, "inferences": steps[0],
                          "valid_inferences": steps[1], "soundness": None, "block_errors": 0, "attempts": 1}}

    return answer


def test_accuracy_soundness_and_content_effect_by_hand(tmp_path: Path) -> None:
    ds = generate("prontoqa", out=tmp_path / "pq", n=12, seed=0, progress=False,
                  options={"hops": "1,2", "ontology": "true,false"})
    write_run(ds, tmp_path / "cot", answerer({"true"}, (3, 2)), strategy="cot")  # swayed by content
    write_run(ds, tmp_path / "formalised", answerer({"true", "false"}, (2, 2)), strategy="guided-formalised")
    report = analyze([tmp_path / "cot", tmp_path / "formalised"], out=tmp_path / "report", n_boot=200,
                     analyses=["reasoning_accuracy", "soundness", "content_effect"], progress=False)
    cells = report.results["reasoning_accuracy"].tables["by_cell"]
    assert len(cells) == 2 * 2 * 2 and set(cells["n"]) == {3}  # 12 items in 4 cells, per condition
    cot = cells[cells["condition"] == "cot"]
    assert list(cot.sort_values("ontology")["accuracy"]) == [0.0, 0.0, 1.0, 1.0]  # false, false, true, true
    sound = report.results["soundness"].tables["soundness"].set_index("condition")
    assert sound.loc["cot", "inference_steps"] == 36 and sound.loc["cot", "soundness"] == pytest.approx(24 / 36)
    assert sound.loc["guided-formalised", "soundness"] == 1.0
    effect = report.results["content_effect"].tables["content_effect"].set_index("condition")
    assert effect.loc["cot", "effect"] == 1.0 and effect.loc["guided-formalised", "effect"] == 0.0
    assert effect.loc["cot", "n_plus"] == 6 and effect.loc["cot", "n_minus"] == 6
    assert any("ablation" in note for note in report.results["content_effect"].notes)
