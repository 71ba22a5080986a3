"""proceval's parser of the deduction tasks' own English sentences into the formal language.

It reads exactly the sentence forms :mod:`proceval.tasks.prontoqa` writes — "Every wumpus is a tumpus.", "Each
wumpus is not red.", "Alex is a wumpus.", "True or false: Alex is not red." — and is used for the ablation
condition in which proceval, not the model, formalises the problem. A sentence of another form is a
:class:`LogicError` naming it.
"""

from __future__ import annotations

import re

from proceval.tasks.logic.engine import Theory
from proceval.tasks.logic.language import Block, Literal, LogicError, Rule

_RULE = re.compile(r"^(?:every|each) ([a-z][a-z-]*) is (not )?(?:(?:a|an) )?([a-z][a-z-]*)$")
_FACT = re.compile(r"^([A-Z][a-z]+) is (not )?(?:(?:a|an) )?([a-z][a-z-]*)$")
_QUESTION = re.compile(r"^true or false: ([A-Z][a-z]+) is (not )?(?:(?:a|an) )?([a-z][a-z-]*)$", re.IGNORECASE)


def sentences(text: str) -> list[str]:
    return [s.strip() for s in re.split(r"(?<=[.?])\s+", text.strip()) if s.strip()]


def formalize(text: str, question: str) -> list[Block]:
    """The blocks of a problem: its objects and properties, then its facts and rules, then the goal."""
    objects: list[str] = []
    props: list[str] = []
    axioms: list[Block] = []

    def name(word: str, names: list[str]) -> str:
        word = word.lower()
        if word not in names:
            names.append(word)
        return word

    for sentence in sentences(text):
        body = sentence.rstrip(".")
        if match := _RULE.match(body[:1].lower() + body[1:]):
            condition = Literal(name(match[1], props), "x")
            axioms.append(Block("axiom", Rule((condition,), Literal(name(match[3], props), "x", bool(match[2])))))
        elif match := _FACT.match(body):
            axioms.append(Block("axiom", Literal(name(match[3], props), name(match[1], objects), bool(match[2]))))
        else:
            raise LogicError(f"cannot formalise the sentence {sentence!r}",
                             hint="the parser reads 'Every A is (not) (a) B.' and 'Name is (not) (a) B.'")
    match = _QUESTION.match(question.strip().rstrip("?."))
    if not match:
        raise LogicError(f"cannot formalise the question {question!r}",
                         hint="the parser reads 'True or false: Name is (not) (a) B.'")
    goal = Block("goal", Literal(name(match[3], props), name(match[1], objects), bool(match[2])))
    return [*(Block("object", o) for o in objects), *(Block("prop", p) for p in props), *axioms, goal]


def theory_of(text: str, question: str) -> Theory:
    """The :class:`Theory` of a problem's sentences (every block accepted)."""
    theory = Theory()
    for block in formalize(text, question):
        theory.add(block)
    return theory
