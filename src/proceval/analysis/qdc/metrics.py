"""Diversity and complexity metrics of a set of texts or embeddings: pure functions, no I/O.

Every function here is deterministic (the only random choice, self-BLEU's sample, takes a seed) and
returns ``nan`` where a metric is undefined (for example distinct-3 of texts shorter than three tokens);
:mod:`proceval.analysis.qdc.profile` turns ``nan`` into ``null`` in JSON.

Lexical metrics tokenise with :func:`tokenize` (lower-cased words, numbers and single punctuation marks),
so results do not depend on a model's tokenizer.
"""

from __future__ import annotations

import gzip
import math
import re
from collections import Counter
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

_TOKEN = re.compile(r"\w+(?:['’]\w+)*|[^\w\s]", re.UNICODE)
_SENTENCE_END = re.compile(r"[.!?…]+(?:[\"'”’)\]]*)(?=\s|$)")


def tokenize(text: str) -> list[str]:
    """Lower-cased word, number and punctuation tokens (``"Don't stop!"`` → ``["don't", "stop", "!"]``)."""
    return _TOKEN.findall(text.lower())


def count_sentences(text: str) -> int:
    """Sentences in ``text``: runs of ``. ! ? …`` followed by space or the end; a trailing fragment counts."""
    stripped = text.strip()
    if not stripped:
        return 0
    ends = list(_SENTENCE_END.finditer(stripped))
    count = len(ends)
    if not ends or ends[-1].end() < len(stripped):
        count += 1  # a final sentence without closing punctuation
    return count


def ngrams(tokens: Sequence[str], n: int) -> list[tuple[str, ...]]:
    return [tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1)]


# --------------------------------------------------------------------------------------------- lexical


def distinct_n(texts: Iterable[str] | Sequence[Sequence[str]], n: int) -> float:
    """Distinct-n (Li et al. 2016): unique n-grams ÷ all n-grams, pooled over the set.

    n-grams never cross text boundaries. ``texts`` may be strings or already-tokenised lists.
    ``nan`` when the set has no n-gram of that order.
    """
    if n < 1:
        raise ValueError("n must be at least 1")
    seen: set[tuple[str, ...]] = set()
    total = 0
    for text in texts:
        tokens = tokenize(text) if isinstance(text, str) else list(text)
        grams = ngrams(tokens, n)
        total += len(grams)
        seen.update(grams)
    return len(seen) / total if total else math.nan


def distinct_ns(docs: Sequence[Sequence[str]], orders: Sequence[int] = (1, 2, 3)) -> dict[int, float]:
    """Distinct-n for several orders at once on tokenised texts: the same values as :func:`distinct_n`.

    Vectorised for large sets: tokens become integer ids and each n-gram one int64 key (ids packed in 21-bit
    fields), counted with ``numpy.unique``. Falls back to :func:`distinct_n` when the vocabulary exceeds 2²¹
    or an order exceeds 3.
    """
    vocab: dict[str, int] = {}
    flat = [vocab.setdefault(tok, len(vocab)) for doc in docs for tok in doc]
    if len(vocab) >= 1 << 21 or any(n > 3 or n < 1 for n in orders):
        return {n: distinct_n(docs, n) for n in orders}
    ids = np.asarray(flat, dtype=np.int64)
    lengths = np.asarray([len(doc) for doc in docs], dtype=np.int64)
    ends = np.repeat(np.cumsum(lengths), lengths)  # for each token, the end of its text
    positions = np.arange(ids.size, dtype=np.int64)
    out: dict[int, float] = {}
    for n in orders:
        start = positions[positions + n <= ends]
        if start.size == 0:
            out[n] = math.nan
            continue
        keys = ids[start].copy()
        for k in range(1, n):
            keys = (keys << 21) | ids[start + k]
        out[n] = np.unique(keys).size / start.size
    return out


def compression_ratio(texts: Iterable[str]) -> float:
    """Size of the texts (UTF-8, newline-joined) ÷ their gzip size: higher means more repetitive.

    gzip level 9 with a fixed header time, so the value is reproducible. ``nan`` for an empty set.
    """
    data = "\n".join(texts).encode("utf-8")
    if not data:
        return math.nan
    return len(data) / len(gzip.compress(data, compresslevel=9, mtime=0))


