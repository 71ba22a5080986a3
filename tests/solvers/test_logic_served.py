"""The logic guide on an OpenAI-compatible server (llama-cpp-python's, on loopback, serving the embedded GGUF)
through `proceval run`, on a server that masks tokens and on one that does not; and the guide's choices on the
in-process llama.cpp backend and on transformers (the same GGUF de-quantized), which must agree where clear.
Only properties are asserted, never generated text (docs/logic-guide.md has the measured agreement)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from proceval.cli.main import main
from proceval.core.generate import Choice
from proceval.dataset import Dataset, Item
from proceval.generate import generate
from proceval.models import load_model
from proceval.models.guided import allows_prefix, complete_prefix
from proceval.run import load_run
from proceval.solvers import configured
from proceval.solvers.logic_guide import BODY_STEP, StepGuide
from proceval.solvers.logic_solver import messages_for
from proceval.tasks.logic import certify, theory_of
from tests.models.servers import FlakyProxy

# one worked example (not two) keeps each prompt short: the server evaluates it anew for every problem
OPTIONS = {"guided-formalised": {"formalise": "proceval", "examples": "1"},
           "guided": {"max_tokens": "32", "examples": "1"}}
RETRIES = 3  # the openai provider's constraint_retries (its default)


def cli_options(options: dict[str, str]) -> list[str]:
    return [word for key, value in options.items() for word in ("--option", f"{key}={value}")]


@pytest.fixture(scope="module")
def pq(tmp_path_factory: pytest.TempPathFactory) -> Dataset:
    return generate("prontoqa", out=tmp_path_factory.mktemp("pq") / "pq", n=2, seed=3,
                    options={"hops": "1", "ontology": "fictional"}, progress=False)


@pytest.fixture(scope="module")
def served(llama_server: Any, pq: Dataset, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Both guided conditions through the server, as a user runs them (one problem at a time: llama.cpp's server
    keeps the state of one prompt, which the next block of the same problem reuses)."""
    out = tmp_path_factory.mktemp("served")
    for condition, options in OPTIONS.items():
        assert main(["run", str(pq.path), "--model", "openai/smollm2", "--base-url", llama_server.base_url,
                     "--endpoint", "completions", "--max-connections", "1", "--solver", "logic-guide",
                     *cli_options(options),
                     "--out", str(out / condition), "--no-progress"]) == 0
    return {condition: out / condition for condition in OPTIONS}


def check_guided(record: dict[str, Any], item: Item, condition: str) -> None:
    """What the guide promises any record, whatever the model wrote: it is labelled; every inference it
    recorded is valid; its answer is True or False only where the text proves it (else unknown, scored wrong);
    the draws a server needed are counted and bounded."""
    logic = record["logic"]
    assert record["strategy"] == condition == logic["condition"] and record["status"] == "ok"
    theory = theory_of(item.text, item.question) if condition == "guided-formalised" else None
    certificate = certify(record["raw"], theory)  # the engine re-reads the text the record holds
    assert logic["inferences"] == len(certificate.inferences) == logic["valid_inferences"]
    assert logic["soundness"] == (1.0 if certificate.inferences else None)
    assert logic["answer"] == certificate.answer() and logic["certified"] == (logic["answer"] != "unknown")
    assert record["choice"] == (None if logic["answer"] == "unknown" else logic["answer"])
    assert record["correct"] == (logic["answer"] == item.answer)
    if condition == "guided-formalised" and logic["answer"] != "unknown":
        assert record["correct"]  # proved from proceval's faithful formalisation: the right answer
    blocks = logic["attempts"] - logic["redraws"]  # one request per block, the rest are redraws
    assert blocks >= 1 and 0 <= logic["redraws"] <= RETRIES * blocks


def test_a_block_written_past_its_end_is_cut_where_the_step_is_complete() -> None:
    # what a server without token masking writes for a block, and what is kept of it (checked by hand)
    assert complete_prefix(Choice(["infer:"]), "infer:tumpus(rex)]] So") == "infer:"
    assert complete_prefix(BODY_STEP, "wumpus(x) -> tumpus(x)]] [[axiom:") == "wumpus(x) -> tumpus(x)]]"
    assert complete_prefix(Choice(["infer:"]), "prop:red]]") is None  # broke the step: drawn again
    assert complete_prefix(BODY_STEP, "wumpus(rex)") is None  # not finished: not cut
    # a text cut short by max_tokens that kept to the step is kept (and not drawn again)
    assert allows_prefix(Choice(["tumpus(rex)]]", "not red(rex)]]"]), "not re")
    assert not allows_prefix(Choice(["tumpus(rex)]]"]), "tumpus(wren")
    assert allows_prefix(BODY_STEP, "wumpus(x) -> tum") and not allows_prefix(BODY_STEP, "a\nb")


