"""The ``logic-guide`` solver: a model reasons in prose and formal blocks, under the logic guide or not.

Three conditions, named in every record's ``strategy`` (and so in analyses and reports):

- ``cot`` (``--solver logic-cot``, or ``logic-guide`` with ``guide=false``): the same prompt and worked examples,
  no constraint — the unguided chain of thought. Its answer is what it writes after ``Answer:``; its blocks are
  checked afterwards, so soundness is measured;
- ``guided`` (``logic-guide``, the paper's setting): the model formalises the problem itself and writes under the
  :class:`~proceval.solvers.logic_guide.StepGuide`: inside ``[[infer:`` only valid one-step conclusions;
- ``guided-formalised`` (``--option formalise=proceval``): an ablation — proceval's parser of the task's own
  sentences formalises the problem (shown to the model, loaded into the guide) and the model writes only
  inferences, so the condition isolates the inference steps from formalisation.

Under the guide the answer is True or False only if the goal or its negation was established (the certificate's
answer); otherwise it is ``unknown``, scored wrong. Every record carries ``logic``: the condition, the answer,
the inference steps and how many were valid (soundness), the blocks the engine refused (each shown to the model
as an error message under the guide), the samples drawn and, of those, the redraws (a server without token
masking asked again after a text that broke the guide; at most the provider's ``constraint_retries`` a block).
"""

from __future__ import annotations

import re
import time
from dataclasses import asdict, dataclass
from typing import Any, ClassVar

from proceval.core.generate import GenerateConfig
from proceval.dataset import Item
from proceval.errors import ProcevalError, RunError
from proceval.models.base import LanguageModel, Message, ModelUnavailable, PromptTooLong
from proceval.models.cache import CachedModel
from proceval.solvers.base import Solver, new_record
from proceval.solvers.logic_guide import StepGuide
from proceval.solvers.model import Settings
from proceval.solvers.prompts import PromptBuilder
from proceval.solvers.scoring import call_seed
from proceval.solvers.subjects import Memory, Subject
from proceval.tasks.logic import Theory, certify, formalize, theory_of

FORMALISERS = ("model", "proceval")
CONDITIONS = {(False, "model"): "cot", (True, "model"): "guided", (True, "proceval"): "guided-formalised",
              (False, "proceval"): "cot-formalised"}
_ANSWER = re.compile(r"Answer:\s*(True|False|Unknown)", re.IGNORECASE)

SYSTEM = ("Reason step by step in formal blocks. [[object:NAME]] and [[prop:NAME]] declare names; "
          "[[axiom:P(obj)]] states a fact and [[axiom:P(x) -> Q(x)]] a rule (not P(x) negates); [[goal:P(obj)]] "
          "is the question; [[infer:P(obj)]] concludes what follows in one step, [[infer:nothing]] when nothing "
          "does. End with Answer: True, False or Unknown.")
# Two worked examples (one True, one False), written in the formats the guide enforces.
EXAMPLES = (
    ("Every lorpus is a gorpus. Polly is a lorpus. Every gorpus is sweet. Every brimpus is not sweet.",
     "True or false: Polly is sweet.", ["gorpus(polly)", "sweet(polly)"], "True"),
    ("Every zumpus is a yumpus. Every yumpus is not hot. Every zumpus is sour. Every numpus is hot. "
     "Wren is a zumpus.", "True or false: Wren is hot.", ["yumpus(wren)", "sour(wren)", "not hot(wren)"], "False"),
)


@dataclass(frozen=True)
class LogicGuideOptions:
    guide: bool = True  # constrain the formal blocks (false: unguided chain of thought)
    formalise: str = "model"  # who formalises the problem: model, or proceval (an ablation)
    max_tokens: int = 320  # tokens the model may write per problem
    examples: int = 2  # worked examples before the problem (0-2)

    def __post_init__(self) -> None:
        if self.formalise not in FORMALISERS:
            raise RunError(f"formalise={self.formalise!r}: choose model or proceval", field="option formalise")
        if not 0 <= self.examples <= len(EXAMPLES):
            raise RunError(f"examples={self.examples}: give 0 to {len(EXAMPLES)} worked examples",
                           field="option examples")
        if self.max_tokens < 1:
            raise RunError("max_tokens must be at least 1", field="option max_tokens")


def formal_text(text: str, question: str) -> str:
    return " ".join(str(block) for block in formalize(text, question))


def worked(text: str, question: str, steps: list[str], verdict: str, formalise: str) -> str:
    """A worked example's reasoning as the model is to write it."""
    inferences = " ".join(f"So [[infer:{step}]]" for step in steps)
    head = "" if formalise == "proceval" else formal_text(text, question) + "\n"
    return f"{head}{inferences}\nAnswer: {verdict}"


