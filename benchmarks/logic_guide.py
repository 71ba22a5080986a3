"""The logic guide's costs: one guide step without a model, and problems per second per condition on the
embedded model (llama.cpp), printed as JSON.

1. ``guide_step``: :meth:`StepGuide.allowed` at each block boundary of the gold proofs of prontoqa problems
   (1-5 hops, proceval's formalisation), which re-certifies the text so far; mean and max seconds per call.
2. ``conditions``: ``--n`` problems (1-3 hops, 3 ontologies) answered in each condition (cot, guided,
   guided-formalised) through ``run_dataset``: wall seconds, problems/s, tokens written and tokens/s, accuracy,
   unknowns (tokens/s counts the wall time of the whole run, reading the prompts included, so a condition with
   short answers shows a low rate; the model's own speed is in docs/logic-guide.md).
   ``load_1min`` is printed beside the figures: above the core count, other work was competing for the CPU.

    .venv/bin/python benchmarks/logic_guide.py [--n 3] [--threads 1] [--max-tokens 64]
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

from proceval.generate import generate
from proceval.run import run_dataset
from proceval.solvers import configured
from proceval.solvers.logic_guide import StepGuide
from proceval.tasks import make_task
from proceval.tasks.logic import theory_of


def guide_step(problems: int = 50) -> dict[str, float]:
    times = []
    for index in range(problems):
        item = make_task("prontoqa", {"hops": "1-5", "ontology": "fictional"}).item(0, index)
        guide = StepGuide(theory_of(item.text, item.question), infer_only=True)
        text = ""
        for block in item.metadata["proof_formal"]:
            for piece in ("So ", "[[", "infer:", block[len("[[infer:"):]):
                text += piece
                start = time.perf_counter()
                guide.allowed(text)
                times.append(time.perf_counter() - start)
    return {"calls": len(times), "mean_s": sum(times) / len(times), "max_s": max(times)}


def conditions(n: int, threads: int, max_tokens: int) -> dict[str, dict[str, float]]:
    from proceval.models import load_model

    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        ds = generate("prontoqa", out=Path(tmp) / "pq", n=n, seed=0, progress=False,
                      options={"hops": "1-3", "ontology": "fictional,true,false"})
        model = load_model("local/smollm2-135m", n_threads=threads)
        for label, solver, options in (("cot", "logic-cot", {}), ("guided", "logic-guide", {}),
                                       ("guided-formalised", "logic-guide", {"formalise": "proceval"})):
            name = configured(solver, {**options, "max_tokens": str(max_tokens)})
            start = time.perf_counter()
            run = run_dataset(ds, model, Path(tmp) / label, solver=name, progress=False)
            wall = time.perf_counter() - start
            records = run.responses
            out[label] = {"problems": len(records), "wall_s": round(wall, 2),
                          "problems_per_s": round(len(records) / wall, 4),
                          "tokens": sum(r["completion_tokens"] for r in records),
                          "tokens_per_s": round(sum(r["completion_tokens"] for r in records) / wall, 2),
                          "accuracy": sum(bool(r["correct"]) for r in records) / len(records),
                          "unknown": sum(r["logic"]["answer"] == "unknown" for r in records)}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=3, help="problems per condition")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--max-tokens", type=int, default=64)
    parser.add_argument("--no-model", action="store_true", help="only the guide step")
    args = parser.parse_args()
    result: dict[str, object] = {"guide_step": guide_step()}
    if not args.no_model:
        result["conditions"] = conditions(args.n, args.threads, args.max_tokens)
    result["load_1min"] = os.getloadavg()[0]
    result["cores"] = os.cpu_count()
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