def test_both_guided_conditions_run_through_the_server(served: dict[str, Path], pq: Dataset) -> None:
    items = {item.id: item for item in pq.items}
    for condition, path in served.items():
        run = load_run(path)
        assert run.info["solver"] == configured("logic-guide", OPTIONS[condition])
        assert run.info["model"]["provider"] == "openai" and len(run.responses) == len(items)
        for record in run.responses:
            check_guided(record, items[record["item_id"]], condition)
        # llama.cpp's server masks tokens with the grammar proceval sends for each block: nothing is drawn twice
        assert run.info["counts"]["redraws"] == 0 == sum(r["logic"]["redraws"] for r in run.responses)


def test_the_chat_endpoint_is_refused_before_any_problem(llama_server: Any, pq: Dataset, tmp_path: Path,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["run", str(pq.path), "--model", "openai/smollm2", "--base-url", llama_server.base_url,
                 "--solver", "logic-guide", "--out", str(tmp_path / "run"), "--no-progress"])
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err and "--endpoint completions" in err
    assert not (tmp_path / "run" / "responses.jsonl").exists()


def test_a_server_without_token_masking_is_checked_and_redrawn(llama_server: Any, pq: Dataset,
                                                               tmp_path: Path) -> None:
    # the same server behind a proxy that drops the constraint keys: it samples freely, proceval checks each
    # block, cuts a block the model wrote past its end, and draws again (at most RETRIES times) what broke it
    keys = ("grammar", "guided_choice", "guided_regex", "guided_json", "guided_grammar")
    items = {item.id: item for item in pq.items}
    options = {**OPTIONS["guided-formalised"], "max_tokens": "24"}
    with FlakyProxy(llama_server.base_url, [], strip=keys) as proxy:
        assert main(["run", str(pq.path), "--model", "openai/smollm2", "--base-url", proxy.base_url,
                     "--endpoint", "completions", "--max-connections", "1", "--solver", "logic-guide",
                     *cli_options(options), "--limit", "1",
                     "--out", str(tmp_path / "run"), "--no-progress"]) == 0
    assert proxy.stripped > 0  # constraints were sent, and ignored
    run = load_run(tmp_path / "run")
    for record in run.responses:
        check_guided(record, items[record["item_id"]], "guided-formalised")
        assert record["logic"]["finish_reason"] in ("stop", "length", "constraint")
    assert run.info["counts"]["redraws"] == sum(r["logic"]["redraws"] for r in run.responses)


# llama.cpp (quantized activations in its dot products) and torch (float32) give the guide's options log-probabilities
# that differed by at most 0.70 nats over 49 choice points of 2-3-hop problems (docs/logic-guide.md); a choice whose
# margin is over twice that cannot flip between them unless the engines drift twice as far apart.
CLEAR = 1.5


def test_the_guide_s_choices_agree_across_engines(tmp_path: Path) -> None:
    # At each inference of the gold proof (2 hops, distractors giving several valid conclusions) under the
    # guided-formalised prompt: the valid conclusions the guide offers, scored by each engine. Where llama.cpp
    # prefers one clearly, transformers on the same (de-quantized) weights prefers the same one.
    pq = generate("prontoqa", out=tmp_path / "pq", n=2, seed=1, options={"hops": "2", "ontology": "fictional"},
                  progress=False)
    engines = [load_model("local/smollm2-135m", n_threads=1), load_model("hf/smollm2-135m", n_threads=1)]
    clear = 0
    for item in pq.items:
        messages = messages_for(item, "proceval", 1)
        guide = StepGuide(theory_of(item.text, item.question), infer_only=True)
        text = ""
        for step in item.metadata["proof_formal"]:
            text += "So [[infer:"
            options = guide.allowed(text).options
            assert step.removeprefix("[[infer:") in options  # the gold step is one the guide allows
            if len(options) > 1:
                llama, hf = (engine.score(messages, options, assistant_prefix=text).logprobs for engine in engines)
                first, second = sorted(llama, reverse=True)[:2]
                if first - second > CLEAR:
                    clear += 1
                    assert llama.index(first) == hf.index(max(hf)), (options, llama, hf)
            text += step.removeprefix("[[infer:") + " "
    assert clear >= 1  # the comparison was made