def self_bleu(
    texts: Sequence[str] | Sequence[Sequence[str]],
    *,
    max_order: int = 4,
    sample: int | None = 1000,
    seed: int = 0,
    epsilon: float = 0.1,
) -> float:
    """Self-BLEU (Zhu et al. 2018): mean sentence BLEU of each text against all the others as references.

    1.0 means every text is reproduced by the others; near 0 means no shared n-grams.

    - BLEU-``max_order`` with uniform weights, clipped counts against the maximum count in any other
      text, and the brevity penalty against the other text whose length is closest (ties: the shorter),
      as in the usual sentence-BLEU.
    - Smoothing: an order with no match gets precision ``epsilon / total`` (Chen & Cherry's method 1),
      so one missing 4-gram does not zero the score. Texts with fewer than ``max_order`` tokens use the
      orders they have, with the weights renormalised; empty texts score 0.
    - Exact, without an n×n loop: for each n-gram we keep the largest and second-largest count over the
      set and who holds the largest, so "the maximum count in any *other* text" is a lookup.
    - Sample: self-BLEU grows with the number of references, so sets of different sizes are only
      comparable at a fixed size. When the set has more than ``sample`` texts, a sample of ``sample``
      texts drawn without replacement by ``numpy.random.default_rng(seed)`` is scored against itself.
      ``sample=None`` uses every text.
    """
    docs = [tokenize(t) if isinstance(t, str) else list(t) for t in texts]
    if len(docs) < 2:
        return math.nan
    if sample is not None and len(docs) > sample:
        if sample < 2:
            raise ValueError("sample must be at least 2")
        rng = np.random.default_rng(seed)
        chosen = np.sort(rng.choice(len(docs), size=sample, replace=False))
        docs = [docs[i] for i in chosen]
    n_docs = len(docs)

    # per order: n-gram → [top count, holder of top, how many hold top, second count]
    counts: list[list[Counter[tuple[str, ...]]]] = []
    best: list[dict[tuple[str, ...], list[int]]] = []
    for order in range(1, max_order + 1):
        per_doc = [Counter(ngrams(doc, order)) for doc in docs]
        table: dict[tuple[str, ...], list[int]] = {}
        for i, counter in enumerate(per_doc):
            for gram, c in counter.items():
                entry = table.get(gram)
                if entry is None:
                    table[gram] = [c, i, 1, 0]
                elif c > entry[0]:
                    entry[3] = entry[0]
                    entry[0], entry[1], entry[2] = c, i, 1
                elif c == entry[0]:
                    entry[2] += 1
                    entry[3] = c
                elif c > entry[3]:
                    entry[3] = c
        counts.append(per_doc)
        best.append(table)

    lengths = np.array([len(d) for d in docs])
    length_counts = Counter(lengths.tolist())
    unique = np.array(sorted(length_counts))

    scores = np.zeros(n_docs)
    for i, doc in enumerate(docs):
        c = len(doc)
        if c == 0:
            continue
        orders = min(max_order, c)
        log_p = 0.0
        for k in range(orders):
            table = best[k]
            matched = 0
            for gram, cnt in counts[k][i].items():
                top, holder, holders, second = table[gram]
                other = second if (holder == i and holders == 1) else top
                matched += min(cnt, other)
            total = c - k
            precision = matched / total if matched else epsilon / total
            log_p += math.log(precision) / orders
        r = _closest_other_length(c, unique, length_counts)
        bp = 1.0 if c > r else math.exp(1.0 - r / c)
        scores[i] = bp * math.exp(log_p)
    return float(scores.mean())


def _closest_other_length(c: int, unique: NDArray[np.int_], length_counts: Counter[int]) -> int:
    """Length of the other text closest to ``c`` (ties: the shorter one)."""
    if length_counts[c] >= 2:
        return c
    idx = int(np.searchsorted(unique, c))  # unique[idx] == c (this text's own length)
    below = int(unique[idx - 1]) if idx > 0 else None
    above = int(unique[idx + 1]) if idx + 1 < len(unique) else None
    if below is None:
        return above if above is not None else c
    if above is None or c - below <= above - c:
        return below
    return above


# ------------------------------------------------------------------------------------------ embeddings


