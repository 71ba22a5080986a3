"""Writes run directories exactly as docs/formats.md describes, so analyses are tested on real files.

(The run engine writes the same files; these helpers let analysis tests control the answers.)
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from pathlib import Path
from typing import Any

from proceval.dataset import Dataset, Item

Answer = Callable[[Item, random.Random], dict[str, Any]]


def choice_response(item: Item, choice: str | None, *, order: list[str] | None = None,
                    probs: dict[str, float] | None = None, status: str = "ok") -> dict[str, Any]:
    keys = [o["key"] for o in item.options]
    order = order or keys
    correct = None if choice is None or item.answer is None else choice == item.answer
    per_order = [{"order": order, "probs": probs}] if probs else [{"order": order, "choice": choice, "raw": str(choice)}]
    return {"choice": choice, "correct": correct, "probs": probs, "orders": [order], "per_order": per_order,
            "first_shown": order[0], "status": status, "raw": None if probs else str(choice)}


def rating_response(item: Item, rating: float | None, status: str = "ok") -> dict[str, Any]:
    return {"choice": None, "correct": None, "probs": None, "rating": rating, "rating_probs": None,
            "expected_rating": rating, "status": status, "orders": [], "per_order": [], "first_shown": None}


def write_run(dataset: Dataset, out: Path, answer: Answer, *, subject: str = "local/test-model",
              subject_kind: str = "model", seed: int = 0, strategy: str = "zero-shot",
              scoring: str = "generate", personas: list[str] | None = None,
              prompts: dict[str, Any] | None = None) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    rows = []
    for persona in [*personas] if personas else [None]:
        for item in dataset.items:
            row = {"item_id": item.id, "scenario_id": item.scenario_id, "condition_name": item.condition_name,
                   "question_name": item.question_name,
                   "subject": subject + (f"#persona={persona}" if persona else ""),
                   "subject_kind": "persona" if persona else subject_kind, "strategy": strategy,
                   "scoring": scoring, "prompt_tokens": 10, "completion_tokens": 1, "latency_s": 0.01,
                   "error": None}
            row.update(answer(item, rng))
            rows.append(row)
    with (out / "responses.jsonl").open("w", encoding="utf-8") as f:
        for row in rows:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
    info = {"dataset": {"path": str(dataset.path), "content_hash": dataset.content_hash,
                        "template": dataset.template_name},
            "model": {"spec": subject, "provider": subject.split("/")[0], "name": subject.split("/", 1)[-1]},
            "strategy": strategy, "scoring": scoring, "seed": seed,
            "prompts": prompts or {"system": "Answer with the letter of the correct option."},
            "counts": {"items": len(rows), "invalid": sum(r["status"] == "invalid" for r in rows)}}
    (out / "run.json").write_text(json.dumps(info, indent=2), encoding="utf-8")
    return out


def accuracy_answerer(p_correct: dict[str, float] | float) -> Answer:
    """Answers correctly with probability p (per condition name when a dict), order shuffled."""

    def answer(item: Item, rng: random.Random) -> dict[str, Any]:
        p = p_correct[item.condition_name] if isinstance(p_correct, dict) else p_correct
        keys = [o["key"] for o in item.options]
        wrong = [k for k in keys if k != item.answer]
        choice = item.answer if rng.random() < p else rng.choice(wrong)
        order = keys[:]
        rng.shuffle(order)
        return choice_response(item, choice, order=order)

    return answer
