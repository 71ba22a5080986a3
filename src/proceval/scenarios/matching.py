"""Which of several texts restates which reference: for published rows whose answer columns are not in a
reliable order (an LLM wrote them), so that an answer key follows from what each text says.

Two ways to compare a text with a reference:

- plain: the share of content words they have in common (Jaccard); enough when each text copies its reference.
- with ``poles`` (word stems that mark opposite stances, e.g. ``[[safe], [danger]]``): both texts mention the
  same things and differ only in which thing gets which stance ("X is safe, Y dangerous" vs "X is dangerous,
  Y safe"), so words shared by clauses of the same pole count for the match and words shared across poles
  count against it.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Sequence

_WORD = re.compile(r"[a-z][a-z'-]*")
# Clause boundaries: a stance word and the thing it is about stay in one clause.
_CLAUSE = re.compile(r"[.;!?](?:\s+|$)|,?\s+(?:and|but|while|whereas)\s+")
_STOP = frozenset(re.findall(r"\S+", (
    "a an the and or but if then that this these those it its is are was were be been being would could should "
    "can will may might must do does did not no to of in on at by for with from as so since because than there "
    "he she they him her them his hers their i you we me my your our thinks think thought believes believe "
    "believed wants want wanted also about")))


def _stem(word: str) -> str:
    return word[:5]  # a crude stem that is enough here: "hopes"/"hoped", "encounters"/"encountered"


def _words(text: str) -> set[str]:
    return {_stem(w) for w in _WORD.findall(text.lower()) if w not in _STOP}


def _terms(text: str) -> set[str]:
    """Content words and adjacent pairs of them: the pairs tell "wants Stanford, not Harvard" from the reverse."""
    words = [_stem(w) for w in _WORD.findall(text.lower()) if w not in _STOP]
    return set(words) | {f"{a} {b}" for a, b in itertools.pairwise(words)}


def _clauses(text: str, poles: Sequence[Sequence[str]]) -> list[tuple[int, set[str]]]:
    """(pole index, distinctive words) of each clause with exactly one pole; words in several such clauses
    name no one thing and are dropped."""
    marked = []
    for clause in _CLAUSE.split(text.lower()):
        raw = _WORD.findall(clause)
        hits = {i for i, stems in enumerate(poles) if any(w.startswith(s) for w in raw for s in stems)}
        if len(hits) == 1:
            pole_words = {w for w in raw if any(w.startswith(s) for stems in poles for s in stems)}
            marked.append((hits.pop(), {_stem(w) for w in raw if w not in _STOP and w not in pole_words}))
    counts: dict[str, int] = {}
    for _, words in marked:
        for w in words:
            counts[w] = counts.get(w, 0) + 1
    return [(pole, {w for w in words if counts[w] == 1}) for pole, words in marked]


def similarity(text: str, reference: str, poles: Sequence[Sequence[str]] = ()) -> float:
    """How strongly ``text`` restates ``reference`` (higher is closer; comparable only for one reference)."""
    if not poles:
        a, b = _terms(text), _terms(reference)
        return len(a & b) / len(a | b) if a | b else 0.0
    score = 0.0
    for pole_a, words_a in _clauses(text, poles):
        for pole_b, words_b in _clauses(reference, poles):
            shared = len(words_a & words_b)
            score += shared if pole_a == pole_b else -shared
    return score


def assign(texts: Sequence[str], references: Sequence[str],
           poles: Sequence[Sequence[str]] = ()) -> tuple[list[int] | None, str]:
    """The order of ``texts`` that puts each under the reference it restates: ``order[j]`` is the index of the
    text for reference j. ``None`` and the reason when two orders fit equally well (the row is ambiguous)."""
    scores = [[similarity(t, r, poles) for r in references] for t in texts]
    ranked = sorted(
        ((sum(scores[order[j]][j] for j in range(len(references))), list(order))
         for order in itertools.permutations(range(len(texts)), len(references))),
        key=lambda pair: -pair[0],
    )
    (best, order), runner_up = ranked[0], ranked[1][0] if len(ranked) > 1 else None
    if runner_up is not None and best <= runner_up:
        return None, f"ambiguous: two orders fit equally well (score {best:g})"
    return order, f"score {best:g} vs {runner_up:g}" if runner_up is not None else f"score {best:g}"
