"""Forward chaining over Horn rules with negated literals: the one-step inferences, and a proof checker.

A :class:`Theory` is what the blocks so far formalised: objects, properties, facts, rules and the goal. From it
:meth:`Theory.inferences` lists every literal that follows in one step (one rule whose every condition is a known
fact about one object) and is not known yet — the conclusions a guide allows inside an ``[[infer:…]]`` block.
:func:`certify` reads a text's blocks in order and judges each inference: soundness is the share of inference
steps that were valid, and the answer is True/False only if the goal or its negation was established.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal as Kind

from proceval.tasks.logic.language import Block, Literal, LogicError, Rule, find_blocks, parse_block


@dataclass(frozen=True)
class Inference:
    """A one-step conclusion and how it follows: the rule and the facts that meet its conditions."""

    conclusion: Literal
    rule: Rule
    premises: tuple[Literal, ...]


@dataclass
class Theory:
    """What has been formalised so far. :meth:`add` takes one block; an inference is accepted only if valid."""

    objects: list[str] = field(default_factory=list)
    props: list[str] = field(default_factory=list)
    facts: list[Literal] = field(default_factory=list)
    rules: list[Rule] = field(default_factory=list)
    goal: Literal | None = None

    def inferences(self) -> list[Inference]:
        """Every literal not yet known that one rule gives from known facts, in the order of the rules and
        objects (one :class:`Inference` per conclusion: the first rule that gives it)."""
        known = set(self.facts)
        found: dict[Literal, Inference] = {}
        for rule in self.rules:
            for obj in self.objects:
                premises = tuple(literal.about(obj) for literal in rule.body)
                conclusion = rule.head.about(obj)
                if conclusion not in known and conclusion not in found and all(p in known for p in premises):
                    found[conclusion] = Inference(conclusion, rule, premises)
        return list(found.values())

    def why_not(self, claim: Literal) -> str | None:
        """``None`` if ``claim`` follows in one step; otherwise the reason it does not."""
        if claim in self.facts:
            return f"{claim} is already known; infer something new"
        if any(i.conclusion == claim for i in self.inferences()):
            return None
        if claim.subject not in self.objects:
            return f"{claim.subject!r} is not a declared object"
        concluding = [r for r in self.rules if r.head == claim.about(r.head.subject)]
        if not concluding:
            return f"no rule concludes {claim.about('x')}"
        missing = sorted({str(p.about(claim.subject)) for r in concluding for p in r.body
                          if p.about(claim.subject) not in self.facts})
        return f"{claim} does not follow yet: {' or '.join(missing)} is not known"

    def add(self, block: Block) -> None:
        """Take ``block`` into the theory; a :class:`LogicError` (theory unchanged) if it cannot be accepted."""
        value = block.value
        if block.kind in ("object", "prop"):
            names = self.objects if block.kind == "object" else self.props
            if value not in names:
                names.append(str(value))
            return
        if block.kind == "infer" and value is None:
            left = self.inferences()
            if left:
                raise LogicError(f"'nothing' is wrong: {left[0].conclusion} still follows")
            return
        literals = (*value.body, value.head) if isinstance(value, Rule) else (value,)
        for literal in literals:
            assert isinstance(literal, Literal)
            if literal.prop not in self.props:
                raise LogicError(f"{literal.prop!r} is not a declared property; declare it with "
                                 f"[[prop:{literal.prop}]] first")
            if literal.subject != "x" and literal.subject not in self.objects:
                raise LogicError(f"{literal.subject!r} is not a declared object; declare it with "
                                 f"[[object:{literal.subject}]] first")
        if isinstance(value, Rule):
            self.rules.append(value)
        elif block.kind == "goal" and isinstance(value, Literal):
            self.goal = value
        elif block.kind == "infer" and isinstance(value, Literal):
            reason = self.why_not(value)
            if reason:
                raise LogicError(f"[[infer:{value}]] is not a valid step: {reason}")
            self.facts.append(value)
        elif isinstance(value, Literal) and value not in self.facts:
            self.facts.append(value)

    def answer(self) -> Kind["true", "false", "unknown"]:
        """True if the goal is known, False if its negation is, otherwise unknown."""
        if self.goal is None:
            return "unknown"
        if self.goal in self.facts:
            return "true"
        return "false" if self.goal.complement() in self.facts else "unknown"


@dataclass(frozen=True)
class Step:
    """One block of a checked text: its source, whether it was accepted, and why not."""

    text: str
    kind: str
    ok: bool
    reason: str = ""


@dataclass
class Certificate:
    """The judgement of a text's blocks: every step, the resulting theory, soundness and the answer."""

    steps: list[Step]
    theory: Theory

    @property
    def inferences(self) -> list[Step]:
        return [s for s in self.steps if s.kind == "infer"]

    @property
    def errors(self) -> list[Step]:
        """Blocks that did not parse or were not accepted (inferences and others)."""
        return [s for s in self.steps if not s.ok]

    @property
    def soundness(self) -> float | None:
        """Share of inference blocks that were valid steps (``None`` when there were none)."""
        steps = self.inferences
        return sum(s.ok for s in steps) / len(steps) if steps else None

    @property
    def certified(self) -> bool:
        """Every block accepted and the goal or its negation established."""
        return not self.errors and self.theory.answer() != "unknown"

    def answer(self) -> str:
        return self.theory.answer()


def certify(text: str, theory: Theory | None = None) -> Certificate:
    """Check the blocks of ``text`` in order, starting from ``theory`` (a copy is used; default: empty).
    A block that does not parse or is not a valid step is recorded with its reason and leaves the theory as it
    was, so later steps are judged on what was validly established."""
    theory = copy_theory(theory) if theory is not None else Theory()
    steps: list[Step] = []
    for _, _, kind, body in find_blocks(text):
        source = f"[[{kind}:{body}]]"
        kind_name = kind.strip()
        try:
            theory.add(parse_block(kind, body))
        except LogicError as error:
            steps.append(Step(source, kind_name, False, error.message))
        else:
            steps.append(Step(source, kind_name, True))
    return Certificate(steps, theory)


def copy_theory(theory: Theory) -> Theory:
    return Theory(list(theory.objects), list(theory.props), list(theory.facts), list(theory.rules), theory.goal)
