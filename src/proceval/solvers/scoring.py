"""Scoring arithmetic: counterbalanced option orders and probabilities from log-probabilities."""

from __future__ import annotations

import itertools
import math
import random

from proceval.ids import content_id

SCORINGS = ("auto", "logprob", "generate")


def counterbalanced_orders(keys: list[str]) -> list[list[str]]:
    """All orders for 2–3 options; the n cyclic shifts of the canonical order beyond.

    Either way every option appears in every position equally often, so position bias cancels in the mean.
    """
    if len(keys) <= 3:
        return [list(p) for p in itertools.permutations(keys)]
    return [keys[i:] + keys[:i] for i in range(len(keys))]


def seeded_order(keys: list[str], *parts: object) -> list[str]:
    """One presentation order drawn from a seed made of ``parts`` (seed, subject, item)."""
    rng = random.Random(content_id("order", *[str(p) for p in parts]))
    return rng.sample(keys, len(keys))


def call_seed(*parts: object) -> int:
    """A per-call sampling seed that does not depend on the order work is done in."""
    return int(content_id("seed", *[str(p) for p in parts]), 16) % (2**31 - 1)


def normalise(logprobs: list[float]) -> list[float]:
    """Softmax restricted to the given continuations."""
    top = max(logprobs)
    weights = [math.exp(lp - top) for lp in logprobs]
    total = sum(weights)
    return [w / total for w in weights]


def argmax_key(probs: dict[str, float], keys: list[str]) -> str:
    """The most probable key; ties go to the earliest key in canonical order."""
    best = keys[0]
    for key in keys[1:]:
        if probs[key] > probs[best]:
            best = key
    return best


def unique_prefix_tokens(sequences: list[list[int]]) -> int:
    """Nodes of the trie of token ``sequences``: the fewest tokens any evaluator must read (the lower bound
    for prefix sharing)."""
    root: dict[int, dict] = {}  # type: ignore[type-arg]
    nodes = 0
    for seq in sequences:
        node = root
        for token in seq:
            child = node.get(token)
            if child is None:
                child = node[token] = {}
                nodes += 1
            node = child
    return nodes
