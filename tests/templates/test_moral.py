"""The moral-dilemma template (OffTheRails design): conditions, the published import, the lexicon."""

from __future__ import annotations

import json
from pathlib import Path

from proceval.cli.main import main
from proceval.generate import generate
from proceval.templates import load_template
from tests.conftest import DATA

OTR = DATA / "offtherails"
MILD = [OTR / "cc_stage_2_mild.csv", OTR / "coc_stage_2_mild.csv"]
SEVERE = [OTR / "cc_stage_2_severe.csv", OTR / "coc_stage_2_severe.csv"]


def test_eight_conditions_show_the_right_sentences() -> None:
    template = load_template("moral")
    assert len(template.conditions) == 8
    shown = {c.name: [template.spec.story[i].name for i in c.segments] for c in template.conditions}
    assert shown["means_evitable_action"] == ["context", "opportunity", "structure", "evitable_action", "action"]
    assert shown["side_effect_inevitable_omission"] == [
        "context_side", "colleague_opportunity", "structure_side", "inevitable_prevention", "prevention"]
    for condition in template.conditions:
        assert [template.spec.questions[q].name for q, _ in condition.questions] == ["permissibility", "intention"]


def test_mild_import_gives_50_scenarios_and_reports_malformed_rows(tmp_path: Path) -> None:
    out = tmp_path / "mild"
    ds = generate("moral", out=out, from_files=MILD, progress=False)
    m = ds.manifest
    # 50 scenarios × 8 conditions = 400 trials; each trial asks two questions → 800 items, 400 per question
    assert m.n_scenarios == 50 and m.n_items == 800
    assert m.counts_per_question == {"permissibility": 400, "intention": 400}
    assert m.counts_per_condition == {c: 100 for c in m.conditions}
    assert m.skipped == []
    # the two malformed rows of the released cc file (17 and 25 fields) are recovered and reported
    assert [(Path(r.file or "").name, r.line) for r in m.recovered] == [("cc_stage_2_mild.csv", 20),
                                                                         ("cc_stage_2_mild.csv", 46)]
    assert "found 17" in m.recovered[0].reason and "text of another row" in m.recovered[0].reason
    assert "found 25" in m.recovered[1].reason and "copy of this row" in m.recovered[1].reason
    aiden = next(s for s in ds.scenarios if s.source["record"] == 20)
    assert aiden.variables["m_external_cause"].endswith("leading to the same temporary water cut-off.")
    assert aiden.variables["m_structure"].startswith("As a means to ensure a more efficient water supply")
    # scenario k of the human study is record k+1: the text the participants read is what we render
    maya = next(i for i in ds.items if i.condition_name == "means_inevitable_omission"
                and i.question_name == "permissibility" and i.text.startswith("Maya"))
    assert maya.text.endswith("Maya does not prevent her colleague's park renovation.")
    assert "would still happen because of a city mandate for construction." in maya.text
    assert maya.response["scale"]["labels"]["1"] == "strongly disagree"


def test_severe_import_through_the_cli(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "severe"
    code = main(["generate", "moral", "--from", str(SEVERE[0]), "--from", str(SEVERE[1]), "--out", str(out)])
    assert code == 0
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["n_scenarios"] == 10 and manifest["n_items"] == 160
    assert manifest["counts_per_question"] == {"permissibility": 80, "intention": 80}


def test_lexicon_fills_coherent_dilemmas(tmp_path: Path) -> None:
    ds = generate("moral", out=tmp_path / "lex", n=24, seed=1, progress=False)
    assert ds.manifest.n_scenarios == 24 and ds.manifest.n_items == 24 * 16
    for scenario in ds.scenarios:
        v = scenario.variables
        assert v["m_context"].startswith(v["agent"] + ", ")
        assert v["m_structure"].startswith("As a means to ") and v["s_structure"].startswith("As a side effect of ")
    for item in ds.items:
        assert "{{" not in item.text
        agent = next(s.variables["agent"] for s in ds.scenarios if s.id == item.scenario_id)
        assert agent in item.question
