"""The formal language of the blocks a model writes while it reasons (after LogicGuide, Poesia et al. 2023).

A block is ``[[kind:body]]``; the kinds are

- ``[[object:alex]]`` declares an object; ``[[prop:wumpus]]`` declares a property (a one-place predicate);
- ``[[axiom:wumpus(alex)]]`` states a fact, a literal ``[not] PROP(OBJECT)``;
- ``[[axiom:wumpus(x) and not red(x) -> tumpus(x)]]`` states a Horn rule: literals joined by ``and``, ``->``,
  one literal; its argument is the variable ``x`` (a rule speaks of every object);
- ``[[goal:not red(alex)]]`` names the literal the question asks about;
- ``[[infer:tumpus(alex)]]`` claims a literal that follows in one step; ``[[infer:nothing]]`` says none is left.

Names are lower case (letters, digits, ``-`` and ``_``). A body that does not parse raises :class:`LogicError`,
whose message says what is wrong in words a model (or a person) can act on.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from proceval.errors import ProcevalError

KINDS = ("object", "prop", "axiom", "goal", "infer")
VARIABLE = "x"
NOTHING = "nothing"
NAME = r"[a-z][a-z0-9_-]*"
_LITERAL = re.compile(rf"^(not\s+)?({NAME})\(\s*({NAME})\s*\)$")
BLOCK = re.compile(r"\[\[([^\]:]*):([^\]]*)\]\]")


class LogicError(ProcevalError):
    """A block the engine cannot read or accept; the message is meant to be shown to the model."""


@dataclass(frozen=True, order=True)
class Literal:
    """``prop(subject)`` or, with ``negated``, ``not prop(subject)``; ``subject`` may be the variable ``x``."""

    prop: str
    subject: str
    negated: bool = False

    def __str__(self) -> str:
        return f"{'not ' if self.negated else ''}{self.prop}({self.subject})"

    def complement(self) -> Literal:
        return Literal(self.prop, self.subject, not self.negated)

    def about(self, subject: str) -> Literal:
        return Literal(self.prop, subject, self.negated)


@dataclass(frozen=True)
class Rule:
    """``body[0] and … -> head``, every literal about the variable ``x``."""

    body: tuple[Literal, ...]
    head: Literal

    def __str__(self) -> str:
        return f"{' and '.join(map(str, self.body))} -> {self.head}"


@dataclass(frozen=True)
class Block:
    """One parsed block: ``kind`` and its value (a name, a literal, a rule, or ``None`` for ``infer:nothing``)."""

    kind: str
    value: str | Literal | Rule | None

    def __str__(self) -> str:
        return f"[[{self.kind}:{NOTHING if self.value is None else self.value}]]"


def parse_literal(text: str) -> Literal:
    """``"not red(alex)"`` → ``Literal("red", "alex", True)``."""
    match = _LITERAL.match(" ".join(text.split()))
    if not match:
        raise LogicError(f"{text.strip()!r} is not a literal; write PROP(OBJECT) or not PROP(OBJECT), "
                         "e.g. wumpus(alex) or not red(x), with lower-case names")
    return Literal(match[2], match[3], bool(match[1]))


def parse_rule(text: str) -> Rule:
    """``"wumpus(x) and not red(x) -> tumpus(x)"`` → a :class:`Rule` (every literal about ``x``)."""
    body_text, arrow, head_text = text.partition("->")
    if not arrow or "->" in head_text:
        raise LogicError(f"{text.strip()!r} is not a rule; write LITERAL and LITERAL -> LITERAL with one '->'")
    body = tuple(parse_literal(part) for part in re.split(r"\s+and\s+", body_text.strip()) if part)
    head = parse_literal(head_text)
    if not body:
        raise LogicError(f"the rule {text.strip()!r} has no condition before '->'")
    for literal in (*body, head):
        if literal.subject != VARIABLE:
            raise LogicError(f"in the rule {text.strip()!r}, {literal} is about {literal.subject!r}; every literal "
                             f"of a rule is about the variable {VARIABLE} (state a fact about one object as "
                             f"[[axiom:{literal}]] instead)")
    return Rule(body, head)


def parse_block(kind: str, body: str) -> Block:
    """The block ``[[kind:body]]``; :class:`LogicError` says what is wrong with it."""
    kind, body = kind.strip(), body.strip()
    if kind not in KINDS:
        raise LogicError(f"unknown block kind {kind!r}; the kinds are {', '.join(KINDS)}")
    if kind in ("object", "prop"):
        if not re.fullmatch(NAME, body) or body in (VARIABLE, NOTHING, "not", "and"):
            raise LogicError(f"[[{kind}:{body}]]: {body!r} is not a name; a name is lower-case letters, digits, "
                             f"'-' or '_' (not x, not, and or nothing)")
        return Block(kind, body)
    if kind == "axiom":
        return Block(kind, parse_rule(body) if "->" in body else _fact(body, kind))
    if kind == "infer" and body == NOTHING:
        return Block(kind, None)
    return Block(kind, _fact(body, kind))


def _fact(body: str, kind: str) -> Literal:
    literal = parse_literal(body)
    if literal.subject == VARIABLE:
        raise LogicError(f"[[{kind}:{body}]] is about the variable {VARIABLE}; a {kind} is about one object "
                         f"(a statement about every object is a rule, LITERAL -> LITERAL)")
    return literal


def find_blocks(text: str) -> list[tuple[int, int, str, str]]:
    """Every ``[[kind:body]]`` in ``text``: (start, end, kind, body), in order."""
    return [(m.start(), m.end(), m[1], m[2]) for m in BLOCK.finditer(text)]
