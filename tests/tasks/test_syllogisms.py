"""syllogisms: the validity of every item, checked independently by searching for a counter-model over the
eight regions of a three-set Venn diagram; the cells of validity × believability are balanced."""

from __future__ import annotations

import re
from collections import Counter

from hypothesis import given, settings
from hypothesis import strategies as st

from proceval.tasks import make_task

_STATEMENT = re.compile(r"^(All|No|Some) (.+?) are (not )?(.+)$")


def read(sentence: str) -> tuple[str, str, str]:
    match = _STATEMENT.match(sentence.strip().rstrip("."))
    assert match, sentence
    quantifier = "some-not" if match[3] else match[1].lower()
    return quantifier, match[2], match[4]


def holds(quantifier: str, a: int, b: int, occupied: set[frozenset[int]]) -> bool:
    """A statement about terms a, b in a model where ``occupied`` lists the non-empty Venn regions."""
    both = any(a in r and b in r for r in occupied)
    if quantifier == "all":
        return not any(a in r and b not in r for r in occupied)
    if quantifier == "no":
        return not both
    if quantifier == "some":
        return both
    return any(a in r and b not in r for r in occupied)


def valid(premises: list[str], conclusion: str) -> bool:
    """No assignment of empty/non-empty to the 8 regions makes the premises true and the conclusion false."""
    statements = [read(s) for s in [*premises, conclusion]]
    terms = sorted({t for _, a, b in statements for t in (a, b)})
    assert len(terms) == 3
    index = {t: i for i, t in enumerate(terms)}
    regions = [frozenset(i for i in range(3) if bits >> i & 1) for bits in range(8)]
    for mask in range(256):
        occupied = {r for k, r in enumerate(regions) if mask >> k & 1}
        truth = [holds(q, index[a], index[b], occupied) for q, a, b in statements]
        if all(truth[:-1]) and not truth[-1]:
            return False
    return True


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 10**6), index=st.integers(0, 100))
def test_validity_matches_a_counter_model_search(seed: int, index: int) -> None:
    task = make_task("syllogisms")
    item = task.item(seed, index)
    assert task.items(index + 1, seed)[index] == item
    premises, conclusion = item.metadata["premises"], item.metadata["conclusion"]
    assert item.text == " ".join(premises) + f" Therefore: {conclusion}"
    assert item.answer == ("valid" if valid(premises, conclusion) else "invalid")
    assert item.condition["validity"] == item.answer


def test_cells_and_forms_are_balanced() -> None:
    items = make_task("syllogisms").items(32, seed=1)
    cells = Counter((i.condition["validity"], i.condition["believability"], i.metadata["form"]) for i in items)
    assert len(cells) == 2 * 2 * 4 and set(cells.values()) == {2}


def test_believability_by_hand() -> None:
    # conclusions checked by hand: the lexicon's believable ones are true of the world, unbelievable ones false
    items = make_task("syllogisms").items(64, seed=0)
    conclusions = {i.metadata["conclusion"]: i.condition["believability"] for i in items}
    for sentence, label in [("All poodles are dogs.", "believable"), ("All dogs are poodles.", "unbelievable"),
                            ("No dogs are animals.", "unbelievable"), ("No trees are animals.", "believable")]:
        assert conclusions.get(sentence, label) == label
    assert {"believable", "unbelievable"} == set(conclusions.values())


def test_valid_forms_are_the_classic_ones() -> None:
    # Barbara valid, the undistributed middle invalid: checked by the counter-model search itself
    assert valid(["All M are P.", "All S are M."], "All S are P.")
    assert not valid(["All P are M.", "All S are M."], "All S are P.")
    assert make_task("syllogisms").items(4)[0].response_type == "choice"
