"""The search-language tokenizer (one token per digit and keyword, exact round trip) and the model presets."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from proceval.errors import ProcevalError
from proceval.tasks.countdown.search import STRATEGIES, path_stream, run_strategy
from proceval.train.models import model_config
from proceval.train.tokenizer import search_tokenizer

TOKENIZER = search_tokenizer()


@settings(max_examples=30, deadline=None)
@given(st.lists(st.integers(1, 99), min_size=3, max_size=3), st.integers(10, 100), st.sampled_from(STRATEGIES))
def test_streams_round_trip_with_one_token_per_digit(numbers: list[int], target: int, strategy: str) -> None:
    stream = run_strategy(strategy, target, numbers).stream
    ids = TOKENIZER(stream)["input_ids"]
    assert TOKENIZER.unk_token_id not in ids
    assert TOKENIZER.decode(ids) == stream
    digits = sum(ch.isdigit() for ch in stream)
    assert sum(TOKENIZER.convert_ids_to_tokens(i).isdigit() for i in ids) == digits  # each digit is its own token


def test_keywords_are_single_tokens_and_the_tokenizer_saves(tmp_path: Path) -> None:
    from transformers import AutoTokenizer

    text = path_stream(24, [4, 9, 3], ["9-3=6", "4*6=24"])
    tokens = TOKENIZER.tokenize("Current State: 24:[4, 9, 3]")
    assert tokens == ["Current", " ", "State", ":", " ", "2", "4", ":", "[", "4", ",", " ", "9", ",", " ", "3", "]"]
    TOKENIZER.save_pretrained(tmp_path)
    loaded = AutoTokenizer.from_pretrained(tmp_path)
    assert loaded.decode(loaded(text)["input_ids"]) == text and len(loaded) == len(TOKENIZER) == 44


def test_tiny_preset_has_about_a_million_parameters() -> None:
    from transformers import LlamaForCausalLM

    model = LlamaForCausalLM(model_config("tiny", TOKENIZER))
    assert 0.8e6 < sum(p.numel() for p in model.parameters()) < 1.3e6
    with pytest.raises(ProcevalError, match="unknown model preset"):
        model_config("huge", TOKENIZER)
