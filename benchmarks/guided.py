"""Constrained vs free generation on the embedded model, and the cost of one step of a stepwise guide.

Prints JSON: tokens/s of free generation (llama.cpp's own sampler, and proceval's token loop with no mask),
of generation under a regular expression, a JSON schema and a guide that changes every few tokens; and the
time one guide step takes (the guide's answer, its grammar compiled, the first mask computed) next to the
time one token takes to decode. Goal: a guide step costs under 5% of a token's decode time.

    python benchmarks/guided.py --tokens 48 --threads 1
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from typing import Any

from proceval.models import Choice, Free, GenerateConfig, JsonSchema, Message, Regex, load_model
from proceval.models.guided import ConstraintSession

PROMPT = [Message("user", "Tell a long story about a cat who counts things, with numbers.")]


class Counting:
    """A guide that changes after every block: a choice, then a number, then a short clause, over and over."""

    steps = (Choice([" one", " two", " three"]), Regex(" [0-9]{1,3}"), Regex(" [a-z]{2,8}[,.]"))

    def __init__(self) -> None:
        self.calls = 0

    def allowed(self, text: str) -> Any:
        self.calls += 1
        return self.steps[(self.calls - 1) % len(self.steps)]

    def cache_key(self) -> str | None:
        return None


class FreeText:
    def allowed(self, text: str) -> Any:
        return Free() if not text else None

    def cache_key(self) -> str | None:
        return None


def rate(model: Any, config: GenerateConfig, repeats: int) -> dict[str, float]:
    """Best-of-``repeats`` tokens/s (the prompt is evaluated once and reused: decoding is what is timed)."""
    model.generate(PROMPT, GenerateConfig(max_tokens=1))  # the prompt in the KV cache, the tokenizer built
    best = 0.0
    tokens = 0
    for _ in range(repeats):
        start = time.perf_counter()
        gen = model.generate(PROMPT, config)
        seconds = time.perf_counter() - start
        tokens = gen.completion_tokens
        best = max(best, tokens / seconds)
    return {"tokens": tokens, "tokens_per_s": round(best, 2)}


def guide_step_seconds(model: Any, n: int = 300) -> dict[str, float]:
    """Median time of one guide step: close the block, ask the guide, get its matcher, compute the mask."""
    tokenizer = model._guidance_tokenizer()
    session = ConstraintSession(Counting(), tokenizer, int(model.llm.n_vocab()))
    fills = {" one": " one", " [0-9]{1,3}": " 42", " [a-z]{2,8}[,.]": " cat,"}
    steps, masks = [], []
    for _ in range(n):
        start = time.perf_counter()
        session.allowed()  # at a boundary: the step; inside a block: just the mask
        masks.append(time.perf_counter() - start)
        matcher = session._matcher
        step = Counting.steps[(session.blocks - 1) % 3]
        key = step.pattern if isinstance(step, Regex) else " one"
        for token in tokenizer.tokenize_str(fills[key]):
            session.accept(token, bytes(tokenizer.decode_bytes([token])))
        assert matcher.is_accepting()
        start = time.perf_counter()
        if not matcher.is_stopped():
            session.end_block()  # a regex that could go on: the model ends it with end-of-sequence
        session.allowed()
        steps.append(time.perf_counter() - start)
    # the first step of each kind compiles its grammar; later ones copy the compiled matcher
    return {"guide_step_s": statistics.median(steps), "first_steps_s": statistics.median(steps[:3]),
            "mask_s": statistics.median(masks)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tokens", type=int, default=48)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    model = load_model("local/smollm2-135m", n_ctx=1024, n_threads=args.threads)
    base = GenerateConfig(max_tokens=args.tokens, temperature=0.8, seed=1)
    runs = {
        "free (llama.cpp sampler)": rate(model, base, args.repeats),
        "free (proceval token loop, no mask)": rate(model, GenerateConfig(
            max_tokens=args.tokens, temperature=0.8, seed=1, constraint=FreeText()), args.repeats),
        "regex": rate(model, GenerateConfig(max_tokens=args.tokens, temperature=0.8, seed=1,
                                            constraint=Regex("[A-Za-z ,.]{1,400}")), args.repeats),
        "json schema": rate(model, GenerateConfig(max_tokens=args.tokens, temperature=0.8, seed=1, constraint=JsonSchema(
            {"type": "object", "properties": {"story": {"type": "string"}}, "required": ["story"]})), args.repeats),
        "guide (new step every 1-3 tokens)": rate(model, GenerateConfig(
            max_tokens=args.tokens, temperature=0.8, seed=1, constraint=Counting()), args.repeats),
    }
    token_s = 1.0 / runs["free (proceval token loop, no mask)"]["tokens_per_s"]
    costs = guide_step_seconds(model)
    print(json.dumps({
        "model": "local/smollm2-135m", "threads": args.threads, "tokens": args.tokens,
        "generation": runs,
        "decode_ms_per_token": round(1000 * token_s, 3),
        "mask_ms_per_token": round(1000 * costs["mask_s"], 3),
        "guide_step_ms": round(1000 * costs["guide_step_s"], 3),
        "guide_step_new_grammar_ms": round(1000 * costs["first_steps_s"], 3),
        "guide_step_fraction_of_token": round(costs["guide_step_s"] / token_s, 4),
        "goal": "guide_step_fraction_of_token < 0.05",
    }, indent=1))


if __name__ == "__main__":
    main()
