"""Answer parsing: clear answers are read in every common form; unclear ones are never guessed."""

from __future__ import annotations

import string

from hypothesis import given, settings
from hypothesis import strategies as st

from proceval.solvers.parse import parse_choice, parse_rating

LETTERS = list("ABCD")
TEXTS = ["in the box", "in the basket", "on the shelf", "under the bed"]

choice_forms = st.sampled_from([
    "{l}", "({l})", "{l}.", "{l})", "Answer: {l}", "answer: ({l})", "The answer is {l}.", "Final answer: {l}",
    "I think the answer is {l} because of the story.", "{l}) {t}", "Answer: {t}", "{t}",
    "Let me think. Sally did not see it move. Answer: {l}",
])


@given(index=st.integers(0, 3), form=choice_forms, lead=st.sampled_from(["", " ", "\n", "  "]))
def test_clear_choice_answers_are_read(index: int, form: str, lead: str) -> None:
    text = lead + form.format(l=LETTERS[index], t=TEXTS[index])
    assert parse_choice(text, LETTERS, TEXTS) == index


@given(first=st.integers(0, 3), last=st.integers(0, 3))
def test_the_last_explicit_answer_wins(first: int, last: int) -> None:
    text = f"Option {LETTERS[first]} looks likely at first.\nOn reflection, the answer is {LETTERS[last]}."
    assert parse_choice(text, LETTERS, TEXTS) == last


@settings(max_examples=300)
@given(st.text(alphabet=string.ascii_lowercase + " .,\n", max_size=60))
def test_text_without_labels_or_options_is_never_guessed(text: str) -> None:
    """Lower-case prose that names no option gives None (a lone letter like 'a' could be an article)."""
    words = text.split()
    if any(len(w.strip(".,")) == 1 for w in words) or any(t in text for t in TEXTS):
        return
    assert parse_choice(text, LETTERS, TEXTS) is None


@given(a=st.integers(0, 3), b=st.integers(0, 3))
def test_naming_two_options_is_ambiguous(a: int, b: int) -> None:
    if a == b:
        return
    text = f"It could be {TEXTS[a]} or {TEXTS[b]}."
    assert parse_choice(text, LETTERS, TEXTS) is None


def test_letters_outside_the_options_and_empty_text_are_invalid() -> None:
    assert parse_choice("Answer: E", LETTERS, TEXTS) is None
    assert parse_choice("", LETTERS, TEXTS) is None
    assert parse_choice("   \n", LETTERS, TEXTS) is None
    assert parse_choice("Answer: a ball", ["A", "B"], ["yes", "no"]) is None  # an article, not option a
    assert parse_choice("answer: b", ["A", "B"], ["yes", "no"]) == 1


@given(point=st.integers(1, 5), form=st.sampled_from(["{p}", "{p}/5", "{p} out of 5", "Answer: {p}",
                                                      "I would rate this {p}/5.", "Rating: {p}", "{p}."]))
def test_clear_ratings_are_read(point: int, form: str) -> None:
    assert parse_rating(form.format(p=point), 1, 5) == point


@given(a=st.integers(1, 5), b=st.integers(1, 5))
def test_two_different_numbers_without_an_explicit_answer_are_invalid(a: int, b: int) -> None:
    result = parse_rating(f"somewhere between {a} and {b}", 1, 5)
    assert result == (a if a == b else None)


def test_ratings_out_of_range_or_by_label() -> None:
    labels = {"1": "strongly disagree", "5": "strongly agree"}
    assert parse_rating("7", 1, 5) is None
    assert parse_rating("Answer: 0", 1, 5) is None
    assert parse_rating("I strongly agree", 1, 5, labels) == 5
    assert parse_rating("I strongly disagree", 1, 5, labels) == 1
    assert parse_rating("no idea", 1, 5, labels) is None
