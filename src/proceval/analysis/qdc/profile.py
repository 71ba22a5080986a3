"""The quality–diversity–complexity profile of one dataset (or scenario set).

``profile(path)`` reads a dataset directory (``proceval.dataset.Dataset``) or a scenarios JSONL file and
returns a JSON-ready dict::

    {"name", "path", "kind", "n_scenarios", "n_items",
     "quality":    {"validity": {...}, "items": {...}, "writer": {...}, "judge": {...}, "reference": {...}},
     "diversity":  {"scenarios": {...}, "items": {...}, "coverage": {...}},
     "complexity": {"scenarios": {...}, "items": {...}, "causal_steps": {...}, "reference": {...}},
     "headline":   {flat numbers for the cross-dataset table},
     "notes":      [what could not be computed, and why]}

Diversity is computed twice: on the scenarios (each scenario's variable values joined in template order)
and on the rendered items (story + question, one text per item, so a story repeated across conditions
counts once per condition, as the models see it). Undefined numbers are ``None``.

Why over 400 lines: one job (the QDC profile of one source) in short sections: loading, validity, diversity,
coverage and causal complexity, reference answers, the judge, the headline numbers.
"""

from __future__ import annotations

import json
import math
import os
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from proceval.analysis.qdc import metrics
from proceval.dataset import MANIFEST_FILE, Dataset, Item
from proceval.embeddings import Embedder
from proceval.errors import AnalysisError, DatasetError, ProcevalError

if TYPE_CHECKING:
    from proceval.templates import Template
    from proceval.ui import Bar

HEADLINE_KEYS = [
    "validity",
    "judge_pass",
    "reference_accuracy",
    "distinct_1",
    "distinct_2",
    "distinct_3",
    "self_bleu",
    "compression_ratio",
    "embedding_distance",
    "vendi",
    "tokens_mean",
    "sentences_mean",
    "causal_steps_mean",
    "reference_loss",
]


@dataclass
class Source:
    """What a profile reads: scenarios (variable → text), rendered items, and the template if known."""

    name: str
    path: Path
    kind: str  # "dataset" | "scenarios"
    scenarios: list[dict[str, str]]
    scenario_ids: list[str]
    items: list[Item] = field(default_factory=list)
    template: Template | None = None
    manifest: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def load_source(path: str | os.PathLike[str], name: str | None = None) -> Source:
    """A dataset directory, or a JSONL file of scenarios (``{"variables": {...}}`` or flat ``{var: text}``)."""
    root = Path(path)
    if root.is_dir() or (root / MANIFEST_FILE).exists():
        dataset = Dataset.load(root)
        scenarios = dataset.scenarios
        source = Source(
            name=name or dataset.name,
            path=root,
            kind="dataset",
            scenarios=[s.variables for s in scenarios],
            scenario_ids=[s.id for s in scenarios],
            items=dataset.items,
            manifest=dataset.manifest.model_dump(mode="json"),
        )
        text = dataset.template_text()
        if text is None:
            source.notes.append("no template.yaml in the dataset: validity and causal steps not computed")
        else:
            source.template = _load_template(text, root / "template.yaml", source.notes)
        if not scenarios:
            source.notes.append("no scenarios.jsonl in the dataset: scenario-level metrics not computed")
        return source
    if root.is_file():
        return _load_scenario_file(root, name)
    raise DatasetError(
        "no such dataset directory or scenarios file",
        file=root,
        hint="pass a `proceval generate --out` directory or a JSONL file of scenarios",
    )


def _load_template(text: str, path: Path, notes: list[str]) -> Template | None:
    try:
        from proceval.templates import load_template_text
    except ImportError:  # pragma: no cover - the template package is part of proceval
        notes.append("the template package is unavailable: validity not computed")
        return None
    try:
        return load_template_text(text, path=path, display=str(path))
    except ProcevalError as exc:
        notes.append(f"template.yaml does not load ({exc.message}): validity and causal steps not computed")
        return None


