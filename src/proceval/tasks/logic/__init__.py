"""Deduction for the logic tasks: a formal language, a forward-chaining engine with a proof checker, and a
parser of the tasks' own sentences.

It lives with the tasks (not the solvers) because the tasks need it first: ``prontoqa`` writes each item's
formal version and gold proof in this language and certifies them, and the ``logic-guide`` solver builds on
the same engine (solvers already depend on tasks; the reverse would not be allowed). See ``docs/logic.md``.
"""

from proceval.tasks.logic.engine import Certificate, Inference, Step, Theory, certify
from proceval.tasks.logic.english import formalize, theory_of
from proceval.tasks.logic.language import Block, Literal, LogicError, Rule, find_blocks, parse_block

__all__ = ["Block", "Certificate", "Inference", "Literal", "LogicError", "Rule", "Step", "Theory", "certify",
           "find_blocks", "formalize", "parse_block", "theory_of"]
