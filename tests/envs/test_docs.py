"""docs/simulate.md's example file runs and gives what the text says."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from proceval.cli.main import main
from proceval.envs.simulation import SimulationError, load_spec, simulate

REPO = Path(__file__).resolve().parents[2]


def test_the_documented_file_runs_without_a_model(tmp_path: Path) -> None:
    text = (REPO / "docs" / "simulate.md").read_text(encoding="utf-8")
    block = next(b for b in re.findall(r"```yaml\n(.*?)```", text, flags=re.S) if b.startswith("# docs-example: scripted"))
    (tmp_path / "sim.yaml").write_text(block)
    summary = simulate(load_spec(tmp_path / "sim.yaml"), tmp_path / "out")
    assert summary["episodes"] == 2 * 3 * 2 * 5 * 8 and summary["calls"] == 0 and summary["failed"] == 0
    # the same file as a study: `proceval study` runs the simulation and writes its report
    assert main(["study", str(tmp_path / "sim.yaml"), "--out", str(tmp_path / "study")]) == 0
    assert (tmp_path / "study" / "report" / "figures" / "offered_over_runs.png").is_file()
    assert (tmp_path / "study" / "simulation" / "episodes.jsonl").read_text() == (
        tmp_path / "out" / "episodes.jsonl").read_text()


def test_the_documented_error_is_the_one_users_see(tmp_path: Path) -> None:
    text = (REPO / "docs" / "simulate.md").read_text(encoding="utf-8")
    (tmp_path / "sim.yaml").write_text("simulation:\n  policies: [selfish, greedy]\n  currencies: {in: [apples]}\n")
    with pytest.raises(SimulationError) as caught:
        load_spec(tmp_path / "sim.yaml")
    message = str(caught.value).replace(str(tmp_path) + "/", "")
    first, hint = message.split("\n")
    assert f"`{first}`" in text and hint.strip().removeprefix("hint: ").split(",")[0] in text
