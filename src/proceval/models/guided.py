"""Constrained decoding for in-process backends (llama.cpp, Hugging Face), and checking any text against a
constraint.

Every constraint kind compiles to one llguidance grammar (llguidance parses JSON schemas, regular expressions,
choices, GBNF and Lark, and computes the set of tokens that can continue a partial text for a model's own
tokenizer). A :class:`ConstraintSession` follows one response: it gives the mask of allowed next tokens, takes
each sampled token, and for a guide, closes a block when its grammar is complete (or the model ends it) and asks
the guide for the next one. :func:`decode` is the sampling loop both backends share; a backend supplies
``next_logits(tokens)``, the log-probabilities of the next token after the prompt and ``tokens``.

A block the model ends by choosing end-of-sequence does not feed that token to the model: the next block's mask
is applied to the same logits, so a guide step costs one mask computation and no model evaluation.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, cast

import numpy as np

from proceval.core.generate import (
    Choice,
    Constraint,
    Free,
    GenerateConfig,
    Grammar,
    Guide,
    JsonSchema,
    Regex,
    Step,
)
from proceval.errors import ModelError


def _llguidance() -> Any:
    try:
        import llguidance
    except ImportError:
        raise ModelError("constrained generation needs llguidance", hint="pip install llguidance") from None
    return llguidance


def grammar_of(step: Step, *, json_layout: bool = True) -> str | None:
    """The llguidance grammar for one constraint (``None``: free text, nothing to enforce).

    ``json_layout``: JSON is written in one layout (json.dumps's separators, no other whitespace), so that a
    model cannot spend its tokens on blanks; without it any JSON whitespace is accepted (for checking).
    """
    llg = _llguidance()
    try:
        if isinstance(step, JsonSchema):
            layout = {"whitespace_flexible": False, "item_separator": ", ", "key_separator": ": "}
            return str(llg.LLMatcher.grammar_from_json_schema(json.dumps(step.schema),
                                                              defaults=layout if json_layout else None))
        if isinstance(step, Regex):
            return str(llg.grammar_from("regex", step.pattern))
        if isinstance(step, Choice):
            return str(llg.grammar_from("choice", json.dumps(list(step.options))))
        if isinstance(step, Grammar):
            return str(llg.grammar_from(step.syntax, step.text))
        if isinstance(step, Free):
            if step.until is None:
                return None
            # the shortest text that ends with the marker: the block stops right after it
            return str(llg.grammar_from("lark", f"start: free\nfree[lazy]: /(?s:.*){_rust_escape(step.until)}/"))
    except ValueError as exc:
        raise ModelError(f"the constraint cannot be compiled: {exc}", field="constraint") from None
    raise ModelError(f"not a constraint: {step!r}", field="constraint",
                     hint="use JsonSchema, Regex, Choice, Grammar, Free (in a guide) or a Guide")


def _rust_escape(text: str) -> str:
    return "".join("\\" + c if c in r"\.+*?()|[]{}^$#&-~/" else c for c in text)


class _ByteTokens:
    """A tokenizer whose tokens are the 256 bytes (and an end token): llguidance checks whole texts with it."""

    eos_token_id = 256
    bos_token_id = None
    tokens = [bytes([i]) for i in range(256)] + [b"\xff<eos>"]
    special_token_ids = [256]

    def __call__(self, text: bytes) -> list[int]:
        return list(text)


@lru_cache(maxsize=1)
def _byte_tokenizer() -> Any:
    llg = _llguidance()
    return llg.LLTokenizer(llg.TokenizerWrapper(_ByteTokens()))


def matcher(tokenizer: Any, grammar: str) -> Any:
    llg = _llguidance()
    m = llg.LLMatcher(tokenizer, grammar, log_level=0)
    if m.is_error():
        raise ModelError(f"the constraint cannot be compiled: {m.get_error().splitlines()[0]}", field="constraint")
    return m


def satisfies(step: Step, text: str) -> bool:
    """Whether ``text`` is a whole string of a (non-guide) constraint: a choice or regular expression by plain
    Python, a JSON schema or grammar by llguidance's parser (any JSON whitespace accepted)."""
    if isinstance(step, Choice):
        return text in step.options
    if isinstance(step, Regex):
        return re.fullmatch(step.pattern, text) is not None
    grammar = grammar_of(step, json_layout=False)
    if grammar is None:
        return True
    m = matcher(_byte_tokenizer(), grammar)
    return bool(m.consume_tokens(list(text.encode("utf-8"))) and m.is_accepting())


def allows_prefix(step: Step, text: str) -> bool:
    """Whether ``text`` is the start of some string of a (non-guide) constraint (a choice by plain Python, the
    rest by llguidance's parser): a response cut short by ``max_tokens`` that had kept to the constraint."""
    if isinstance(step, Choice):
        return any(option.startswith(text) for option in step.options)
    grammar = grammar_of(step, json_layout=False)
    if grammar is None:
        return True
    m = matcher(_byte_tokenizer(), grammar)
    return bool(m.consume_tokens(list(text.encode("utf-8")))) and not m.is_error()


def complete_prefix(step: Step, text: str) -> str | None:
    """The shortest start of ``text`` after which a (non-guide) constraint admits nothing more — where token
    masking would have ended the block — or ``None``: a server without masking that wrote past a block's end."""
    grammar = grammar_of(step, json_layout=False)
    if grammar is None:
        return None
    m = matcher(_byte_tokenizer(), grammar)
    data = text.encode("utf-8")
    for end, byte in enumerate(data, 1):
        if not m.consume_token(byte):
            return None
        if m.is_stopped():
            return data[:end].decode("utf-8", errors="replace")
    return None


@dataclass
class Decoded:
    tokens: list[int]
    text: str
    finish_reason: str
    satisfied: bool
    blocks: int


class ConstraintSession:
    """One response under a constraint, token by token, for a model whose llguidance tokenizer is ``tokenizer``."""

    def __init__(self, constraint: Constraint, tokenizer: Any, vocab_size: int) -> None:
        import llguidance.numpy as lnp

        self.tokenizer = tokenizer
        self.vocab_size = vocab_size
        self.guide = constraint if isinstance(constraint, Guide) else None
        self.done_bytes = b""  # the text of finished blocks
        self.block_bytes = b""
        self.blocks = 0
        self.finished = False
        self._bitmask = lnp.allocate_token_bitmask(1, tokenizer.vocab_size)
        self._fill = lnp.fill_next_token_bitmask
        self._matcher: Any = None
        self._templates: dict[str, Any] = {}
        self._start(self.guide.allowed("") if self.guide is not None else cast(Step, constraint))

    @property
    def text(self) -> str:
        return (self.done_bytes + self.block_bytes).decode("utf-8", errors="replace")

    @property
    def free(self) -> bool:
        """The current block is free text (stop strings apply to it)."""
        return not self.finished and self._matcher is None

    def _start(self, step: Step | None) -> None:
        if step is None:
            self.finished = True
            return
        self.blocks += 1
        self._matcher = self._compiled(step)

    def _compiled(self, step: Step) -> Any:
        """A fresh matcher for ``step``: compiled once per session and step, copied after (guides repeat steps)."""
        key = json.dumps([type(step).__name__, step.key()], sort_keys=True)
        if key not in self._templates:
            grammar = grammar_of(step)
            self._templates[key] = None if grammar is None else matcher(self.tokenizer, grammar)
        template = self._templates[key]
        return None if template is None else template.deep_copy()

    def _close_block(self) -> None:
        """The current block is complete: a fixed constraint ends; a guide says what comes next."""
        self.done_bytes += self.block_bytes
        self.block_bytes = b""
        if self.guide is None:
            self.finished = True
        else:
            self._start(self.guide.allowed(self.done_bytes.decode("utf-8", errors="replace")))

    def allowed(self) -> np.ndarray | None:
        """A boolean mask of the tokens that may come next (``None``: any token, or :attr:`finished`).

        The end-of-sequence token is in it only where the current block may end.
        """
        while not self.finished and self._matcher is not None and self._matcher.is_stopped():
            self._close_block()
        if self.finished or self._matcher is None:
            return None
        self._fill(self._matcher, self._bitmask)
        bits = np.unpackbits(self._bitmask.view(np.uint8), bitorder="little")[: self.vocab_size]
        mask = np.zeros(self.vocab_size, dtype=bool)
        mask[: bits.size] = bits.astype(bool)
        return mask

    def end_block(self) -> bool:
        """The model chose end-of-sequence: end the block. True when the response goes on (a guide's next step)."""
        if self.finished or (self._matcher is not None and not self._matcher.is_accepting()):
            return False
        self._close_block()
        return not self.finished

    def accept(self, token: int, piece: bytes) -> None:
        if self._matcher is not None and not self._matcher.consume_token(token):
            raise ModelError(f"the sampler produced a token the constraint forbids: {self._matcher.get_error()}")
        self.block_bytes += piece

    def satisfied(self) -> bool:
        """Whether the text so far is a complete response (cut short by max_tokens: usually not)."""
        if self.finished or self._matcher is None:
            return True
        return bool(self._matcher.is_accepting()) and self.guide is None


def sample(logprobs: np.ndarray, allowed: np.ndarray | None, temperature: float,
           rng: np.random.Generator, top_p: float = 0.95) -> int:
    """Greedy at temperature 0, else nucleus sampling (``top_p``) among the allowed tokens."""
    scores = logprobs.astype(np.float64, copy=True)
    if allowed is not None:
        scores[~allowed[: scores.size]] = -np.inf
    if temperature == 0:
        return int(np.argmax(scores))
    scores = scores / temperature
    scores -= scores.max()
    probs = np.exp(scores)
    probs /= probs.sum()
    order = np.argsort(-probs, kind="stable")
    cumulative = np.cumsum(probs[order])
    keep = order[: int(np.searchsorted(cumulative, top_p)) + 1]
    p = probs[keep] / probs[keep].sum()
    return int(keep[rng.choice(len(keep), p=p)])


def decode(
    next_logits: Callable[[list[int]], np.ndarray],
    config: GenerateConfig,
    session: ConstraintSession,
    end_tokens: Sequence[int],
    piece: Callable[[int], bytes],
    max_tokens: int,
) -> Decoded:
    """Sample up to ``max_tokens`` tokens under ``session``'s constraint; ``next_logits(generated)`` gives the
    next-token log-probabilities after the prompt and the tokens ``generated`` so far."""
    rng = np.random.default_rng(config.seed if config.seed is not None else 0)
    ends = set(end_tokens)
    stops = [s for s in config.stop or () if s]
    out: list[int] = []
    while len(out) < max_tokens:
        mask = session.allowed()
        if session.finished:
            break
        logprobs = next_logits(out)
        token = _pick(logprobs, mask, config.temperature, rng)
        while token in ends and session.end_block():
            # the guide goes on: its next block is masked on the same logits (the end token is not fed)
            mask = session.allowed()
            if session.finished:
                break
            token = _pick(logprobs, mask, config.temperature, rng)
        if token in ends or session.finished:
            session.finished = True
            break
        session.accept(token, piece(token))
        out.append(token)
        if stops and session.free:
            block = session.block_bytes.decode("utf-8", errors="replace")
            if (cut := _first_stop(block, stops)) is not None:  # stop strings end free text only
                done = session.done_bytes.decode("utf-8", errors="replace")
                return Decoded(out, done + cut, "stop", True, session.blocks)
    finish = "stop" if session.finished else "length"
    return Decoded(out, session.text, finish, session.satisfied(), session.blocks)


def _pick(logprobs: np.ndarray, mask: np.ndarray | None, temperature: float, rng: np.random.Generator) -> int:
    if mask is not None and not mask.any():
        raise ModelError("no token of this model can continue the text under the constraint",
                         field="constraint", hint="check that the constraint accepts some text")
    return sample(logprobs, mask, temperature, rng)


def _first_stop(text: str, stops: list[str]) -> str | None:
    hits = [text.index(s) for s in stops if s in text]
    return text[: min(hits)] if hits else None


def regex_to_gbnf(pattern: str) -> str | None:
    """A GBNF grammar (llama.cpp's server takes one as ``grammar``) for a regular expression matched in full,
    or ``None`` when the pattern uses what GBNF cannot say (look-around, back-references)."""
    import re._constants as c
    import re._parser as p

    def char(code: int) -> str:
        ch = chr(code)
        if ch.isprintable() and ch not in '\\"[]-^':
            return ch
        return f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}"

    categories = {c.CATEGORY_DIGIT: "0-9", c.CATEGORY_WORD: "a-zA-Z0-9_", c.CATEGORY_SPACE: " \\t\\n\\r\\u000b\\u000c"}
    negated = {c.CATEGORY_NOT_DIGIT: "0-9", c.CATEGORY_NOT_WORD: "a-zA-Z0-9_",
               c.CATEGORY_NOT_SPACE: " \\t\\n\\r\\u000b\\u000c"}

    def in_class(items: Any) -> str:
        neg, parts = False, []
        for op, av in items:
            if op is c.NEGATE:
                neg = True
            elif op is c.LITERAL:
                parts.append(char(av))
            elif op is c.RANGE:
                parts.append(f"{char(av[0])}-{char(av[1])}")
            elif op is c.CATEGORY and av in categories:
                parts.append(categories[av])
            else:
                raise ValueError(op)
        return f"[{'^' if neg else ''}{''.join(parts)}]"

    def seq(sub: Any) -> str:
        out = []
        for op, av in sub:
            if op is c.LITERAL:
                out.append(json.dumps(chr(av), ensure_ascii=False))
            elif op is c.NOT_LITERAL:
                out.append(f"[^{char(av)}]")
            elif op is c.ANY:
                out.append("[^\\n]")
            elif op is c.IN:
                out.append(in_class(av))
            elif op is c.CATEGORY:
                out.append(f"[{categories[av]}]" if av in categories else f"[^{negated[av]}]")
            elif op is c.BRANCH:
                out.append("(" + " | ".join(seq(b) or '""' for b in av[1]) + ")")
            elif op is c.SUBPATTERN:
                out.append("(" + (seq(av[3]) or '""') + ")")
            elif op in (c.MAX_REPEAT, c.MIN_REPEAT):
                low, high, body = av
                bound = "" if high is c.MAXREPEAT else str(high)
                out.append(f"({seq(body)}){{{low},{bound}}}" if (low, high) != (0, 1) else f"({seq(body)})?")
            elif op is c.AT and av in (c.AT_BEGINNING, c.AT_BEGINNING_STRING, c.AT_END, c.AT_END_STRING):
                continue
            else:
                raise ValueError(op)
        return " ".join(out)

    try:
        body = seq(p.parse(pattern))
    except (ValueError, KeyError, re.error):
        return None
    return "root ::= " + (body or '""') + "\n"


def choice_to_gbnf(options: Sequence[str]) -> str:
    return "root ::= " + " | ".join(json.dumps(o, ensure_ascii=False) for o in options) + "\n"
