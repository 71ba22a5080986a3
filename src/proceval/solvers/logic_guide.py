"""The logic guide's continuation oracle: given the text a model has written so far, the strings it may write.

This is the object the ``logic-guide`` solver hands the core's stepwise guide constraint (the solver itself,
which runs a model through that constraint, comes with it). Outside a block, and inside blocks other than
``[[infer:…]]``, the text is free (``None``). Inside an open ``[[infer:`` block only the completions of a
conclusion that follows in one step from what was formalised so far are allowed — or ``nothing]]`` when none
is left — filtered by what the model already wrote inside the block.
"""

from __future__ import annotations

from proceval.tasks.logic.engine import Theory, certify
from proceval.tasks.logic.language import NOTHING

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
