"""Prefix sharing in logprob scoring, measured on the embedded model.

Scores the ``tom`` dataset (counterbalanced option orders, letters) two ways in one process:

- shared: proceval's runner order and the llama.cpp backend's KV-cache reuse (each shared prefix once);
- reread: how per-request harnesses do it: every option of every order re-reads the whole prompt;

and computes the lower bound: the unique prompt tokens (nodes of the token trie of all prompts).
Prints JSON: tokens evaluated, wall time, ratios, and whether both modes give the same probabilities.

    python benchmarks/scoring.py --n 12          # 12 scenarios x 25 conditions = 300 items
"""

from __future__ import annotations

import argparse
import json
import math
import tempfile
import time
from pathlib import Path
from typing import Any


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=12, help="tom scenarios (25 items each)")
    parser.add_argument("--limit", type=int, help="only the first N items")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    from proceval.generate import generate
    from proceval.models import load_model
    from proceval.models.cache import CachedModel
    from proceval.run.prompts import PromptBuilder
    from proceval.run.runner import Subject, _ordered_work
    from proceval.run.scoring import counterbalanced_orders, unique_prefix_tokens
    from proceval.solvers.model import ModelSolver, Settings

    with tempfile.TemporaryDirectory() as tmp:
        dataset = generate("tom", n=args.n, out=Path(tmp) / "tom", seed=args.seed, progress=False)
        items = dataset.items[: args.limit] if args.limit else dataset.items
        model: Any = load_model("local/smollm2-135m", n_ctx=2048, n_threads=args.threads)
        builder = PromptBuilder("zero-shot", seed=args.seed, examples=dataset.items)
        subject = Subject(model.spec, "model", None)
        work = _ordered_work(items, [subject])

        # the token sequences any evaluator must read: each prompt (+ all but the last token of an option)
        sequences: list[list[int]] = []
        n_scores = 0
        for _, item in work:
            for order in counterbalanced_orders([o["key"] for o in item.options]):
                prompt = builder.build(item, order)
                tokens = model.prompt_tokens(prompt.messages, prompt.assistant_prefix)
                sequences.append(tokens)
                n_scores += len(prompt.continuations)
        lower_bound = unique_prefix_tokens(sequences)

        # shared: the runner's order, one evaluation of each prompt for all its options
        answerer = ModelSolver(CachedModel(model, None), builder,
                                Settings("zero-shot", "logprob", 0.0, 16, args.seed, "letters"))
        model.llm.reset()
        model._logits = None
        model.tokens_evaluated = 0
        start = time.perf_counter()
        shared = {item.id: answerer.answer(item, subject) for _, item in work}
        shared_s = time.perf_counter() - start
        shared_tokens = model.tokens_evaluated

        # reread: every option of every order evaluates the whole prompt from an empty cache
        model.tokens_evaluated = 0
        start = time.perf_counter()
        max_diff = 0.0
        for _, item in work:
            for order_index, order in enumerate(counterbalanced_orders([o["key"] for o in item.options])):
                prompt = builder.build(item, order)
                logprobs = []
                for continuation in prompt.continuations:
                    model.llm.reset()
                    model._logits = None
                    logprobs.append(model.score(prompt.messages, [continuation],
                                                assistant_prefix=prompt.assistant_prefix).logprobs[0])


                top = max(logprobs)
                weights = [math.exp(lp - top) for lp in logprobs]
                probs = [w / sum(weights) for w in weights]
                reference = shared[item.id]["per_order"][order_index]["probs"]
                for key, p in zip(order, probs, strict=True):
                    max_diff = max(max_diff, abs(p - reference[key]))
        reread_s = time.perf_counter() - start
        reread_tokens = model.tokens_evaluated

    result = {
        "benchmark": "prefix sharing in logprob scoring",
        "model": "local/smollm2-135m",
        "dataset": {"template": "tom", "scenarios": args.n, "items": len(items)},
        "prompts": len(sequences),
        "option_scores": n_scores,
        "tokens_evaluated": {"shared": shared_tokens, "reread": reread_tokens, "unique_lower_bound": lower_bound},
        "wall_s": {"shared": round(shared_s, 2), "reread": round(reread_s, 2)},
        "speedup_vs_reread": round(reread_s / shared_s, 2),
        "token_ratio_vs_reread": round(reread_tokens / shared_tokens, 2),
        "shared_over_lower_bound": round(shared_tokens / lower_bound, 3),
        "max_probability_difference": max_diff,
        "targets": {"speedup_at_least_3x": reread_s / shared_s >= 3,
                    "within_1.25x_of_lower_bound": shared_tokens / lower_bound <= 1.25},
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
