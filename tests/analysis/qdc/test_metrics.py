"""Known values and properties of the QDC metrics."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from proceval.analysis.qdc.metrics import (
    compression_ratio,
    count_sentences,
    coverage,
    distinct_n,
    distinct_ns,
    length_stats,
    mean_pairwise_cosine_distance,
    self_bleu,
    tokenize,
    vendi_score,
    vendi_score_kernel,
)

words = st.lists(st.sampled_from(["a", "b", "c", "d", "the", "cat", "sat"]), min_size=0, max_size=12)


def test_tokenize_and_sentences() -> None:
    assert tokenize("Don't stop, Anna!") == ["don't", "stop", ",", "anna", "!"]
    assert count_sentences("She left. He stayed! Why? Because") == 4
    assert count_sentences("Dr. Smith") == 2  # abbreviations are not special-cased
    assert count_sentences("   ") == 0
    assert count_sentences("One sentence.") == 1


def test_distinct_n_hand_made() -> None:
    texts = ["a b a b", "a b c"]
    # unigrams: a b a b a b c → 3 unique of 7; bigrams: ab ba ab ab bc → 3 unique of 5
    assert distinct_n(texts, 1) == pytest.approx(3 / 7)
    assert distinct_n(texts, 2) == pytest.approx(3 / 5)
    # trigrams: aba bab abc → 3 of 3; n-grams do not cross texts
    assert distinct_n(texts, 3) == pytest.approx(1.0)
    assert math.isnan(distinct_n(["a b"], 3))
    assert distinct_n(["x y", "x y"], 2) == pytest.approx(0.5)


@settings(deadline=None)
@given(st.lists(words, min_size=1, max_size=8), st.integers(1, 4))
def test_distinct_n_is_a_fraction(docs: list[list[str]], n: int) -> None:
    value = distinct_n(docs, n)
    total = sum(max(len(d) - n + 1, 0) for d in docs)
    if total == 0:
        assert math.isnan(value)
    else:
        assert 0 < value <= 1
        assert distinct_n(docs + docs, n) == pytest.approx(value / 2)  # duplicating halves it


@settings(max_examples=60, deadline=None)
@given(st.lists(words, min_size=0, max_size=8))
def test_vectorised_distinct_equals_the_definition(docs: list[list[str]]) -> None:
    fast = distinct_ns(docs, (1, 2, 3))
    for n in (1, 2, 3):
        slow = distinct_n(docs, n)
        assert (math.isnan(fast[n]) and math.isnan(slow)) or fast[n] == pytest.approx(slow)


def test_self_bleu_identical_and_disjoint() -> None:
    assert self_bleu(["the cat sat on the mat"] * 4) == pytest.approx(1.0)
    # no shared n-gram: every order smoothed to 0.1/total → BLEU = 0.1 * (1/4·1/3·1/2·1)^(1/4)·... by hand
    value = self_bleu(["a b c d", "e f g h"])
    expected = math.exp(sum(math.log(0.1 / (4 - k)) for k in range(4)) / 4)
    assert value == pytest.approx(expected)


def test_self_bleu_hand_computed_partial_overlap() -> None:
    # hyp "a b c" vs ref "a b d": p1 = 2/3, p2 = 1/2, p3 = 0 → 0.1/1; 3 tokens → orders 1..3
    value = self_bleu(["a b c", "a b d"], max_order=4)
    expected = math.exp((math.log(2 / 3) + math.log(1 / 2) + math.log(0.1)) / 3)
    assert value == pytest.approx(expected)  # both texts are symmetric, lengths equal → BP 1


def test_self_bleu_brevity_penalty_uses_closest_other_length() -> None:
    # "a" against "a a a": p1 = 1, c=1 < r=3 → BP = e^(1-3); "a a a" against "a": clipped 1/3, c > r → BP 1
    value = self_bleu(["a", "a a a"], max_order=1)
    assert value == pytest.approx((math.exp(1 - 3) + 1 / 3) / 2)


def _naive_self_bleu(docs: list[list[str]], max_order: int = 4, epsilon: float = 0.1) -> float:
    from collections import Counter

    scores = []
    for i, hyp in enumerate(docs):
        refs = [d for j, d in enumerate(docs) if j != i]
        if not hyp:
            scores.append(0.0)
            continue
        orders = min(max_order, len(hyp))
        log_p = 0.0
        for k in range(1, orders + 1):
            h = Counter(tuple(hyp[x : x + k]) for x in range(len(hyp) - k + 1))
            matched = 0
            for g, c in h.items():
                best = max(Counter(tuple(r[x : x + k]) for x in range(len(r) - k + 1))[g] for r in refs)
                matched += min(c, best)
            total = len(hyp) - k + 1
            log_p += math.log(matched / total if matched else epsilon / total) / orders
        r = min((len(x) for x in refs), key=lambda length: (abs(length - len(hyp)), length))
        bp = 1.0 if len(hyp) > r else math.exp(1 - r / len(hyp))
        scores.append(bp * math.exp(log_p))
    return sum(scores) / len(scores)


@settings(max_examples=60, deadline=None)
@given(st.lists(words, min_size=2, max_size=7))
def test_self_bleu_equals_the_naive_all_pairs_definition(docs: list[list[str]]) -> None:
    assert self_bleu(docs, sample=None) == pytest.approx(_naive_self_bleu(docs))


def test_self_bleu_sample_is_seeded_and_bounded() -> None:
    rng = np.random.default_rng(1)
    vocab = [f"w{i}" for i in range(50)]
    texts = [" ".join(rng.choice(vocab, size=10)) for _ in range(300)]
    a = self_bleu(texts, sample=50, seed=3)
    assert a == self_bleu(texts, sample=50, seed=3)
    assert a != self_bleu(texts, sample=50, seed=4)
    assert 0 < a < 1
    assert math.isnan(self_bleu(["only one"]))


def test_compression_ratio_orders_repetition() -> None:
    repetitive = ["the cat sat on the mat"] * 50
    rng = np.random.default_rng(0)
    varied = ["".join(rng.choice(list("abcdefghijklmnopqrstuvwxyz "), size=22)) for _ in range(50)]
    assert compression_ratio(repetitive) > 5 * compression_ratio(varied)
    assert compression_ratio(repetitive) == compression_ratio(list(repetitive))  # deterministic
    assert math.isnan(compression_ratio([]))


def test_vendi_identical_is_one_and_orthogonal_is_n() -> None:
    x = np.tile([[0.3, -1.0, 2.0]], (10, 1))
    assert vendi_score(x, method="direct") == pytest.approx(1.0)
    assert vendi_score(x, method="dual") == pytest.approx(1.0, abs=1e-5)
    eye = np.eye(7) * 3.0
    assert vendi_score(eye, method="direct") == pytest.approx(7.0)
    assert vendi_score(eye, method="dual") == pytest.approx(7.0, rel=1e-5)
    # two clusters of equal size, orthogonal to each other → 2
    two = np.vstack([np.tile([1.0, 0, 0], (5, 1)), np.tile([0, 2.0, 0], (5, 1))])
    assert vendi_score(two) == pytest.approx(2.0, rel=1e-5)
    assert vendi_score_kernel(np.eye(4)) == pytest.approx(4.0)


@settings(max_examples=25, deadline=None)
@given(st.integers(2, 60), st.integers(2, 12), st.integers(0, 10_000), st.sampled_from([1.0, 2.0, math.inf]))
def test_dual_vendi_equals_direct(n: int, d: int, seed: int, q: float) -> None:
    x = np.random.default_rng(seed).normal(size=(n, d))
    assert vendi_score(x, method="dual", q=q) == pytest.approx(vendi_score(x, method="direct", q=q), rel=1e-4)
    assert 1.0 - 1e-6 <= vendi_score(x) <= min(n, d) + 1e-6


def test_vendi_matches_the_reference_package() -> None:
    vendi = pytest.importorskip("vendi_score.vendi", reason="vendi-score (dev extra) is not installed")
    x = np.random.default_rng(5).normal(size=(200, 16))
    assert vendi_score(x) == pytest.approx(vendi.score_X(x), rel=1e-5)


def test_mean_pairwise_distance_equals_explicit_pairs() -> None:
    x = np.random.default_rng(2).normal(size=(40, 8))
    xn = x / np.linalg.norm(x, axis=1, keepdims=True)
    sims = xn @ xn.T
    iu = np.triu_indices(40, 1)
    assert mean_pairwise_cosine_distance(x) == pytest.approx(float(np.mean(1 - sims[iu])))
    assert mean_pairwise_cosine_distance(np.ones((5, 3))) == pytest.approx(0.0, abs=1e-12)
    assert math.isnan(mean_pairwise_cosine_distance(np.ones((1, 3))))


def test_coverage() -> None:
    c = coverage(["red", "red", "blue", " ", None, "teal"], universe=["red", "blue", "green", "yellow"])
    assert (c.n, c.distinct, c.universe, c.unexpected) == (4, 3, 4, 1)
    assert c.coverage == pytest.approx(2 / 4)
    even = coverage(["a", "b", "c"])
    assert even.evenness == pytest.approx(1.0) and even.coverage is None
    skewed = coverage(["a"] * 9 + ["b"])
    assert 0 < skewed.evenness < 0.5
    assert math.isnan(coverage([]).evenness) and coverage([]).to_dict()["evenness"] is None


def test_length_stats() -> None:
    stats = length_stats(["One two. Three!", "a b c d e f"])
    assert stats["tokens_mean"] == pytest.approx((5 + 6) / 2)
    assert stats["sentences_mean"] == pytest.approx((2 + 1) / 2)


def test_the_embedding_cache_shares_the_call_caches_store(tmp_path: Path) -> None:

    from proceval.core.store import SqliteStore
    from proceval.embeddings import EmbeddingCache
    from proceval.errors import ModelError

    cache = EmbeddingCache(tmp_path / "e.sqlite")
    assert isinstance(cache, SqliteStore)
    cache.put_many("m", {"h": np.array([1.0, 2.0], dtype=np.float32)})
    assert cache.get_many("m", ["h", "x"])["h"].tolist() == [1.0, 2.0] and cache.count("m") == 1 == cache.count()
    cache.close()
    (tmp_path / "bad.sqlite").write_bytes(b"this is not a database" * 100)
    with pytest.raises(ModelError, match="cannot open the embedding cache") as info:
        EmbeddingCache(tmp_path / "bad.sqlite")
    assert info.value.file == str(tmp_path / "bad.sqlite")
