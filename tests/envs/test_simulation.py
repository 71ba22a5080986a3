"""Simulation files and `proceval simulate`: outputs, the observer, bad input, model players, resuming."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from proceval.cli.main import main
from proceval.envs.simulation import SimulationError, load_spec, simulate
from proceval.models import load_model

REPO = Path(__file__).resolve().parents[2]

SCRIPTED = """\
policies: [selfish, altruistic]
manners: [neutral, rude]
currencies:
  in: [apples, blankets]
  out: [grams of medicine]
runs: 3
episodes_per_run: 6
model: null
seed: 7
"""


def _jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_a_scripted_simulation_writes_every_episode_and_the_observer_finds_the_policy(tmp_path: Path,
                                                                                      capsys) -> None:
    (tmp_path / "sim.yaml").write_text(SCRIPTED)
    assert main(["simulate", str(tmp_path / "sim.yaml"), "--out", str(tmp_path / "out")]) == 0
    assert "72 episodes (0 failed" in capsys.readouterr().out  # 2 policies × 2 manners × 3 runs × 6
    episodes = _jsonl(tmp_path / "out" / "episodes.jsonl")
    assert len(episodes) == 72 and all(e["status"] == "ok" and e["assistant"] is None for e in episodes)
    assert {e["currency"] for e in episodes} == {"apples", "blankets"}  # out-of-distribution: the assistant's only
    for e in episodes:
        calls = [s for s in e["trajectory"] if s["kind"] == "call"]
        assert [c["agent"] for c in calls] == ["proposer", "decider"] and all(c["prompt"] and c["reply"] for c in calls)
        assert e["payoffs"] == ({"proposer": e["amount"] - e["offer"], "decider": e["offer"]} if e["accepted"]
                                else {"proposer": 0, "decider": 0})
    observer = _jsonl(tmp_path / "out" / "observer.jsonl")
    assert len(observer) == 12 and all(sum(o["posterior"].values()) == pytest.approx(1) for o in observer)
    assert all(o["map"] == o["policy"] for o in observer if o["run"] == 2)
    summary = json.loads((tmp_path / "out" / "simulation.json").read_text())
    assert summary["status"] == "complete" and summary["episodes"] == 72 and summary["turns"] == 144
    assert not (tmp_path / "out" / "calls.sqlite").exists()
    import pandas as pd

    runs = pd.read_csv(tmp_path / "out" / "runs.csv")
    assert len(runs) == 12 and set(runs.player) == {"fixed"}  # 2 policies × 2 manners × 3 runs
    by_policy = runs.groupby("policy").offered.mean()
    assert by_policy["selfish"] < 0.3 < 0.7 < by_policy["altruistic"]
    again = tmp_path / "again"
    simulate(load_spec(tmp_path / "sim.yaml"), again)
    assert (again / "episodes.jsonl").read_text() == (tmp_path / "out" / "episodes.jsonl").read_text()


@pytest.mark.parametrize(("text", "line", "needle"), [
    (SCRIPTED.replace("altruistic]", "greedy]"), 1, "allowed policies: selfish, fair, altruistic"),
    (SCRIPTED.replace("[neutral, rude]", "[neutral,\n  polite]"), 3, "allowed manners: neutral, rude, sycophantic"),
    (SCRIPTED.replace("runs: 3", "rounds: 3"), 6, "unknown key 'rounds'"),
    (SCRIPTED.replace("out:", "ood:"), 5, "known keys here: in, out"),
    (SCRIPTED.replace("model: null", "players: model\nmodel: null"), None, "players: model needs a model"),
])
def test_bad_files_name_the_line_and_the_allowed_values(tmp_path: Path, text: str, line: int | None,
                                                        needle: str, capsys) -> None:
    (tmp_path / "sim.yaml").write_text(text)
    with pytest.raises(SimulationError) as caught:
        load_spec(tmp_path / "sim.yaml")
    assert needle in str(caught.value) and caught.value.file == str(tmp_path / "sim.yaml")
    if line is not None:
        assert caught.value.line == line
    assert main(["simulate", str(tmp_path / "sim.yaml"), "--out", str(tmp_path / "out")]) == 2
    assert needle in capsys.readouterr().err


@pytest.fixture(scope="module")
def tiny_hf(tmp_path_factory: pytest.TempPathFactory) -> str:
    from tests.models.tinyhf import build_tiny_hf

    return f"hf/{build_tiny_hf(tmp_path_factory.mktemp('tinyhf') / 'model')}"


MODEL_SPEC = """\
policies: [fair]
currencies: {{in: [apples], out: [grams of medicine]}}
runs: 2
episodes_per_run: 2
players: {players}
max_tokens: 6
max_retries: 1
constrain: {constrain}
model: {model}
"""


class InterruptAfter:
    """A model that stops the simulation (as Ctrl-C would) when asked for call number ``n + 1``."""

    def __init__(self, model: Any, n: int) -> None:
        self.model, self.left, self.spec = model, n, model.spec

    @property
    def identity(self) -> Any:
        return self.model.identity

    def generate(self, *args: Any, **kwargs: Any) -> Any:
        self.left -= 1
        if self.left < 0:
            raise KeyboardInterrupt
        return self.model.generate(*args, **kwargs)


def test_an_interrupted_simulation_resumes_with_no_repeated_model_call(tmp_path: Path, tiny_hf: str) -> None:
    spec_file = tmp_path / "sim.yaml"
    spec_file.write_text(MODEL_SPEC.format(players="scripted", model=tiny_hf, constrain="false"))
    spec = load_spec(spec_file)
    model = load_model(tiny_hf, n_threads=1)
    whole = simulate(spec, tmp_path / "whole", model=model)
    # 2 runs × (4 assistant episodes of 1-2 calls each + 1 meta-prompt call)
    assert whole["status"] == "complete" and 10 <= whole["calls"] <= 18 and whole["cache_hits"] == 0
    episodes = _jsonl(tmp_path / "whole" / "episodes.jsonl")
    assistant = [e for e in episodes if e["assistant"]]
    assert [(e["assistant"], e["distribution"]) for e in assistant[:4]] == [
        ("proposer", "in"), ("decider", "in"), ("proposer", "out"), ("decider", "out")]
    for e in assistant:  # a random model never acts validly: each episode fails with the reason, the rest goes on
        assert e["status"] == "ok" or (e["reason"] and "(assistant) gave no valid action in 2 tries" in e["reason"])
        assert all(s["prompt"] and "reply" in s for s in e["trajectory"] if s["kind"] == "call")
    assert whole["failed"] == sum(e["status"] == "failed" for e in episodes)
    principles = _jsonl(tmp_path / "whole" / "principles.jsonl")
    assert [p["run"] for p in principles] == [0, 1] and all("Transcripts" in p["prompt"] for p in principles)

    with pytest.raises(KeyboardInterrupt):
        simulate(spec, tmp_path / "resumed", model=InterruptAfter(model, 5))
    assert json.loads((tmp_path / "resumed" / "simulation.json").read_text())["status"] == "interrupted"
    resumed = simulate(spec, tmp_path / "resumed", model=model)
    assert resumed["cache_hits"] == 5 and resumed["calls"] == whole["calls"] - 5
    for name in ("episodes", "principles", "observer"):
        assert (tmp_path / "resumed" / f"{name}.jsonl").read_text() == (tmp_path / "whole" / f"{name}.jsonl").read_text()


def test_model_played_fixed_players_are_given_their_policy_and_a_failed_episode_does_not_stop_the_rest(
        tmp_path: Path, tiny_hf: str) -> None:
    (tmp_path / "sim.yaml").write_text(MODEL_SPEC.format(players="model", model=tiny_hf, constrain="false").replace("runs: 2", "runs: 1"))
    assert main(["simulate", str(tmp_path / "sim.yaml"), "--out", str(tmp_path / "out")]) == 0
    episodes = _jsonl(tmp_path / "out" / "episodes.jsonl")
    assert len(episodes) == 2 + 4
    fixed = [e for e in episodes if e["assistant"] is None]
    assert all(s["player"] == "model-fair-neutral" for e in fixed for s in e["trajectory"] if s["kind"] == "call")
    summary = json.loads((tmp_path / "out" / "simulation.json").read_text())
    assert summary["failed"] == sum(e["status"] == "failed" for e in episodes)
    assert summary["invalid"] == sum(e["invalid"] for e in episodes) > 0


def test_the_example_file_loads_and_runs(tmp_path: Path, tiny_hf: str) -> None:
    spec = load_spec(REPO / "examples" / "ultimatum" / "study.yaml")
    assert spec.model == "local/smollm2-135m" and spec.currencies.out_of_distribution == ["grams of medicine"]
    # its first run, on the tiny model (the embedded model's run is the one docs/simulate.md reports)
    small = spec.model_copy(update={"runs": 1, "policies": ["altruistic"], "manners": ["rude"], "max_tokens": 6,
                                    "model": tiny_hf})
    summary = simulate(small, tmp_path / "out", model=load_model(tiny_hf, n_threads=1))
    assert summary["status"] == "complete" and summary["episodes"] == 8 + 4
    # 8 transcripts make a meta-prompt longer than the tiny model's 1024 positions: the principle is kept, and why
    revision = _jsonl(tmp_path / "out" / "principles.jsonl")[0]
    assert revision["kept"] and revision["principle"] == spec.principle and "context" in revision["error"]


def test_under_the_action_constraint_every_reply_is_a_valid_action_and_every_principle_parses(
        tmp_path: Path, tiny_hf: str) -> None:
    # a random model: without the constraint it never writes "keep X, give Y" (the test above)
    (tmp_path / "sim.yaml").write_text(MODEL_SPEC.format(players="model", model=tiny_hf, constrain="true")
                                       .replace("runs: 2", "runs: 1").replace("max_tokens: 6", "max_tokens: 24"))
    spec = load_spec(tmp_path / "sim.yaml")
    summary = simulate(spec, tmp_path / "out", model=load_model(tiny_hf, n_threads=1))
    assert summary["spec"]["constrain"] is True  # recorded in simulation.json
    assert summary["invalid"] == 0 and summary["failed"] == 0 and summary["episodes"] == 2 + 4
    for e in _jsonl(tmp_path / "out" / "episodes.jsonl"):
        assert e["offer"] + (10 - e["offer"]) == 10 and isinstance(e["accepted"], bool)
    revision = _jsonl(tmp_path / "out" / "principles.jsonl")[0]
    assert revision["reply"].startswith("Principle: ") and not revision["unparsed"]
