"""Stream of Search at the paper's size, for a machine with a GPU: 4-input Countdown, the ``paper`` preset
(16 layers, d = 1024, context 4096), trained on search streams for a fixed number of steps, then run on
held-out problems (targets never trained on) with the ``hf/`` provider and scored by the verifier.

Prints JSON: training tokens/s (tokens of the examples, padding not counted), decoding problems/s and tokens/s,
and the solve rate (score > 0) with its Wilson interval after that budget. Every stage resumes when rerun with
the same ``--out``. On a CPU it runs too, very slowly: use the study file (examples/sos/study.yaml) there.

    .venv/bin/python benchmarks/sos_gpu.py --out /tmp/sos-gpu [--problems 50000 --steps 2000 --eval 200]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))


def main() -> None:
    from statsmodels.stats.proportion import proportion_confint

    from proceval.generate import generate
    from proceval.run import run_dataset
    from proceval.tasks.countdown.streams import write_streams
    from proceval.train.sft import TrainSettings, train_sft

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--problems", type=int, default=50_000)
    parser.add_argument("--steps", type=int, default=2000, help="training steps (the fixed budget)")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--learning-rate", type=float, default=1e-4)
    parser.add_argument("--eval", type=int, default=200, help="held-out problems to answer")
    parser.add_argument("--max-tokens", type=int, default=4000)
    parser.add_argument("--model", default="paper")
    args = parser.parse_args()

    data, streams, model, run = (args.out / name for name in ("data", "streams", "model", "run"))
    if not (data / "manifest.json").is_file():
        generate("countdown", out=data, n=args.problems, seed=0, options={"inputs": "4"}, force=True)
    if not (streams / "summary.json").is_file():
        write_streams(data, streams, force=True)
    start = time.perf_counter()
    manifest = train_sft(streams, model, model=args.model, settings=TrainSettings(
        max_steps=args.steps, batch_size=args.batch_size, learning_rate=args.learning_rate, warmup_steps=100,
        save_steps=500))
    train_s = time.perf_counter() - start
    tokens = manifest.counts["tokens"] / manifest.counts["examples"] * args.batch_size * manifest.steps
    start = time.perf_counter()
    result = run_dataset(data, f"hf/{model}", run, split="val_target", limit=args.eval, max_tokens=args.max_tokens)
    decode_s = time.perf_counter() - start
    scores = [float(r.get("score") or 0.0) for r in result.responses]
    solved = sum(s > 0 for s in scores)
    low, high = proportion_confint(solved, len(scores), method="wilson")
    completion = sum(int(r.get("completion_tokens") or 0) for r in result.responses)
    print(json.dumps({
        "model": args.model, "inputs": 4, "train": {"steps": manifest.steps, "seconds": round(train_s, 1),
                                                    "tokens_per_s": round(tokens / train_s), "loss": manifest.train_loss,
                                                    "examples": manifest.counts["examples"]},
        "decode": {"problems": len(scores), "seconds": round(decode_s, 1),
                   "problems_per_s": round(len(scores) / decode_s, 3), "tokens_per_s": round(completion / decode_s, 1)},
        "solve_rate": {"solved": solved, "n": len(scores), "rate": solved / max(1, len(scores)),
                       "wilson_95": [round(low, 4), round(high, 4)]},
    }, indent=2))


if __name__ == "__main__":
    main()
