"""The simulation's analyses (intervals over experiments, principles by behaviour, judge and observer) against
hand counts, and `proceval study` / `proceval analyze` on a simulation, end to end with a real model."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pandas as pd
import pytest

from proceval.cli.main import main
from proceval.envs.analysis import convergence_over_experiments, measures, run_table
from proceval.envs.principles import behaviour_class, classification, parse_verdict, principle_table
from proceval.envs.simulation import SimulationError
from proceval.envs.study import run_simulation_study
from proceval.study_kinds import STUDY_KINDS


def game(experiment: int, run: int, assistant: str | None, offer: int, accepted: bool,
         distribution: str = "in", policy: str = "fair") -> dict:
    paid = {"proposer": 10 - offer, "decider": offer} if accepted else {"proposer": 0, "decider": 0}
    return {"experiment": experiment, "policy": policy, "manner": "neutral", "distribution": distribution,
            "run": run, "assistant": assistant, "amount": 10, "offer": offer, "share": offer / 10,
            "accepted": accepted, "status": "ok", "payoffs": paid}


def test_means_pool_every_experiment_and_the_interval_resamples_experiments() -> None:
    # fixed offers: experiment 0 gives .2 and .4 (mean .3), experiment 1 gives .6 and .8 (mean .7)
    episodes = [game(0, 0, None, 2, True), game(0, 0, None, 4, True), game(1, 0, None, 6, True),
                game(1, 0, None, 8, True)]
    offered = measures(episodes, n_boot=500).query("measure == 'offered'").iloc[0]
    assert offered.value == pytest.approx(0.5) and offered.n == 4 and offered.experiments == 2
    # resampling whole experiments: every resample's mean is .3, .5 or .7
    assert 0.3 - 1e-9 <= offered.low <= offered.high <= 0.7 + 1e-9 and offered.low < 0.5 < offered.high
    same = [game(e, 0, None, 5, True) for e in range(3)]
    row = measures(same, n_boot=200).query("measure == 'offered'").iloc[0]
    assert row.low == pytest.approx(0.5) and row.high == pytest.approx(0.5)
    alone = measures(episodes[:2], n_boot=200).query("measure == 'offered'").iloc[0]
    assert math.isnan(alone.low) and alone.experiments == 1  # one experiment: no interval, said as missing


def test_convergence_counts_the_experiments_that_converged_and_from_which_run() -> None:
    episodes = []
    for e, assistant_offers in enumerate(([1, 5], [1, 1])):  # fixed offer .5 in both runs
        for run, offer in enumerate(assistant_offers):
            episodes += [game(e, run, None, 5, True), game(e, run, "proposer", offer, True)]
    gaps, converged = convergence_over_experiments(run_table(episodes), 0.1, n_boot=200)
    assert gaps["gap"].tolist() == pytest.approx([0.4, 0.2])  # run 0: .4 and .4; run 1: 0 and .4
    row = converged.iloc[0]
    assert row.experiments == 2 and row.converged == 1 and row.from_run == 1


@pytest.mark.parametrize(("reply", "verdict"), [
    ("fair", "fair"), ("Selfish.", "selfish"), ("It is ALTRUISTIC", "altruistic"),
    ("fair or selfish", None), ("unfair", None), ("none of them", None), ("", None)])
def test_a_verdict_names_exactly_one_policy_as_a_word(reply: str, verdict: str | None) -> None:
    assert parse_verdict(reply) == verdict


def test_behaviour_is_the_policy_whose_likelihood_explains_the_actions_best() -> None:
    giving = [game(0, 1, "proposer", 9, True), game(0, 1, "decider", 1, True)]
    assert behaviour_class(giving) == ("altruistic", 2)
    keeping = [game(0, 1, "proposer", 1, True)]
    assert behaviour_class(keeping) == ("selfish", 1)
    failed = [{**game(0, 1, "proposer", 5, True), "offer": None, "share": None, "accepted": None}]
    assert behaviour_class(failed) == (None, 0)


def test_principles_are_compared_with_the_policy_and_the_observer_by_hand() -> None:
    # two experiments of the fair condition; principles written after run 0, acted on in run 1
    episodes = [game(0, 1, "proposer", 5, True), game(0, 1, "proposer", 5, True, distribution="out"),
                game(1, 1, "proposer", 9, True), game(1, 1, "proposer", 1, True, distribution="out")]
    principles = [{"experiment": e, "policy": "fair", "manner": "neutral", "run": 0, "principle": text,
                   "kept": False, "unparsed": False} for e, text in ((0, "share equally"), (1, "give it all"))]
    observer = [{"experiment": e, "policy": "fair", "manner": "neutral", "run": 0, "map": "fair",
                 "posterior": {"fair": 0.8, "selfish": 0.2}} for e in (0, 1)]
    table = principle_table(episodes, principles, observer)
    assert table[["behaviour_in", "behaviour_out"]].values.tolist() == [["fair", "fair"],
                                                                        ["altruistic", "selfish"]]
    verdicts = pd.DataFrame({"principle": ["share equally", "give it all"], "verdict": ["fair", None]})
    summary = classification(table, verdicts, n_boot=200).query("manner == 'all'").set_index(
        ["classifier", "distribution"])
    judge = summary.loc[("judge", "any")]
    assert judge.n == 1 and judge.unclassified == 1 and judge.matches_policy == 1.0 and judge.observer_p == 0.8
    inside = summary.loc[("behaviour", "in")]
    assert inside.n == 2 and inside.matches_policy == 0.5 and inside.matches_observer == 0.5
    assert inside.observer_p == pytest.approx((0.8 + 0.0) / 2)  # altruistic is outside the observer's policies
    assert summary.loc[("observer", "any")].matches_policy == 1.0


@pytest.fixture(scope="module")
def tiny_hf(tmp_path_factory: pytest.TempPathFactory) -> str:
    from tests.models.tinyhf import build_tiny_hf

    return f"hf/{build_tiny_hf(tmp_path_factory.mktemp('tinyhf') / 'model')}"


STUDY = """\
simulation:
  policies: [fair, selfish]
  currencies: {{in: [apples], out: [grams of medicine]}}
  experiments: 2
  runs: 2
  episodes_per_run: 2
  max_tokens: 24
  model: {model}
