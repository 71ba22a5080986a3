"""The openai provider against llama-cpp-python's real OpenAI-compatible server on loopback."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import pytest

from proceval.errors import ProcevalError
from proceval.models import GenerateConfig, Message, ModelUnavailable, load_model
from proceval.models.llamacpp import embedded_model_path
from proceval.run import load_run, run_dataset
from proceval.run.io import RESPONSES_FILE
from tests.conftest import choice_item, write_dataset
from tests.models.servers import FlakyProxy, LlamaServer, server_missing

pytestmark = pytest.mark.skipif(server_missing() is not None, reason=server_missing() or "")


@pytest.fixture(scope="module")
def server():
    srv = LlamaServer(embedded_model_path("smollm2-135m")).start()
    yield srv
    srv.stop()


def test_chat_generate_and_logprob_scores(server: LlamaServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-secret-123")
    model = load_model("openai/smollm2", base_url=server.base_url)
    ident = model.identity
    assert ident.provider == "openai" and ident.revision == "smollm2"
    assert "sk-test" not in json.dumps(ident.parameters)
    messages = [Message("user", "Is the sky blue? A. yes B. no. Answer with the letter of one option.")]
    gen = model.generate(messages, GenerateConfig(max_tokens=8, temperature=0.0, seed=1))
    assert gen.text.strip() and gen.prompt_tokens > 0 and gen.completion_tokens > 0
    assert model.generate(messages, GenerateConfig(max_tokens=8, temperature=0.0, seed=1)).text == gen.text
    scores = model.score(messages, [" A", " B"], assistant_prefix="Answer:")
    assert len(scores.logprobs) == 2 and all(lp <= 0 for lp in scores.logprobs)
    assert scores.logprobs[0] != scores.logprobs[1]


def test_completions_endpoint(server: LlamaServer) -> None:
    model = load_model("openai/smollm2", base_url=server.base_url, endpoint="completions")
    messages = [Message("user", "Which is bigger? A. an ant B. a whale")]
    scores = model.score(messages, [" A", " B"], assistant_prefix="Answer:")
    assert len(scores.logprobs) == 2 and max(scores.logprobs) > -20
    assert model.generate(messages, GenerateConfig(max_tokens=4)).text is not None


def test_run_through_the_server_with_retries(server: LlamaServer, tmp_path: Path) -> None:
    items = [choice_item(s, {"belief": lv}, answer="a" if lv == "true" else "b")
             for s in range(2) for lv in ("true", "false")]
    ds = write_dataset(tmp_path / "ds", items)
    with FlakyProxy(server.base_url, [429, 500, 503]) as proxy:
        run = run_dataset(ds, "openai/smollm2", tmp_path / "run", progress=False, base_url=proxy.base_url,
                          max_connections=2, backoff_base=0.01)
    assert [status for _, status in proxy.seen[:3]] == [429, 500, 503]
    assert run.complete and run.info["counts"]["ok"] == 4 and run.info["counts"]["errors"] == 0
    assert run.info["counts"]["retries"] == 3 == run.info["sessions"][-1]["retries"]  # the proxy's three refusals
    assert all(abs(sum(r["probs"].values()) - 1) < 1e-4 for r in run.responses)
    assert run.info["model"]["provider"] == "openai"
    assert [r["item_id"] for r in run.responses] == [i.id for i in items]  # dataset order despite concurrency


def test_unreachable_server_is_a_clear_error_without_the_key(monkeypatch: pytest.MonkeyPatch,
                                                             tmp_path: Path) -> None:
    from tests.models.servers import free_port

    monkeypatch.setenv("OPENAI_API_KEY", "sk-very-secret-456")
    url = f"http://127.0.0.1:{free_port()}/v1"
    start = time.monotonic()
    with pytest.raises(ModelUnavailable) as info:
        load_model("openai/x", base_url=url).identity  # noqa: B018
    assert "cannot connect to" in str(info.value) and url in str(info.value)
    assert "sk-very-secret" not in str(info.value)
    assert time.monotonic() - start < 2  # a refused connection is not retried


def test_server_stopped_mid_run_keeps_finished_work_and_resumes(tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-secret-789")
    items = [choice_item(s, {"belief": lv}, answer="a" if lv == "true" else "b")
             for s in range(4) for lv in ("true", "false")]
    ds = write_dataset(tmp_path / "ds", items)
    gguf = embedded_model_path("smollm2-135m")
    srv = LlamaServer(gguf).start()
    out = tmp_path / "run"

    def stop_after_some() -> None:
        while (out / RESPONSES_FILE).is_file() is False or (out / RESPONSES_FILE).read_text().count("\n") < 2:
            time.sleep(0.02)
        srv.stop()

    stopper = threading.Thread(target=stop_after_some, daemon=True)
    stopper.start()
    try:
        with pytest.raises(ModelUnavailable) as info:
            run_dataset(ds, "openai/smollm2", out, progress=False, base_url=srv.base_url, max_connections=1,
                        max_retries=2, backoff_base=0.01, scoring="generate", max_tokens=2)
        assert "sk-secret" not in str(info.value)
        stopper.join(timeout=30)
        partial = load_run(out)
        assert partial.info["status"] == "failed" and "sk-secret" not in json.dumps(partial.info)
        kept = len(partial.responses)
        assert 2 <= kept < len(items)
        srv = LlamaServer(gguf, port=srv.port).start()  # the same server back on the same address
        resumed = run_dataset(ds, "openai/smollm2", out, progress=False, base_url=srv.base_url,
                              scoring="generate", max_tokens=2)
        assert resumed.complete and resumed.info["sessions"][-1]["resumed_from"] == kept
        assert len(resumed.responses) == len(items) and resumed.info["counts"]["errors"] == 0
    finally:
        srv.stop()


def test_bad_base_url_path_is_reported(server: LlamaServer) -> None:
    model = load_model("openai/smollm2", base_url=server.base_url.removesuffix("/v1") + "/nope")
    with pytest.raises(ProcevalError, match=r"404|does not exist"):
        model.generate([Message("user", "hi")], GenerateConfig(max_tokens=2))


def test_prompt_longer_than_the_server_context_is_too_long(server: LlamaServer, tmp_path: Path) -> None:
    items = [choice_item(0, {"belief": "true"}, text="The ball rolls on. " * 400)]  # > 1024 tokens
    ds = write_dataset(tmp_path / "ds", items)
    run = run_dataset(ds, "openai/smollm2", tmp_path / "run", progress=False, base_url=server.base_url,
                      scoring="generate", max_tokens=2)
    assert [r["status"] for r in run.responses] == ["too_long"] and run.complete
    assert run.info["counts"]["too_long"] == 1
