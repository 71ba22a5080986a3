"""The openai provider's mistakes and failures: no server, a bad address, no address, retries that are
shown, and a structured-output format chosen from what the server answers (not from a network error)."""

from __future__ import annotations

import json
import threading
import time
import warnings
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from proceval.cli.main import main
from proceval.core.generate import GenerateConfig, JsonSchema
from proceval.errors import ModelError
from proceval.models import Message, load_model
from tests.models.servers import FlakyProxy, free_port

SCHEMA = {"type": "object", "properties": {"answer": {"type": "string"}}, "required": ["answer"]}


class FakeServer:
    """An OpenAI-compatible endpoint on loopback that takes one ``response_format`` type, and can drop the
    first connections without answering (a network failure). It stands in for OpenAI or vLLM, which cannot
    run here; llama.cpp's real server (tests/models/test_openai.py) covers the other format."""

    def __init__(self, accepts: str, drop_first: int = 0, refusal_status: int = 400) -> None:
        self.accepts = accepts
        self.refusal_status = refusal_status
        self.drops = drop_first
        self.formats: list[str | None] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def _send(self, status: int, payload: dict[str, Any]) -> None:
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                self._send(200, {"data": [{"id": "m"}]})

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers.get("content-length") or 0)))
                if server.drops:
                    server.drops -= 1
                    self.close_connection = True  # hang up without a response
                    return
                kind = (body.get("response_format") or {}).get("type")
                server.formats.append(kind)
                if kind is not None and kind != server.accepts:
                    # llama-cpp-python's server: 500 with the pydantic error naming ('body', 'response_format', ...)
                    self._send(server.refusal_status, {"error": {"message": "1 validation error: loc ('body', "
                                                       f"'response_format', 'type'): {kind} is not allowed"}})
                    return
                self._send(200, {"choices": [{"message": {"content": '{"answer": "a"}'}, "finish_reason": "stop"}],
                                 "usage": {"prompt_tokens": 3, "completion_tokens": 5}})

        self.http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.http.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.http.server_address[1]}/v1"

    def __enter__(self) -> FakeServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.http.shutdown()
        self.http.server_close()


def _run(dataset: Path, out: Path, *more: str) -> list[str]:
    return ["run", str(dataset), "--model", "openai/x", "--out", str(out), "--no-progress", *more]


def test_no_server_is_reported_within_two_seconds(tiny_choice_dataset, tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    url = f"http://127.0.0.1:{free_port()}/v1"
    start = time.monotonic()
    code = main(_run(tiny_choice_dataset.path, tmp_path / "r", "--base-url", url))
    assert time.monotonic() - start < 2
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err
    assert f"model openai/x at {url} (from --base-url)" in err  # the endpoint, said before the first request
    assert f"cannot connect to {url}" in err


@pytest.mark.parametrize("url", ["localhost:8000/v1", "http//127.0.0.1:8000/v1", "http:///v1", "ftp://host/v1"])
def test_a_malformed_base_url_is_refused_at_once(url: str, tiny_choice_dataset, tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    start = time.monotonic()
    code = main(_run(tiny_choice_dataset.path, tmp_path / "r", "--base-url", url))
    assert time.monotonic() - start < 2
    err = capsys.readouterr().err
    assert code == 2 and f"the server URL {url!r} (from --base-url) cannot work" in err
    assert not (tmp_path / "r").exists()


def test_without_an_address_the_public_api_is_not_assumed(tiny_choice_dataset, tmp_path: Path,
                                                          capsys: pytest.CaptureFixture[str],
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    code = main(_run(tiny_choice_dataset.path, tmp_path / "r"))
    err = capsys.readouterr().err
    assert code == 2 and "need a server address" in err and "--base-url https://api.openai.com/v1" in err
    monkeypatch.setenv("OPENAI_BASE_URL", "https://api.openai.com/v1/")
    assert load_model("openai/gpt-x").base_url == "https://api.openai.com/v1"  # named: then it is used


def test_retries_are_for_answers_that_can_change_and_are_counted() -> None:
    with FakeServer(accepts="json_schema") as fake, FlakyProxy(fake.base_url, [503, 429]) as proxy:
        model = load_model("openai/m", base_url=proxy.base_url, backoff_base=0.01)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            text = model.generate([Message("user", "hi")], GenerateConfig(max_tokens=4)).text
        assert text == '{"answer": "a"}'
        shown = [str(w.message) for w in caught if "retry" in str(w.message)]  # not other tests' leftovers
        assert len(shown) == 2 and "HTTP 503" in shown[0] and "retry 1 of 6" in shown[0]
        assert "HTTP 429" in shown[1] and "retry 2 of 6" in shown[1]
    with FakeServer(accepts="json_schema") as fake, FlakyProxy(fake.base_url, [400]) as proxy:
        model = load_model("openai/m", base_url=proxy.base_url, backoff_base=0.01)
        with pytest.raises(ModelError, match="answered 400"):
            model.generate([Message("user", "hi")], GenerateConfig(max_tokens=4))
        assert [status for _, status in proxy.seen] == [400]  # not retried


def test_a_network_error_does_not_switch_the_structured_output_format() -> None:
    with FakeServer(accepts="json_schema", drop_first=1) as fake:
        model = load_model("openai/m", base_url=fake.base_url, backoff_base=0.01)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            first = model.generate([Message("user", "a colour")], GenerateConfig(max_tokens=8, constraint=JsonSchema(SCHEMA)))
            second = model.generate([Message("user", "a colour")], GenerateConfig(max_tokens=8, constraint=JsonSchema(SCHEMA)))
        assert json.loads(first.text) == json.loads(second.text) == {"answer": "a"}
        assert fake.formats == ["json_schema", "json_schema"]


@pytest.mark.parametrize("status", [400, 422, 500])
def test_a_server_that_refuses_the_standard_format_gets_llama_cpps(status: int) -> None:
    with FakeServer(accepts="json_object", refusal_status=status) as fake:
        model = load_model("openai/m", base_url=fake.base_url, backoff_base=0.01)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            model.generate([Message("user", "a colour")], GenerateConfig(max_tokens=8, constraint=JsonSchema(SCHEMA)))
            model.generate([Message("user", "a colour")], GenerateConfig(max_tokens=8, constraint=JsonSchema(SCHEMA)))
        assert fake.formats == ["json_schema", "json_object", "json_object"]  # asked once, then remembered
        retried = [str(w.message) for w in caught if "retry" in str(w.message)]  # not other tests' leftovers
        assert not retried  # a refusal is an answer: nothing retried
