"""The logic guide's continuations, without a model: following any allowed continuation always yields a
certified-sound trace, and the allowed set is exactly the engine's one-step inferences (checked by hand)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from proceval.solvers.logic_guide import LogicGuide
from proceval.tasks import make_task
from proceval.tasks.logic import certify, theory_of

PROBLEM = ("[[object:rex]] [[prop:wumpus]] [[prop:tumpus]] [[prop:red]] [[prop:dumpus]] "
           "[[axiom:wumpus(rex)]] [[axiom:wumpus(x) -> tumpus(x)]] [[axiom:tumpus(x) -> not red(x)]] "
           "[[axiom:dumpus(x) -> red(x)]] [[goal:red(rex)]]")


def test_continuations_by_hand() -> None:
    guide = LogicGuide()
    assert guide.allowed(PROBLEM + " So") is None  # free text
    assert guide.allowed(PROBLEM + " [[axiom:") is None  # only inference blocks are constrained here
    assert guide.allowed(PROBLEM + " So [[infer:") == ["tumpus(rex)]]"]
    assert guide.allowed(PROBLEM + " So [[infer:tum") == ["pus(rex)]]"]
    assert guide.allowed(PROBLEM + " So [[infer:red") == []  # a prefix no valid step has
    text = PROBLEM + " [[infer:tumpus(rex)]] then [[infer:"
    assert guide.allowed(text) == ["not red(rex)]]"]
    assert guide.allowed(text + "not red(rex)]] and [[infer:") == ["nothing]]"]


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 10**6), index=st.integers(0, 100), picks=st.lists(st.integers(0, 10), min_size=6,
                                                                             max_size=6))
def test_any_guided_trace_is_sound_and_reaches_the_answer(seed: int, index: int, picks: list[int]) -> None:
    # the ablation condition: proceval formalises the problem, the "model" picks any allowed continuation
    item = make_task("prontoqa", {"hops": "1-3"}).item(seed, index)
    theory = theory_of(item.text, item.question)
    guide = LogicGuide(theory)
    text = ""
    for pick in picks:
        text += " [[infer:"
        options = guide.allowed(text)
        assert options
        text += options[pick % len(options)]
    certificate = certify(text, theory)
    assert certificate.soundness == 1.0 and not certificate.errors
    # at most 2·hops − 1 = 5 literals are derivable, so six steps saturate and the answer is established
    assert certificate.answer() == item.answer