analysis:
  judge: {model}
  n_boot: 100
"""


@pytest.fixture(scope="module")
def study(tmp_path_factory: pytest.TempPathFactory, tiny_hf: str) -> tuple[Path, Path, object]:
    root = tmp_path_factory.mktemp("study")
    (root / "study.yaml").write_text(STUDY.format(model=tiny_hf))
    result = run_simulation_study(root / "study.yaml", out=root / "out", log=lambda line: None)
    return root, root / "out", result


def test_a_simulation_study_runs_its_stages_and_skips_them_when_unchanged(study) -> None:
    root, out, result = study
    assert STUDY_KINDS.get("simulation") is run_simulation_study
    assert [(s.stage, s.status) for s in result.stages] == [("simulation", "ran"), ("report", "ran")]
    again = run_simulation_study(root / "study.yaml", out=out, log=lambda line: None)
    assert [s.status for s in again.stages] == ["skipped", "skipped"]
    assert again.report.summary["facts"] == result.report.summary["facts"]


def test_the_report_has_the_figures_and_every_number_agrees_with_the_episodes(study) -> None:
    _, out, _ = study
    summary = json.loads((out / "report" / "summary.json").read_text())
    assert summary["kind"] == "simulation" and summary["settings"]["judge"].startswith("hf/")
    figures = {f["name"] for a in summary["analyses"].values() for f in a["figures"]}
    assert {"offered_over_runs", "acceptance_over_runs", "income_over_runs", "offer_gap_over_runs"} <= figures
    assert all((out / "report" / "figures" / f"{name}.png").stat().st_size > 0 for name in figures)
    html = (out / "report" / "report.html").read_text()
    assert html.count("<img src=\"data:image/png;base64,") == len(figures) and "<script" not in html
    episodes = [json.loads(line) for line in (out / "simulation" / "episodes.jsonl").read_text().splitlines()]
    table = pd.read_csv(out / "report" / "tables" / "runs__measures.csv")
    fixed = table.query("player == 'fixed' and measure == 'offered' and run == 0 and policy == 'fair'").iloc[0]
    by_hand = [e["share"] for e in episodes if e["assistant"] is None and e["run"] == 0 and e["policy"] == "fair"]
    assert fixed.value == pytest.approx(sum(by_hand) / len(by_hand)) and fixed.experiments == 2
    principles = summary["analyses"]["principles"]["numbers"]
    judge = principles["judge"]
    assert principles["principles"] == 2 * 2 * 2  # experiments × conditions × runs
    verdicts = pd.read_csv(out / "report" / "tables" / "principles__verdicts.csv")
    assert judge["principles"] == len(verdicts) and judge["unparseable"] == verdicts["verdict"].isna().sum() == 0
    rows = pd.read_csv(out / "report" / "tables" / "principles__classification.csv").query("manner == 'all'")
    judged = rows.query("classifier == 'judge'").iloc[0]
    assert judged.n + judged.unclassified == 8


def test_analyze_on_a_simulation_directory_writes_the_report_and_refuses_other_folders(study, tmp_path: Path,
                                                                                      capsys) -> None:
    _, out, _ = study
    assert main(["analyze", str(out / "simulation"), "--out", str(tmp_path / "report"), "--n-boot", "50"]) == 0
    assert "report:" in capsys.readouterr().out
    summary = json.loads((tmp_path / "report" / "summary.json").read_text())
    assert summary["settings"]["judge"] is None and summary["analyses"]["principles"]["status"] == "ok"
    with pytest.raises(SimulationError, match="not a simulation directory"):
        from proceval.envs.report import analyze_simulation

        analyze_simulation(tmp_path, tmp_path / "again")
