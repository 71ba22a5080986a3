"""The logic guide's continuation oracle: given the text a model has written so far, the strings it may write.

:class:`StepGuide` turns it into the core's stepwise guide constraint, which the ``logic-guide`` solver
(:mod:`proceval.solvers.logic_solver`) hands the model. Outside a block, and inside blocks other than
``[[infer:…]]``, the text is free (``None``). Inside an open ``[[infer:`` block only the completions of a
conclusion that follows in one step from what was formalised so far are allowed — or ``nothing]]`` when none
is left — filtered by what the model already wrote inside the block.
"""

from __future__ import annotations

from proceval.core.generate import Choice, Free, Regex, Step
from proceval.ids import content_id
from proceval.tasks.logic.engine import Theory, certify
from proceval.tasks.logic.language import KINDS, NOTHING

OPEN = "[["
CLOSE = "]]"


class LogicGuide:
    """Continuations under the guide. ``theory``: what is known before the model writes anything (proceval's
    formalisation of the problem in the ablation condition; empty when the model formalises it itself)."""

    def __init__(self, theory: Theory | None = None) -> None:
        self.theory = theory if theory is not None else Theory()

    def open_block(self, text: str) -> tuple[str, str, str] | None:
        """``(text before the block, kind, body so far)`` if ``text`` ends inside an unclosed block."""
        start = text.rfind(OPEN)
        if start < 0 or CLOSE in text[start:]:
            return None
        kind, colon, body = text[start + len(OPEN):].partition(":")
        return (text[:start], kind.strip(), body) if colon else None

    def allowed(self, text: str) -> list[str] | None:
        """The strings that may follow ``text`` (each ends the block), or ``None`` where the text is free."""
        block = self.open_block(text)
        if block is None or block[1] != "infer":
            return None
        before, _, typed = block
        theory = certify(before, self.theory).theory
        conclusions = [str(i.conclusion) for i in theory.inferences()] or [NOTHING]
        return [c[len(typed):] + CLOSE for c in conclusions if c.startswith(typed)]


# -- the stepwise guide the core's constraint runs (docs/logic-guide.md) ------------------------------------------
KIND_STEP = Choice([f"{kind}:" for kind in KINDS])
BODY_STEP = Regex(r"[^\[\]\n]{1,80}\]\]")  # one line up to the block's end; what it says is checked after
PROSE_STEP = Free(until=OPEN)
VERDICTS = {"true": "True", "false": "False", "unknown": "Unknown"}
FINALS = tuple(f"\nAnswer: {word}" for word in VERDICTS.values())


def feedback(reason: str) -> str:
    """The error text a model is made to write after a block the engine refused (no block brackets in it, so
    it is not read as a block)."""
    return f" (error: {reason.replace(OPEN, '').replace(CLOSE, '')}; the block is ignored)\n"


class StepGuide:
    """The :class:`~proceval.core.generate.Guide` of the ``logic-guide`` solver: free prose up to ``[[``, then a
    block kind (only ``infer`` when proceval formalised the problem), then its body — for ``infer`` one of the
    valid one-step conclusions or ``nothing``, for the other kinds one line checked when the block ends. A block
    the engine refuses is followed by its error message, which the model is made to write (and so reads); once
    the goal or its negation is established, or ``nothing`` is left, the answer it proves ends the response."""

    def __init__(self, theory: Theory | None = None, *, infer_only: bool = False) -> None:
        self.oracle = LogicGuide(theory)
        self.kinds = Choice(["infer:"]) if infer_only else KIND_STEP

    def allowed(self, text: str) -> Step | None:
        if text.endswith(FINALS):
            return None
        if text.endswith(OPEN):
            return self.kinds
        if (block := self.oracle.open_block(text)) is not None:
            return Choice(self.oracle.allowed(text) or []) if block[1] == "infer" else BODY_STEP
        if not text.endswith(CLOSE):
            return PROSE_STEP
        certificate = certify(text, self.oracle.theory)
        if not certificate.steps:  # "]]" in prose, not the end of a block
            return PROSE_STEP
        last = certificate.steps[-1]
        if not last.ok:
            return Choice([feedback(last.reason)])
        if certificate.answer() != "unknown" or last.text == f"{OPEN}infer:{NOTHING}{CLOSE}":
            return Choice([f"\nAnswer: {VERDICTS[certificate.answer()]}"])
        return PROSE_STEP

    def cache_key(self) -> str | None:
        theory = self.oracle.theory
        given = [theory.objects, theory.props, [str(f) for f in theory.facts], [str(r) for r in theory.rules],
                 str(theory.goal), self.kinds.options]
        return "logic-guide/1/" + content_id(*given)
