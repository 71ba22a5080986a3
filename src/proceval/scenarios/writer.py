"""The LLM scenario writer: a model fills a template's variables, and every filling is checked before use.

For each of ``n`` scenario slots the writer

1. builds a prompt from the template itself: title and description, each variable's description and
   constraints in words, the causal graph in words, and ``k_examples`` example scenarios sampled (seeded)
   from a fixed pool: the ``examples`` given, else the template's ``examples``. With ``pool="grow"``
   accepted outputs join the pool; by default they do not, so the pool cannot drift toward the model's
   own style;
2. asks for one JSON object with a string field per variable, enforced by the backend where it can
   (a ``JsonSchema`` constraint: a token mask on llama.cpp and Hugging Face, ``response_format`` on
   OpenAI-compatible servers) and parsed
   leniently otherwise (code fences, text around the object, control characters inside strings);
3. validates it: parseable, every variable present and non-empty, the template's constraints
   (``template.check_scenario``), a yes/no judge model with the template's rubric (optional), and no
   near-duplicate of an accepted scenario (cosine similarity of sentence embeddings ≥ ``dedup_threshold``);
4. on rejection, retries up to ``max_retries`` times with the reasons fed back to the model.

Every rejection is counted by reason. Model calls go through the call cache
(:class:`proceval.models.cache.CachedModel`), each with a seed derived from (seed, slot, attempt): a
writer killed at any point and started again with the same arguments repeats no finished call.

Why over 400 lines: one job (ask a model for scenarios and keep the valid, new ones), whose steps — prompt,
parse, validate, judge, deduplicate — share the template's names and constraints and are each short.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from proceval.core.generate import GenerateConfig, JsonSchema
from proceval.errors import ModelError, SourceError
from proceval.ids import content_id
from proceval.models.base import LanguageModel, Message
from proceval.ui import progress_bar

if TYPE_CHECKING:
    from proceval.embeddings import Embedder
    from proceval.templates import Template

DEFAULT_RUBRIC = (
    "Is this scenario coherent and self-consistent, and does every field say what its description asks for?"
)

SYSTEM_PROMPT = (
    "You write scenarios for a controlled psychology experiment. Each scenario fills every field of a "
    "template with short, concrete, everyday text that fits the field's description and the causal "
    "structure. Write a new scenario, different from the examples. Reply with one JSON object only."
)

JUDGE_SYSTEM = "You check scenarios for an experiment. You answer only yes or no."


@dataclass
class WriterResult:
    """Accepted scenarios (variable → text), rejections counted by reason, and manifest information."""

    scenarios: list[dict[str, str]]
    rejections: Counter[str] = field(default_factory=Counter)
    info: dict[str, Any] = field(default_factory=dict)


@dataclass
class JudgeVerdict:
    passed: bool | None  # None when the judge's reply could not be read
    raw: str


# ----------------------------------------------------------------------------------------- prompts


def scenario_schema(names: Sequence[str]) -> dict[str, Any]:
    """JSON schema of one scenario: an object with one required, non-empty string per variable."""
    return {
        "type": "object",
        "properties": {name: {"type": "string", "minLength": 1} for name in names},
        "required": list(names),
        "additionalProperties": False,
    }


_JINJA_NAME = re.compile(r"{{\s*(\w+)\s*}}")


def describe_constraints(template: Template, name: str) -> str:
    c = template.variables[name].constraints
    parts = []
    if c.min_words is not None and c.max_words is not None:
        parts.append(f"{c.min_words}–{c.max_words} words")
    elif c.min_words is not None:
        parts.append(f"at least {c.min_words} words")
    elif c.max_words is not None:
        parts.append(f"at most {c.max_words} words")
    if c.pattern:
        parts.append(f"must match the regular expression {c.pattern}")
    for banned in c.must_not_mention:
        parts.append("must not mention " + _JINJA_NAME.sub(r"the value of \1", banned))
    for other in c.must_differ_from:
        parts.append(f"must differ from {other}")
    return "; ".join(parts)


def instructions(template: Template, names: Sequence[str]) -> str:
    """The part of the prompt that depends only on the template."""
    spec = template.spec
    lines = []
    if spec.title or spec.description:
        lines += [f"Template: {spec.title or spec.name}", spec.description.strip(), ""]
    lines.append("Fields:")
    for name in names:
        constraint = describe_constraints(template, name)
        lines.append(f"- {name}: {template.variables[name].description}" + (f" ({constraint})" if constraint else ""))
    lines += ["", "Causal structure (cause → effects):", template.describe_graph()]
    return "\n".join(line for line in lines if line is not None)


def build_messages(template: Template, names: Sequence[str], examples: Sequence[dict[str, str]],
                   feedback: list[tuple[str, str]] | None = None) -> list[Message]:
    """System + user prompt for one scenario; ``feedback`` holds (previous reply, reasons) of rejections."""
    user = [instructions(template, names), ""]
    for k, example in enumerate(examples, start=1):
        shown = {n: example[n] for n in names if n in example}
        user.append(f"Example {k}:\n{json.dumps(shown, ensure_ascii=False)}")
    user.append(
        "\nWrite one new scenario as a JSON object with exactly these keys: " + ", ".join(names) + "."
    )
    messages = [Message("system", SYSTEM_PROMPT), Message("user", "\n".join(user))]
    for reply, reasons in feedback or []:
        messages.append(Message("assistant", reply))
        messages.append(Message("user", f"That scenario was rejected: {reasons}. Write a different one that "
                                        "fixes this, as one JSON object with the same keys."))
    return messages


# ----------------------------------------------------------------------------------------- parsing


_FENCE = re.compile(r"```(?:json)?\s*(.*?)```", re.DOTALL)


def parse_scenario(text: str, names: Sequence[str]) -> tuple[dict[str, str] | None, str | None]:
    """The scenario in a model's reply, or ``(None, reason)``.

    Accepts a bare JSON object, one inside a code fence or surrounded by prose; raw control characters
    inside strings are tolerated (``strict=False``); numbers and booleans become text; keys are matched
    case-insensitively. Missing or empty fields and unknown keys are reasons to reject.
    """
    wanted = {n.lower() for n in names}
    decoder = json.JSONDecoder(strict=False)
    value: dict[str, Any] | None = None
    best = -1
    for candidate in [text] + [m.group(1) for m in _FENCE.finditer(text)]:
        start = candidate.find("{")
        while start != -1:
            try:
                found, _ = decoder.raw_decode(candidate, start)
            except ValueError:
                found = None
            if isinstance(found, dict):
                score = len(wanted & {str(k).strip().lower() for k in found})
                if score > best:  # the object with most of the expected keys wins
                    value, best = found, score
                if score == len(wanted):
                    break
            start = candidate.find("{", start + 1)
        if best == len(wanted):
            break
    if value is None:
        return None, "no JSON object in the reply"
    lowered = {str(k).strip().lower(): v for k, v in value.items()}
    out: dict[str, str] = {}
    missing = []
    for name in names:
        raw = lowered.get(name.lower())
        if isinstance(raw, str | int | float | bool) and str(raw).strip():
            out[name] = str(raw).strip()
        else:
            missing.append(name)
    if missing:
        return None, "missing or empty field(s): " + ", ".join(missing)
    return out, None


def judge_scenario(model: LanguageModel, rubric: str, values: dict[str, str], *,
                   template: Template | None = None, seed: int = 0) -> JudgeVerdict:
    """Ask ``model`` the yes/no ``rubric`` about one scenario (JSON-constrained where the backend can)."""
    described = values
    if template is not None:
        described = {f"{k} ({template.variables[k].description})" if k in template.variables else k: v
                     for k, v in values.items()}
    prompt = (f"Scenario:\n{json.dumps(described, ensure_ascii=False, indent=1)}\n\nQuestion: {rubric}\n"
              'Answer as JSON: {"verdict": "yes"} or {"verdict": "no"}.')
    schema = {"type": "object", "properties": {"verdict": {"type": "string", "enum": ["yes", "no"]}},
              "required": ["verdict"]}
    reply = model.generate([Message("system", JUDGE_SYSTEM), Message("user", prompt)],
                           GenerateConfig(max_tokens=16, seed=seed, constraint=JsonSchema(schema))).text
    try:
        verdict = json.JSONDecoder(strict=False).raw_decode(reply, max(reply.find("{"), 0))[0].get("verdict")
    except (ValueError, AttributeError):
        verdict = None
    if verdict not in ("yes", "no"):
        match = re.search(r"\b(yes|no)\b", reply, re.IGNORECASE)
        verdict = match.group(1).lower() if match else None
    return JudgeVerdict(None if verdict is None else verdict == "yes", reply)


# ------------------------------------------------------------------------------------------ writer


def default_cache_path() -> Path:
    root = os.environ.get("PROCEVAL_CACHE_DIR")
    return (Path(root) if root else Path.home() / ".cache" / "proceval") / "writer-calls.sqlite"


def _open_model(spec: str | LanguageModel, cache: str | os.PathLike[str] | None) -> Any:
    from proceval.models.base import load_model
    from proceval.models.cache import CachedModel, CallCache

    model = load_model(spec) if isinstance(spec, str) else spec
    return CachedModel(model, CallCache(cache if cache is not None else default_cache_path()))


def _call_seed(seed: int, *parts: Any) -> int:
    return int(content_id("writer", seed, *parts)[:8], 16)


class _Dedup:
    """Rejects a scenario whose embedding is within ``threshold`` cosine similarity of an accepted one."""

    def __init__(self, threshold: float | None, embedder: Embedder | None) -> None:
        self.threshold = threshold
        self._embedder = embedder
        self.vectors: list[np.ndarray] = []
        self.texts: set[str] = set()
        self.examples: set[str] = set()

    def add_example(self, text: str) -> None:
        self.examples.add(" ".join(text.lower().split()))

    def _embed(self, text: str) -> np.ndarray:
        if self._embedder is None:
            from proceval.embeddings import Embedder

            self._embedder = Embedder()
        return self._embedder.embed([text])[0]

    def check(self, text: str) -> str | None:
        key = " ".join(text.lower().split())
        if key in self.examples:
            return "copies an example"
        if key in self.texts:
            return "duplicate of an accepted scenario"
        if self.threshold is None or not self.vectors:
            return None
        vector = self._embed(text)
        sims = np.stack(self.vectors) @ vector
        best = float(sims.max())
        return f"near-duplicate (similarity {best:.2f})" if best >= self.threshold else None

    def add(self, text: str) -> None:
        self.texts.add(" ".join(text.lower().split()))
        if self.threshold is not None:
            self.vectors.append(self._embed(text))


def _reason_key(reason: str) -> str:
    """Group rejection reasons for counting: drop the numbers and quoted values that vary per attempt."""
    reason = re.sub(r"\(similarity [0-9.]+\)", "", reason)
    reason = re.sub(r"'[^']*'", "'…'", reason)
    return re.sub(r"\b\d+ words\b", "N words", reason).strip()


def write_scenarios(
    template: Template,
    *,
    model: str | LanguageModel,
    n: int,
    seed: int = 0,
    examples: list[dict[str, str]] | None = None,
    k_examples: int = 3,
    max_retries: int = 3,
    judge: str | LanguageModel | None = None,
    dedup_threshold: float | None = 0.92,
    pool: str = "fixed",
    temperature: float = 0.8,
    max_tokens: int = 512,
    cache: str | os.PathLike[str] | None = None,
    embedder: Embedder | None = None,
    progress: bool = True,
) -> WriterResult:
    """Let ``model`` (a spec such as ``local/smollm2-135m`` or a loaded model) fill ``n`` scenarios.

    See the module docstring for the procedure. ``cache`` is the call-cache file (default
    ``$PROCEVAL_CACHE_DIR/writer-calls.sqlite``); ``dedup_threshold=None`` keeps only the exact-duplicate
    check (no embedding model). Slots whose attempts are all rejected are given up and counted in
    ``info["gave_up"]``, so fewer than ``n`` scenarios may come back.
    """
    if n < 1:
        raise SourceError("the writer needs n ≥ 1 scenarios", field="n")
    if pool not in ("fixed", "grow"):
        raise SourceError(f"unknown example pool {pool!r}: use 'fixed' or 'grow'", field="pool")
    names = list(template.variables)
    base_pool = [dict(e) for e in (examples if examples is not None else template.spec.examples)]
    for k, example in enumerate(base_pool, start=1):
        unknown = set(example) - set(names)
        if unknown:
            raise SourceError(f"example {k} has fields the template does not declare: {', '.join(sorted(unknown))}",
                              field="examples", hint=f"the template's variables are: {', '.join(names)}")
    writer = _open_model(model, cache)
    judge_model = _open_model(judge, cache) if judge is not None else None
    rubric = (template.judge_rubric or DEFAULT_RUBRIC) if judge is not None else None
    schema = scenario_schema(names)
    dedup = _Dedup(dedup_threshold, embedder)
    for example in base_pool:
        dedup.add_example(_joined(example, names))
    rejections: Counter[str] = Counter()
    accepted: list[dict[str, str]] = []
    gave_up = 0
    attempts = 0
    rejected = 0
    grown: list[dict[str, str]] = []
    structured = True
    structured_error: str | None = None

    with progress_bar("writing scenarios", total=n, unit="scenarios", enabled=progress) as bar:
        for slot in range(n):
            current_pool = base_pool + (grown if pool == "grow" else [])
            rng = np.random.default_rng([seed, slot])
            k = min(k_examples, len(current_pool))
            chosen = [current_pool[i] for i in sorted(rng.choice(len(current_pool), size=k, replace=False))] \
                if k else []
            feedback: list[tuple[str, str]] = []
            for attempt in range(max_retries + 1):
                attempts += 1
                messages = build_messages(template, names, chosen, feedback)
                call_seed = _call_seed(seed, slot, attempt)
                config = GenerateConfig(max_tokens=max_tokens, temperature=temperature, seed=call_seed)
                try:
                    reply = writer.generate(messages, dataclasses.replace(
                        config, constraint=JsonSchema(schema) if structured else None)).text
                except ModelError as exc:
                    if not structured:
                        raise
                    # the backend refused the schema (a server without json_schema support): ask in
                    # words and parse leniently; if this call fails too, its error is the one raised
                    reply = writer.generate(messages, config).text
                    structured = False
                    structured_error = exc.message[:500]
                reasons = _validate(reply, names, template, judge_model, rubric, dedup, seed, slot, attempt)
                if not reasons:
                    values, _ = parse_scenario(reply, names)
                    assert values is not None
                    accepted.append(values)
                    dedup.add(_joined(values, names))
                    grown.append(values)
                    break
                rejected += 1
                rejections.update(_reason_key(r) for r in reasons)  # every problem counted, by kind
                feedback = [*feedback[-1:], (reply, "; ".join(reasons))]  # the latest rejection only: prompts stay short
            else:
                gave_up += 1
            bar.advance()
            bar.status(f"{len(accepted)} accepted, {sum(rejections.values())} rejected")

    info = {
        "model": model if isinstance(model, str) else getattr(model, "spec", type(model).__name__),
        "identity": asdict(writer.identity),
        "sampling": {"temperature": temperature, "max_tokens": max_tokens, "seed": seed,
                     "call_seed": "sha256(writer, seed, slot, attempt)[:8]"},
        "structured_output": "json_schema" if structured else "prompt only (the backend enforces no schema)",
        "structured_output_error": structured_error,
        "prompts": {"system": SYSTEM_PROMPT, "instructions": instructions(template, names),
                    "json_schema": schema},
        "examples": {"pool": pool, "k": k_examples, "given": len(base_pool)},
        "max_retries": max_retries,
        "judge": None if judge_model is None else {
            "model": judge if isinstance(judge, str) else getattr(judge, "spec", "model"),
            "identity": asdict(judge_model.identity), "rubric": rubric, "system": JUDGE_SYSTEM},
        "dedup_threshold": dedup_threshold,
        "n": n,
        "accepted": len(accepted),
        "attempts": attempts,
        "gave_up": gave_up,
        "rejected_attempts": rejected,
        "rejections": dict(rejections),
        "calls": writer.calls + (judge_model.calls if judge_model else 0),
        "cache_hits": writer.hits + (judge_model.hits if judge_model else 0),
        "cache": str(writer.cache.path) if writer.cache is not None else None,
    }
    return WriterResult(accepted, rejections, info)


def _joined(values: dict[str, str], names: Sequence[str]) -> str:
    return " ".join(values[n] for n in names if n in values)


def _validate(reply: str, names: list[str], template: Template, judge_model: Any, rubric: str | None,
              dedup: _Dedup, seed: int, slot: int, attempt: int) -> list[str]:
    """Why a reply is rejected (empty when accepted); the judge is asked only about otherwise valid ones."""
    values, reason = parse_scenario(reply, names)
    if values is None:
        return [reason or "unparseable reply"]
    problems = template.check_scenario(values)
    if problems:
        return problems
    duplicate = dedup.check(_joined(values, names))
    if duplicate:
        return [duplicate]
    if judge_model is not None and rubric is not None:
        verdict = judge_scenario(judge_model, rubric, values, template=template,
                                 seed=_call_seed(seed, "judge", slot, attempt))
        if verdict.passed is None:
            return ["judge reply unreadable"]
        if not verdict.passed:
            return ["judge said no"]
    return []


WriterFn = Callable[..., WriterResult]
