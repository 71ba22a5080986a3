"""The Stream of Search study kind: every stage runs once (generate, search, two trainings on the same problems,
held-out runs, a STaR round, the search analysis), a rerun skips them all; STaR keeps only verified streams;
the search analysis counts a stream as solved when the verifier's score is above 0, with Wilson intervals."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from proceval.analysis import analyze
from proceval.cli.main import main
from proceval.errors import StudyError
from proceval.generate import generate
from proceval.run import run_dataset
from proceval.tasks.countdown.search import run_strategy
from proceval.train.star import _accepted

STUDY = """\
sos:
  name: tiny-check
  data: {inputs: 3, n: 40}
  train: {max_steps: 2, batch_size: 4, max_length: 512}
  evaluate: {split: val, limit: 2, max_tokens: 6}
  star: {rounds: 1, problems: 2}
"""


def test_the_study_runs_every_stage_once_and_compares_the_texts(tmp_path: Path) -> None:
    study = tmp_path / "study.yaml"
    study.write_text(STUDY, encoding="utf-8")
    assert main(["study", str(study), "--out", str(tmp_path / "out")]) == 0
    out = tmp_path / "out"
    sos, optimal = (json.loads((out / "models" / m / "train.json").read_text()) for m in ("sos", "optimal"))
    assert sos["settings"]["text"] == "stream" and optimal["settings"]["text"] == "optimal"
    assert sos["counts"] == {**optimal["counts"], "tokens": sos["counts"]["tokens"]}  # the same problems
    star = json.loads((out / "models" / "sos-star" / "star.json").read_text())
    assert [r["problems"] for r in star["rounds"]] == [2]
    summary = json.loads((out / "report" / "summary.json").read_text())
    assert summary["analyses"]["search"]["status"] == "ok"
    # the held-out runs decoded in worker processes (two at once) answer as a run in this process does
    here = run_dataset(out / "data", f"hf/{out / 'models' / 'sos'}", tmp_path / "here", split="val", limit=2,
                       max_tokens=6, progress=False)
    assert _answers(here.path) == _answers(out / "runs" / "sos")
    stamp = (out / "models" / "sos" / "model.safetensors").stat().st_mtime_ns
    assert main(["study", str(study), "--out", str(out)]) == 0
    state = json.loads((out / "sos-state.json").read_text())
    assert list(state) == ["generate", "search", "train-sos", "train-optimal", "run-sos", "run-optimal", "star",
                           "run-sos-star", "analyze"]
    assert (out / "models" / "sos" / "model.safetensors").stat().st_mtime_ns == stamp
    study.write_text(STUDY.replace("sos:\n", "sos:\n  modle: tiny\n"), encoding="utf-8")
    with pytest.raises(StudyError, match="modle"):
        from proceval.train.experiment import load_sos_study
        load_sos_study(study)


def _answers(run: Path) -> list[dict[str, object]]:
    rows = [json.loads(line) for line in (run / "responses.jsonl").read_text().splitlines()]
    return sorted(({k: v for k, v in r.items() if k != "latency_s"} for r in rows), key=lambda r: str(r["item_id"]))


def test_star_keeps_what_the_verifier_accepts_and_the_analysis_counts_score_above_zero(tmp_path: Path) -> None:
    data = generate("countdown", out=tmp_path / "data", n=30, seed=0, options={"inputs": "3"}, progress=False)
    runs = {s: run_dataset(data, None, tmp_path / s, solver=f"countdown-{s}", split="train", progress=False)
            for s in ("bfs1-sum", "dfs-sum")}
    items = data.item_map()
    train = [i for i in data.items if i.condition_name == "train"]
    by_hand = {i.id for i in train if run_strategy("bfs1-sum", i.metadata["target"], i.metadata["numbers"]).solved}
    accepted, solved, answered = _accepted(runs["bfs1-sum"].path, items)
    assert solved == by_hand and answered == len(train) and 0 < len(by_hand) < len(train)
    assert all(run_strategy("bfs1-sum", a["target"], a["numbers"]).stream == a["stream"] for a in accepted)

    report = analyze([r.path for r in runs.values()], out=tmp_path / "report", analyses=["search"])
    table = report.results["search"].tables["by_split"].set_index("subject")
    k, n = len(by_hand), len(train)
    assert table.loc["program/countdown-bfs1-sum", "solved"] == k and table.loc["program/countdown-bfs1-sum", "n"] == n
    # Wilson interval by hand: (p + z²/2n ± z·sqrt(p(1-p)/n + z²/4n²)) / (1 + z²/n), z = 1.959964
    z, p = 1.959964, k / n
    centre, half = (p + z * z / (2 * n)) / (1 + z * z / n), z * (p * (1 - p) / n + z * z / (4 * n * n)) ** 0.5 / (
        1 + z * z / n)
    assert table.loc["program/countdown-bfs1-sum", "ci_low"] == pytest.approx(centre - half, abs=1e-5)
    assert table.loc["program/countdown-bfs1-sum", "ci_high"] == pytest.approx(centre + half, abs=1e-5)
    strategies = report.results["search"].tables["by_strategy"]
    assert strategies[strategies["subject"] == "program/countdown-dfs-sum"]["resembles"].tolist() == ["dfs-sum"]


def test_a_mistyped_key_in_the_sos_section_is_named_with_its_line(tmp_path: Path) -> None:
    from proceval.errors import StudyError
    from proceval.train.experiment import load_sos_study

    file = tmp_path / "study.yaml"
    file.write_text("# an sos study\nsos:\n  model: tiny\n  train:\n    epocs: 2\n", encoding="utf-8")
    with pytest.raises(StudyError) as caught:
        load_sos_study(file)
    error = caught.value
    assert error.line == 5 and error.field == "sos.train.epocs" and "'epochs'" in (error.hint or "")