def _load_scenario_file(path: Path, name: str | None) -> Source:
    scenarios: list[dict[str, str]] = []
    ids: list[str] = []
    with path.open(encoding="utf-8") as f:
        for number, line in enumerate(f, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except ValueError as exc:
                raise DatasetError(f"not JSON: {exc}", file=path, line=number,
                                   hint="one scenario object per line") from None
            if not isinstance(record, dict):
                raise DatasetError("a scenario line must be a JSON object", file=path, line=number)
            values = record.get("variables", record)
            if not isinstance(values, dict) or not all(isinstance(v, str) for v in values.values()):
                raise DatasetError("scenario variables must map names to text", file=path, line=number,
                                   field="variables")
            scenarios.append(dict(values))
            ids.append(str(record.get("id", f"line{number}")))
    if not scenarios:
        raise DatasetError("the scenarios file is empty", file=path)
    return Source(name=name or path.stem, path=path, kind="scenarios", scenarios=scenarios, scenario_ids=ids,
                  notes=["a scenarios file has no rendered items: item-level metrics not computed"])


# ------------------------------------------------------------------------------------------ pieces


def scenario_text(values: dict[str, str], order: Sequence[str] | None = None) -> str:
    """A scenario as one text: its values in template order (else file order), blank ones left out."""
    names = [n for n in order if n in values] if order else list(values)
    return " ".join(str(values[n]).strip() for n in names if str(values[n]).strip())


def item_text(item: Item) -> str:
    return f"{item.text} {item.question}".strip()


def tokenized(texts: Sequence[str]) -> list[list[str]]:
    """Tokens of each text, each distinct text tokenised once."""
    memo: dict[str, list[str]] = {}
    return [memo[t] if t in memo else memo.setdefault(t, metrics.tokenize(t)) for t in texts]


def diversity(texts: Sequence[str], embeddings: np.ndarray | None, *, sample: int, seed: int,
              tokens: Sequence[Sequence[str]] | None = None) -> dict[str, Any]:
    docs = tokens if tokens is not None else tokenized(texts)
    distinct = metrics.distinct_ns(docs, (1, 2, 3))
    out: dict[str, Any] = {
        "n": len(texts),
        "distinct_1": distinct[1],
        "distinct_2": distinct[2],
        "distinct_3": distinct[3],
        "self_bleu": metrics.self_bleu(docs, sample=sample, seed=seed),
        "self_bleu_sample": min(len(texts), sample),
        "compression_ratio": metrics.compression_ratio(texts),
        "unique_texts": len(set(texts)),
    }
    if embeddings is not None:
        out["embedding_distance"] = metrics.mean_pairwise_cosine_distance(embeddings)
        out["vendi"] = metrics.vendi_score(embeddings)
    return out


def validity(source: Source) -> dict[str, Any]:
    """Scenarios passing the template's constraint checks (or, without a template, no empty value)."""
    reasons: Counter[str] = Counter()
    valid = 0
    for values in source.scenarios:
        if source.template is not None:
            problems = source.template.check_scenario(values)
        else:
            problems = [f"{k}: missing or empty" for k, v in values.items() if not str(v).strip()]
        if problems:
            for p in problems:
                reasons[_reason_kind(p)] += 1
        else:
            valid += 1
    n = len(source.scenarios)
    return {
        "checked_by": "template constraints" if source.template is not None else "non-empty values",
        "n": n,
        "valid": valid,
        "rate": valid / n if n else None,
        "violations": dict(reasons.most_common()),
    }


_KINDS = [("missing or empty", "missing or empty"), ("fewer than", "too few words"),
          ("more than", "too many words"), ("does not match", "pattern"), ("mentions", "mentions banned text"),
          ("same as", "same as another variable")]


def _reason_kind(problem: str) -> str:
    """``"agent: 3 words, more than 2"`` → ``"agent: too many words"``, so counts group by variable and kind."""
    head, _, rest = problem.partition(": ")
    for marker, kind in _KINDS:
        if marker in rest:
            return f"{head}: {kind}"
    return problem


def item_checks(items: Sequence[Item]) -> dict[str, Any]:
    """Structural checks of rendered items: answer among the options, options distinct, text not empty."""
    problems: Counter[str] = Counter()
    bad = 0
    for item in items:
        issues = []
        if not item.text.strip() or not item.question.strip():
            issues.append("empty text or question")
        if item.response_type == "choice":
            keys = [o["key"] for o in item.options]
            texts = [o["text"].strip().lower() for o in item.options]
            if item.answer is not None and item.answer not in keys:
                issues.append("answer not among the options")
            if len(set(texts)) < len(texts):
                issues.append("two options with the same text")
            if any(not t for t in texts):
                issues.append("empty option")
        problems.update(issues)
        bad += bool(issues)
    n = len(items)
    return {"n": n, "valid": n - bad, "rate": (n - bad) / n if n else None, "problems": dict(problems)}


def coverage_of(source: Source) -> dict[str, Any]:
    """Per variable: distinct values and evenness; per factor level and condition: coverage of the design."""
    out: dict[str, Any] = {"variables": {}, "conditions": None}
    names: list[str] = list(source.template.variables) if source.template else []
    for values in source.scenarios:
        names.extend(k for k in values if k not in names)
    for name in names:
        c = metrics.coverage(values.get(name) for values in source.scenarios)
        out["variables"][name] = c.to_dict()
    if source.items:
        declared = list((source.manifest.get("conditions") or {}).keys())
        seen = [item.condition_name for item in source.items]
        out["conditions"] = metrics.coverage(seen, universe=declared or None).to_dict()
    return out


def causal_steps(template: Template) -> dict[str, int]:
    """Per question: edges on the longest directed path of the causal graph into what the answer uses.

    "What the answer uses" is every graph node named in the question's answer expression, its text or its
    options. A structural proxy for how many causal steps answering requires; 0 when the question touches
    no node of the graph.
    """
    edges = template.graph_edges
    parents: dict[str, list[str]] = defaultdict(list)
    for cause, effect in edges:
        parents[effect].append(cause)
    nodes = {n for edge in edges for n in edge}
    depth_cache: dict[str, int] = {}

    def depth(node: str, seen: frozenset[str] = frozenset()) -> int:
        if node in depth_cache:
            return depth_cache[node]
        if node in seen:  # a cycle: the template validator refuses these, stay safe anyway
            return 0
        value = max((1 + depth(p, seen | {node}) for p in parents.get(node, [])), default=0)
        depth_cache[node] = value
        return value

    import re

    word = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
    steps: dict[str, int] = {}
    for question in template.questions:
        texts = [question.text, question.response.answer or ""]
        texts += [o.text for o in question.response.options]
        used = {w for t in texts for w in word.findall(t)} & nodes
        steps[question.name] = max((depth(n) for n in used), default=0)
    return steps


def reference_stats(source: Source, run_path: str | os.PathLike[str]) -> dict[str, Any]:
    """Answerability and model-based difficulty from a reference model's run on this dataset."""
    from proceval.run.io import load_run

    run = load_run(run_path)
    answers = {item.id: item for item in source.items}
    responses = [r for r in run.responses if r.get("item_id") in answers]
    if not responses:
        raise AnalysisError(
            "the reference run answers none of this dataset's items",
            file=run.path,
            hint=f"give a run made on {source.path} (proceval run {source.path} ...)",
        )
    foreign = len(run.responses) - len(responses)
    per_subject: dict[str, Any] = {}
    for subject in sorted({r["subject"] for r in responses}):
        mine = [r for r in responses if r["subject"] == subject]
        scored = [r for r in mine if r.get("correct") is not None]
        by_condition: dict[str, list[bool]] = defaultdict(list)
        for r in scored:
            by_condition[r.get("condition_name") or answers[r["item_id"]].condition_name].append(bool(r["correct"]))
        losses = []
        for r in mine:
            answer = answers[r["item_id"]].answer
            probs = r.get("probs")
            if answer is not None and isinstance(probs, dict) and answer in probs:
                losses.append(-math.log(max(float(probs[answer]), 1e-12)))
        statuses = Counter(r.get("status", "ok") for r in mine)
        per_subject[subject] = {
            "responses": len(mine),
            "scored": len(scored),
            "accuracy": float(np.mean([r["correct"] for r in scored])) if scored else None,
            "accuracy_by_condition": {c: float(np.mean(v)) for c, v in sorted(by_condition.items())},
            "loss": float(np.mean(losses)) if losses else None,
            "loss_n": len(losses),
            "statuses": dict(statuses),
            "unanswered_items": len(answers) - len({r["item_id"] for r in mine}),
        }
    return {"run": str(run.path), "foreign_responses": foreign, "subjects": per_subject}


# ------------------------------------------------------------------------------------------ profile


def profile(
    path: str | os.PathLike[str] | Source,
    *,
    embedder: Embedder | None = None,
    reference: str | os.PathLike[str] | None = None,
    judge: str | None = None,
    judge_limit: int | None = None,
    self_bleu_sample: int = 1000,
    seed: int = 0,
    progress: Bar | None = None,
) -> dict[str, Any]:
    """The QDC profile of a dataset directory or scenarios file (see the module docstring).

    ``embedder`` (an :class:`Embedder`) adds embedding distance and the Vendi score; ``reference`` (a run
    directory of a model on this dataset) adds answerability and model-based difficulty; ``judge`` (a model
    spec) asks that model the template's yes/no rubric about each scenario (the first ``judge_limit``).
    """
    source = path if isinstance(path, Source) else load_source(path)
    notes = list(source.notes)
    order = list(source.template.variables) if source.template else None
    s_texts = [scenario_text(v, order) for v in source.scenarios]
    i_texts = [item_text(item) for item in source.items]

    s_emb = i_emb = None
    if embedder is not None:
        unique = list(dict.fromkeys(s_texts + i_texts))
        advance = progress.add(f"embedding {source.name}", len(unique)).advance if progress else None
        table = embedder.embed(unique, progress=advance)
        index = {t: k for k, t in enumerate(unique)}
        s_emb = table[[index[t] for t in s_texts]] if s_texts else None
        i_emb = table[[index[t] for t in i_texts]] if i_texts else None
    else:
        notes.append("embeddings off: embedding distance and Vendi not computed")

    quality: dict[str, Any] = {"validity": validity(source) if source.scenarios else None}
    if source.items:
        quality["items"] = item_checks(source.items)
    if (source.manifest.get("source") or {}).get("kind") == "writer":
        info = source.manifest.get("writer") or {}
        quality["writer"] = {k: info.get(k) for k in ("model", "accepted", "attempts", "rejections")}
    if judge is not None:
        quality["judge"] = _judge(source, judge, judge_limit, notes)
    complexity: dict[str, Any] = {}
    if reference is not None:
        ref = reference_stats(source, reference)
        quality["reference"] = ref
        complexity["reference"] = {
            s: {"accuracy": v["accuracy"], "loss": v["loss"]} for s, v in ref["subjects"].items()
        }

    diversity_out: dict[str, Any] = {}
    if s_texts:
        s_tokens = tokenized(s_texts)
        diversity_out["scenarios"] = diversity(s_texts, s_emb, sample=self_bleu_sample, seed=seed, tokens=s_tokens)
        complexity["scenarios"] = metrics.length_stats(s_texts, s_tokens)
    if i_texts:
        i_tokens = tokenized(i_texts)
        diversity_out["items"] = diversity(i_texts, i_emb, sample=self_bleu_sample, seed=seed, tokens=i_tokens)
        complexity["items"] = metrics.length_stats(i_texts, i_tokens)
    diversity_out["coverage"] = coverage_of(source)

    if source.template is not None and source.items:
        per_question = causal_steps(source.template)
        counts = Counter(item.question_name for item in source.items)
        total = sum(counts.values())
        mean = sum(per_question.get(q, 0) * c for q, c in counts.items()) / total if total else None
        complexity["causal_steps"] = {"per_question": per_question, "mean": mean}

    result = {
        "name": source.name,
        "path": str(source.path),
        "kind": source.kind,
        "template": (source.manifest.get("template") or {}).get("name") if source.manifest else None,
        "n_scenarios": len(source.scenarios),
        "n_items": len(source.items),
        "quality": quality,
        "diversity": diversity_out,
        "complexity": complexity,
        "notes": notes,
    }
    result["headline"] = headline(result)
    return _clean(result)  # type: ignore[no-any-return]


def headline(p: dict[str, Any]) -> dict[str, float | None]:
    """The flat numbers of the QDC table.

    Diversity from the scenarios (what the generator wrote; items repeat a story across conditions, so
    their lexical diversity mostly reflects the design), else from the items; lengths from the items (what
    a subject reads), else the scenarios.
    """
    level = p["diversity"].get("scenarios") or p["diversity"].get("items") or {}
    lengths = p["complexity"].get("items") or p["complexity"].get("scenarios") or {}
    q = p["quality"]
    judge = q.get("judge") or {}
    ref_subjects = (q.get("reference") or {}).get("subjects") or {}
    first: dict[str, Any] = next(iter(ref_subjects.values()), {})
    return {
        "validity": (q.get("validity") or {}).get("rate"),
        "judge_pass": judge.get("rate"),
        "reference_accuracy": first.get("accuracy"),
        "distinct_1": level.get("distinct_1"),
        "distinct_2": level.get("distinct_2"),
        "distinct_3": level.get("distinct_3"),
        "self_bleu": level.get("self_bleu"),
        "compression_ratio": level.get("compression_ratio"),
        "embedding_distance": level.get("embedding_distance"),
        "vendi": level.get("vendi"),
        "tokens_mean": lengths.get("tokens_mean"),
        "sentences_mean": lengths.get("sentences_mean"),
        "causal_steps_mean": (p["complexity"].get("causal_steps") or {}).get("mean"),
        "reference_loss": first.get("loss"),
    }


def _judge(source: Source, spec: str, limit: int | None, notes: list[str]) -> dict[str, Any]:
    from proceval.models import load_model
    from proceval.scenarios.writer import DEFAULT_RUBRIC, judge_scenario

    rubric = (source.template.judge_rubric if source.template else None) or DEFAULT_RUBRIC
    if not (source.template and source.template.judge_rubric):
        notes.append("the template declares no judge rubric: the judge used the default one")
    model = load_model(spec)
    chosen = source.scenarios[: limit if limit is not None else len(source.scenarios)]
    verdicts: Counter[str] = Counter()
    for values in chosen:
        verdict = judge_scenario(model, rubric, values, template=source.template)
        verdicts["pass" if verdict.passed else ("fail" if verdict.passed is False else "unparsed")] += 1
    decided = verdicts["pass"] + verdicts["fail"]
    return {
        "model": spec,
        "rubric": rubric,
        "n": len(chosen),
        "pass": verdicts["pass"],
        "fail": verdicts["fail"],
        "unparsed": verdicts["unparsed"],
        "rate": verdicts["pass"] / decided if decided else None,
    }


def _clean(value: Any) -> Any:
    """nan/inf → None and numpy scalars → Python numbers, so the result is valid JSON."""
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