def problem_message(text: str, question: str, formalise: str) -> str:
    given = f"\nFormalised: {formal_text(text, question)}" if formalise == "proceval" else ""
    return f"{text}\n{question}{given}"


def messages_for(item: Item, formalise: str, examples: int = len(EXAMPLES)) -> list[Message]:
    messages = [Message("system", SYSTEM)]
    for text, question, steps, verdict in EXAMPLES[:examples]:
        messages += [Message("user", problem_message(text, question, formalise)),
                     Message("assistant", worked(text, question, steps, verdict, formalise))]
    return [*messages, Message("user", problem_message(item.text, item.question, formalise))]


class LogicGuideSolver(Solver):
    """A model under the logic guide (or not), on True/False deduction items (``prontoqa``). Options:
    ``guide`` (true), ``formalise`` (``model`` or ``proceval``), ``max_tokens`` (320), ``examples`` (2)."""

    name = "logic-guide"
    kind = "model"
    needs_model = True
    Options: ClassVar[type] = LogicGuideOptions
    options: ClassVar[LogicGuideOptions] = LogicGuideOptions()

    def __init__(self, model: CachedModel, builder: PromptBuilder, settings: Settings) -> None:
        self.model = model
        self.s = settings

    @classmethod
    def check_model(cls, model: LanguageModel) -> None:
        if cls.options.guide and not getattr(model, "can_continue_assistant", True):
            raise RunError(f"{model.spec} cannot continue a partial answer, which the guide needs after each block",
                           field="model", hint="use endpoint completions (--endpoint completions)")

    @property
    def condition(self) -> str:
        return CONDITIONS[self.options.guide, self.options.formalise]

    def identity(self) -> dict[str, Any]:
        return {"name": self.name, "condition": self.condition, **asdict(self.options)}

    def answer(self, item: Item, subject: Subject, position: int = 0, memory: Memory | None = None
               ) -> dict[str, Any]:
        record = new_record(item, subject, position, self.condition, "generate")
        start = time.perf_counter()
        try:
            self._answer(item, subject, record)
        except PromptTooLong as exc:
            record.update(status="too_long", error=exc.message)
        except ModelUnavailable:
            raise
        except ProcevalError as exc:  # a model error, or a problem proceval cannot formalise
            record.update(status="error", error=str(exc))
        record["latency_s"] = round(time.perf_counter() - start, 4)
        return record

    def _answer(self, item: Item, subject: Subject, record: dict[str, Any]) -> None:
        opts = self.options
        if sorted(o["key"] for o in item.options) != ["false", "true"]:
            raise RunError(f"item {item.id}: the logic-guide solver answers True/False deduction items "
                           "(the prontoqa task)", field="solver")
        theory = theory_of(item.text, item.question) if opts.formalise == "proceval" else Theory()
        guide = StepGuide(theory, infer_only=opts.formalise == "proceval") if opts.guide else None
        config = GenerateConfig(max_tokens=opts.max_tokens, temperature=self.s.temperature,
                                seed=call_seed(self.s.seed, subject.id, item.id), constraint=guide)
        messages = messages_for(item, opts.formalise, opts.examples)
        gen = self.model.generate(messages, config)
        certificate = certify(gen.text, theory)
        if opts.guide:
            answer = certificate.answer()
        else:
            said = _ANSWER.findall(gen.text)
            answer = said[-1].lower() if said else "unknown"
        inferences = certificate.inferences
        record.update(raw=gen.text, prompt_tokens=gen.prompt_tokens, completion_tokens=gen.completion_tokens,
                      choice=answer if answer in ("true", "false") else None, correct=answer == item.answer,
                      orders=[["true", "false"]], first_shown="true")
        record["logic"] = {
            "condition": self.condition, "answer": answer, "certified": certificate.certified,
            "inferences": len(inferences), "valid_inferences": sum(s.ok for s in inferences),
            "soundness": certificate.soundness, "block_errors": len(certificate.errors),
            "finish_reason": gen.finish_reason, "attempts": gen.attempts, "redraws": gen.redraws,
        }
        if not opts.guide and answer == "unknown" and not _ANSWER.search(gen.text):
            record["status"] = "invalid"  # the unguided model gave no answer (counted, scored wrong)


class LogicCotSolver(LogicGuideSolver):
    """The unguided condition (``cot``): ``logic-guide`` with ``guide=false``."""

    name = "logic-cot"
    options: ClassVar[LogicGuideOptions] = LogicGuideOptions(guide=False)
