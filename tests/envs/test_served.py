"""The example simulation, unchanged, against an OpenAI-compatible server: llama-cpp-python's own server on
loopback serving the embedded model (`--model openai/smollm2`). Only properties are asserted."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from proceval.cli.main import main

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_the_example_runs_unchanged_on_an_openai_compatible_server(llama_server, tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_BASE_URL", llama_server.base_url)
    example = REPO / "examples" / "ultimatum" / "study.yaml"
    assert main(["simulate", str(example), "--out", str(tmp_path / "sim"), "--model", "openai/smollm2"]) == 0
    summary = json.loads((tmp_path / "sim" / "simulation.json").read_text())
    assert summary["status"] == "complete" and summary["model"]["provider"] == "openai"
    episodes = [json.loads(line) for line in (tmp_path / "sim" / "episodes.jsonl").read_text().splitlines()]
    # 4 conditions × 2 runs × (8 fixed games + 4 assistant games); the server enforces the action constraint
    assert len(episodes) == 4 * 2 * (8 + 4) and summary["failed"] == sum(e["status"] == "failed" for e in episodes)
    assistant = [e for e in episodes if e["assistant"]]
    assert all(e["status"] == "ok" and e["offer"] in range(11) for e in assistant)
    assert summary["calls"] >= 4 * 2 * (4 + 1) and summary["cache_hits"] == 0
    assert main(["analyze", str(tmp_path / "sim"), "--out", str(tmp_path / "report"), "--n-boot", "50"]) == 0
    assert (tmp_path / "report" / "report.html").is_file()
