"""SAMI training speed: tokens per second and peak memory of SAMI steps on the embedded SmolLM2-135M.

A fixed synthetic batch (``--queries`` built-in queries x ``--constitutions`` constitutions, every response
``--response-tokens`` tokens long) is scored C x C per query and trained with the SAMI loss for ``--steps``
optimiser steps after one warm-up step; reports seconds per step, trained tokens per second (all C*C
sequences, prompt included, as the forward pass reads them) and peak resident memory. ``--device cuda`` runs the
same on a GPU (peak GPU memory from torch); ``--lora`` trains a LoRA adapter instead of every weight.

    .venv/bin/python benchmarks/sami.py [--threads 1] [--steps 3] [--queries 2] [--constitutions 2] [--lora]
    .venv/bin/python benchmarks/sami.py --device cuda --queries 8 --steps 10          # GPU variant
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from proceval.train.sami.constitutions import PrinciplesFile, make_constitutions
from proceval.train.sami.generate import Row, system_prompt
from proceval.train.sami.loss import sami_loss
from proceval.train.sami.queries import builtin_queries
from proceval.train.sami.trainer import collate, encode_row, load_trainable, score_batch

PRINCIPLES = [{"name": "brevity", "positive": "Answer in one short sentence.", "negative": "Answer at length."},
              {"name": "tone", "positive": "Be warm and friendly.", "negative": "Be cold and formal."}]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="hf/smollm2-135m")
    parser.add_argument("--queries", type=int, default=2)
    parser.add_argument("--constitutions", type=int, default=2, choices=[2, 4])
    parser.add_argument("--response-tokens", type=int, default=64)
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--lora", action="store_true")
    args = parser.parse_args()

    import torch

    torch.set_num_threads(args.threads)
    pairs = PrinciplesFile.model_validate({"principles": PRINCIPLES[: 1 if args.constitutions == 2 else 2]})
    constitutions = make_constitutions(pairs)
    model, tokenizer = load_trainable(args.model)
    if args.lora:
        from peft import LoraConfig, get_peft_model

        model = get_peft_model(model, LoraConfig(r=8, lora_alpha=16, target_modules="all-linear",
                                                 task_type="CAUSAL_LM"))
    model.to(args.device).train()
    filler = " ".join(["word"] * args.response_tokens)  # one token each in SmolLM2's vocabulary
    rows = [Row(query_id=str(q), query=text, constitutions=[c.id for c in constitutions.constitutions],
                systems=[system_prompt(c, str(q), 0) for c in constitutions.constitutions],
                responses=[filler] * len(constitutions.constitutions))
            for q, text in enumerate(builtin_queries()[: args.queries])]
    batch = collate(int(tokenizer.pad_token_id or tokenizer.eos_token_id))(
        [encode_row(tokenizer, r, max_response_tokens=args.response_tokens) for r in rows])
    batch = {k: v.to(args.device) for k, v in batch.items()}
    tokens = int(batch["attention_mask"].sum())
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-5)

    def step() -> float:
        optimizer.zero_grad()
        loss = sami_loss(score_batch(model, batch))
        loss.backward()
        optimizer.step()
        return float(loss.detach())

    step()  # warm-up: allocations and kernel choice
    if args.device.startswith("cuda"):
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    start = time.perf_counter()
    for _ in range(args.steps):
        loss = step()
    if args.device.startswith("cuda"):
        torch.cuda.synchronize()
    seconds = (time.perf_counter() - start) / args.steps
    result = {"model": args.model, "device": args.device, "threads": args.threads, "lora": args.lora,
              "queries": args.queries, "constitutions": args.constitutions, "sequences": args.queries *
              args.constitutions ** 2, "tokens_per_step": tokens, "seconds_per_step": round(seconds, 3),
              "tokens_per_second": round(tokens / seconds, 1), "last_loss": round(loss, 4),
              "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)}
    if args.device.startswith("cuda"):
        result["peak_gpu_mib"] = round(torch.cuda.max_memory_allocated() / 2**20, 1)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