def normalize_rows(x: ArrayLike) -> NDArray[np.float64]:
    """Rows scaled to unit length (zero rows stay zero)."""
    arr = np.asarray(x, dtype=np.float64)
    if arr.ndim != 2:
        raise ValueError(f"expected a 2-d array of embeddings, got shape {arr.shape}")
    norms = np.linalg.norm(arr, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    return arr / norms


def mean_pairwise_cosine_distance(x: ArrayLike) -> float:
    """Mean of ``1 - cos(x_i, x_j)`` over all pairs ``i < j``, in O(n·d) without the n×n matrix.

    For unit rows, Σ_{i≠j} x_i·x_j = ‖Σ x_i‖² − n. ``nan`` for fewer than two rows.
    """
    xn = normalize_rows(x)
    n = xn.shape[0]
    if n < 2:
        return math.nan
    nonzero = float((np.linalg.norm(xn, axis=1) > 0).sum())
    total = xn.sum(axis=0)
    off_diagonal = float(total @ total) - nonzero
    return 1.0 - off_diagonal / (n * (n - 1))


def entropy_q(p: NDArray[np.float64], q: float = 1.0) -> float:
    """Rényi entropy of order ``q`` (Shannon for 1, min-entropy for inf) of a probability vector."""
    p = p[p > 0]
    if q == 1.0:
        return float(-(p * np.log(p)).sum())
    if math.isinf(q):
        return float(-np.log(p.max()))
    return float(np.log((p**q).sum()) / (1.0 - q))


def _vendi_from_eigenvalues(w: NDArray[np.float64], q: float) -> float:
    w = np.clip(w, 0.0, None)
    s = w.sum()
    if s <= 0:
        return math.nan
    return math.exp(entropy_q(w / s, q))


def vendi_score(x: ArrayLike, *, q: float = 1.0, method: str = "auto") -> float:
    """Vendi score (Friedman & Dieng 2023) with the cosine kernel: exp of the entropy of eig(K/n).

    ``K = X̂ X̂ᵀ`` for the unit-normalised rows ``X̂``. Its non-zero eigenvalues equal those of the d×d
    matrix ``X̂ᵀ X̂ / n`` (the *dual* form), so for n ≫ d the score costs one n×d×d product and a d×d
    eigendecomposition instead of an n×n one: 100,000 × 384 embeddings take seconds.

    ``method``: ``"dual"``, ``"direct"`` (the n×n kernel, for checking) or ``"auto"`` (dual when n > d).
    Identical rows score 1; n mutually orthogonal rows score n. ``nan`` for an empty set.
    """
    arr = np.asarray(x)
    if arr.ndim != 2:
        raise ValueError(f"expected a 2-d array of embeddings, got shape {arr.shape}")
    n, d = arr.shape
    if n == 0:
        return math.nan
    if method == "auto":
        method = "dual" if n > d else "direct"
    if method == "dual":
        # float32 product (BLAS syrk on 2 cores), float64 accumulation of the small d×d result
        x32 = np.asarray(arr, dtype=np.float32)
        norms = np.linalg.norm(x32, axis=1, keepdims=True)
        norms[norms == 0] = 1.0
        xn = x32 / norms
        gram = (xn.T @ xn).astype(np.float64) / n
        w = np.linalg.eigvalsh(gram)
    elif method == "direct":
        xn64 = normalize_rows(arr)
        w = np.linalg.eigvalsh((xn64 @ xn64.T) / n)
    else:
        raise ValueError(f"unknown method {method!r}: use 'auto', 'dual' or 'direct'")
    return _vendi_from_eigenvalues(w, q)


def vendi_score_kernel(k: ArrayLike, *, q: float = 1.0) -> float:
    """Vendi score of a precomputed similarity matrix with unit diagonal."""
    km = np.asarray(k, dtype=np.float64)
    if km.ndim != 2 or km.shape[0] != km.shape[1]:
        raise ValueError(f"expected a square kernel matrix, got shape {km.shape}")
    if km.shape[0] == 0:
        return math.nan
    return _vendi_from_eigenvalues(np.linalg.eigvalsh(km / km.shape[0]), q)


# ------------------------------------------------------------------------------------------- coverage


@dataclass
class Coverage:
    """How the values of one attribute spread over a set."""

    n: int  # values observed (blank ones excluded)
    distinct: int
    universe: int | None  # size of the declared value set, if there is one
    coverage: float | None  # distinct declared values seen ÷ universe
    evenness: float  # Shannon entropy ÷ its maximum (1 = every distinct value equally often)
    unexpected: int  # distinct values outside the declared set

    def to_dict(self) -> dict[str, float | int | None]:
        return {
            "n": self.n,
            "distinct": self.distinct,
            "universe": self.universe,
            "coverage": self.coverage,
            "evenness": None if math.isnan(self.evenness) else self.evenness,
            "unexpected": self.unexpected,
        }


def coverage(values: Iterable[str | None], universe: Collection[str] | None = None) -> Coverage:
    """Coverage of an attribute's values: how many of the declared values occur, and how evenly.

    ``universe`` is the declared value set (a lexicon, a factor's levels); without it only the number of
    distinct values and their evenness are known. Blank values are not counted.
    """
    observed = Counter(v.strip() for v in values if v is not None and v.strip())
    n = sum(observed.values())
    distinct = len(observed)
    if distinct > 1:
        p = np.array(list(observed.values()), dtype=np.float64) / n
        evenness = entropy_q(p) / math.log(distinct)
    elif distinct == 1:
        evenness = 1.0
    else:
        evenness = math.nan
    if universe is None:
        return Coverage(n, distinct, None, None, evenness, 0)
    declared = {u.strip() for u in universe if u.strip()}
    seen = declared & observed.keys()
    cov = len(seen) / len(declared) if declared else None
    return Coverage(n, distinct, len(declared), cov, evenness, len(observed.keys() - declared))


# ----------------------------------------------------------------------------------------- complexity


def length_stats(texts: Sequence[str], tokens: Sequence[Sequence[str]] | None = None) -> dict[str, float]:
    """Mean, median and 90th percentile of tokens and sentences per text (``tokens``: already tokenised)."""
    if not texts:
        return {k: math.nan for k in ("tokens_mean", "tokens_median", "tokens_p90", "sentences_mean")}
    docs = tokens if tokens is not None else [tokenize(t) for t in texts]
    tokens_per = np.array([len(d) for d in docs], dtype=np.float64)
    sentences = np.array([count_sentences(t) for t in texts], dtype=np.float64)
    return {
        "tokens_mean": float(tokens_per.mean()),
        "tokens_median": float(np.median(tokens_per)),
        "tokens_p90": float(np.percentile(tokens_per, 90)),
        "sentences_mean": float(sentences.mean()),
    }
