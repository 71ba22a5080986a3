"""A tokenizer for the Countdown search language (docs/sos.md), built with ``tokenizers``: each digit, keyword,
punctuation mark, space and newline is one token, so decoding gives back the text exactly (the verifier can
read a model's output). Wrapped as a ``transformers`` fast tokenizer so a checkpoint saves and loads it."""

from __future__ import annotations

from typing import Any

SPECIALS = ["<pad>", "<bos>", "<eos>", "<unk>"]
KEYWORDS = ["Current", "State", "Operations", "Exploring", "Operation", "Resulting", "Numbers", "Generated", "Node",
            "Moving", "to", "Goal", "Reached", "equal", "unequal", "No", "Solution", "Found"]
SYMBOLS = [":", "[", "]", ",", "+", "-", "*", "/", "=", "#", " ", "\n"]
VOCABULARY = [*SPECIALS, *(str(d) for d in range(10)), *KEYWORDS, *SYMBOLS]
_PIECES = r"\d|[A-Za-z]+|\s|[^\s\w]"  # one digit, one word, one whitespace character, one mark


def search_tokenizer() -> Any:
    """The search-language tokenizer as a ``transformers.PreTrainedTokenizerFast`` (``<bos>``/``<eos>``/``<pad>``;
    anything outside the language becomes ``<unk>``)."""
    from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    core = Tokenizer(models.WordLevel({token: i for i, token in enumerate(VOCABULARY)}, unk_token="<unk>"))
    core.pre_tokenizer = pre_tokenizers.Split(Regex(_PIECES), behavior="isolated")
    core.decoder = decoders.Fuse()
    return PreTrainedTokenizerFast(tokenizer_object=core, bos_token="<bos>", eos_token="<eos>", pad_token="<pad>",
                                   unk_token="<unk>")
