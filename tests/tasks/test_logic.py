"""The formal language and engine: one-step inferences, the proof checker's verdicts and reasons, parse errors
the model can read (never a crash), and a round trip of printed blocks through the parser."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from proceval.tasks.logic import Literal, LogicError, Rule, certify, parse_block
from proceval.tasks.logic.engine import Theory

PROBLEM = ("[[object:rex]] [[prop:wumpus]] [[prop:tumpus]] [[prop:red]] [[prop:dumpus]] "
           "[[axiom:wumpus(rex)]] [[axiom:wumpus(x) -> tumpus(x)]] [[axiom:tumpus(x) -> not red(x)]] "
           "[[axiom:dumpus(x) -> red(x)]] [[axiom:wumpus(x) and not red(x) -> dumpus(x)]] [[goal:red(rex)]]")


def test_one_step_inferences_by_hand() -> None:
    theory = certify(PROBLEM).theory
    assert [str(i.conclusion) for i in theory.inferences()] == ["tumpus(rex)"]
    theory.facts.append(Literal("tumpus", "rex"))
    assert [str(i.conclusion) for i in theory.inferences()] == ["not red(rex)"]
    theory.facts.append(Literal("red", "rex", True))
    # the rule with two conditions (one negated) fires only now
    assert [(str(i.conclusion), str(i.rule)) for i in theory.inferences()] == [
        ("dumpus(rex)", "wumpus(x) and not red(x) -> dumpus(x)")]


def test_a_valid_proof_certifies_and_answers() -> None:
    certificate = certify(PROBLEM + " [[infer:tumpus(rex)]] [[infer:not red(rex)]]")
    assert certificate.soundness == 1.0 and certificate.certified and certificate.answer() == "false"


@pytest.mark.parametrize(("step", "reason"), [
    ("[[infer:not red(rex)]]", "tumpus(rex) is not known"),           # skips a step
    ("[[infer:red(rex)]]", "dumpus(rex) is not known"),               # the distractor's conclusion
    ("[[infer:wumpus(rex)]]", "already known"),
    ("[[infer:tumpus(max)]]", "'max' is not a declared object"),
    ("[[infer:blue(rex)]]", "'blue' is not a declared property"),
    ("[[infer:not wumpus(rex)]]", "no rule concludes not wumpus(x)"),
    ("[[infer:nothing]]", "tumpus(rex) still follows"),
    ("[[infer:tumpus(rex]]", "is not a literal"),
    ("[[claim:tumpus(rex)]]", "unknown block kind 'claim'"),
])
def test_an_invalid_step_is_rejected_with_a_reason(step: str, reason: str) -> None:
    certificate = certify(PROBLEM + " " + step + " [[infer:tumpus(rex)]]")
    bad, good = certificate.steps[-2], certificate.steps[-1]
    assert not bad.ok and reason in bad.reason, bad.reason
    assert good.ok  # judged on what was validly established: the bad step left the theory unchanged
    assert certificate.answer() == "unknown" and not certificate.certified
    if bad.kind == "infer":
        assert certificate.soundness == 0.5


@pytest.mark.parametrize(("kind", "body", "reason"), [
    ("axiom", "wumpus(x) -> tumpus(rex)", "every literal of a rule is about the variable x"),
    ("axiom", "wumpus(x) -> tumpus(x) -> red(x)", "one '->'"),
    ("axiom", " -> red(x)", "has no condition before"),
    ("axiom", "wumpus(x) and -> red(x)", "is not a literal"),
    ("goal", "red(x)", "is about the variable x"),
    ("object", "Rex", "is not a name"),
    ("prop", "not", "is not a name"),
])
def test_parse_errors_say_what_is_wrong(kind: str, body: str, reason: str) -> None:
    with pytest.raises(LogicError) as error:
        parse_block(kind, body)
    assert reason in error.value.message


def test_undeclared_names_are_named() -> None:
    certificate = certify("[[object:rex]] [[axiom:wumpus(rex)]]")
    assert "[[prop:wumpus]]" in certificate.errors[0].reason


def test_nothing_left_is_accepted_when_nothing_follows() -> None:
    theory = Theory(objects=["rex"], props=["red"], facts=[Literal("red", "rex")])
    assert certify("[[infer:nothing]]", theory).steps[0].ok


names = st.from_regex(r"[a-z][a-z0-9_-]{0,8}", fullmatch=True).filter(lambda n: n not in ("x", "not", "and",
                                                                                          "nothing"))
literals = st.builds(Literal, names, st.just("x"), st.booleans())


@settings(max_examples=100, deadline=None)
@given(body=st.lists(literals, min_size=1, max_size=3), head=literals, fact=st.builds(Literal, names, names,
                                                                                        st.booleans()))
def test_printed_blocks_parse_back(body: list[Literal], head: Literal, fact: Literal) -> None:
    rule = Rule(tuple(body), head)
    assert parse_block("axiom", str(rule)).value == rule
    if fact.subject not in ("x", "not", "and", "nothing"):
        assert parse_block("axiom", str(fact)).value == fact


@settings(max_examples=100, deadline=None)
@given(text=st.text(max_size=80))
def test_any_text_is_judged_never_a_crash(text: str) -> None:
    certificate = certify(PROBLEM + " [[infer:" + text + "]]")
    assert len(certificate.steps) >= 11
