"""Stream of Search data: how fast problems and their streams are made, and how often the solvers succeed.

Throughput: ``--n`` problems with ``--inputs`` numbers are drawn (item i of seed 0, a pure function of i) and
each is searched by the strategy drawn for it (the published mix), in ``--workers`` processes; reports
problems with streams per second and each worker's peak memory after its first and its last chunk (flat
memory: the two are about equal). Solver statistics (``--stats N``): N problems each of 3 and 4 inputs
searched by all 12 strategies; reports each strategy's solve rate, the rate under the published mix of
strategies, and the share solved by at least one. Training (``--train-steps N``): the ``tiny`` model trained N
steps on streams of 3-input problems with ``proceval.train.sft``; reports training tokens per second (tokens of
the examples, padding not counted). Decoding (``--decode N``): that model, loaded with the ``hf/`` provider,
answers N held-out problems (greedy, up to ``--max-tokens``); reports problems and tokens per second.

    .venv/bin/python benchmarks/sos.py [--n 100000] [--workers 2] [--stats 2000] [--train-steps 30 --decode 10]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import resource
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from proceval.tasks import make_task
from proceval.tasks.countdown.search import STRATEGIES, run_strategy
from proceval.tasks.countdown.streams import draw_strategy, stream_record

CHUNK = 1000


def _chunk(args: tuple[int, int, int]) -> tuple[int, int, float, float]:
    inputs, start, stop = args
    cpu = time.process_time()
    task = make_task("countdown", {"inputs": str(inputs)})
    chars = 0
    for index in range(start, stop):
        item = task.item(0, index)
        record = stream_record(item.metadata["numbers"], item.metadata["target"], draw_strategy(0, item.id))
        chars += len(record["stream"])
    return stop - start, chars, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, time.process_time() - cpu


def throughput(n: int, inputs: int, workers: int) -> dict[str, object]:
    jobs = [(inputs, start, min(n, start + CHUNK)) for start in range(0, n, CHUNK)]
    start = time.perf_counter()
    with multiprocessing.get_context("fork").Pool(workers) as pool:
        results = list(pool.imap(_chunk, jobs))
    seconds = time.perf_counter() - start
    return {"problems": n, "inputs": inputs, "workers": workers, "seconds": round(seconds, 2),
            "problems_with_streams_per_s": round(n / seconds),
            # CPU seconds the workers used: on a loaded machine, n / (cpu_s / workers) is the unloaded rate
            "cpu_s": round(sum(r[3] for r in results), 2),
            "per_s_if_cores_free": round(n / (sum(r[3] for r in results) / workers)), "mean_stream_chars": round(sum(r[1] for r in results) / n),
            "worker_peak_mb_first_chunk": round(results[0][2], 1), "worker_peak_mb_last_chunk": round(results[-1][2], 1)}


def statistics(n: int, inputs: int) -> dict[str, object]:
    items = make_task("countdown", {"inputs": str(inputs)}).items(n, seed=0)
    solved = dict.fromkeys(STRATEGIES, 0)
    any_solved = 0
    for item in items:
        outcomes = [run_strategy(s, item.metadata["target"], item.metadata["numbers"]).solved for s in STRATEGIES]
        for strategy, ok in zip(STRATEGIES, outcomes, strict=True):
            solved[strategy] += ok
        any_solved += any(outcomes)
    # the published mix: DFS or BFS ½ each, heuristic ½ each, beam 1–5 uniform (streams.draw_strategy)
    weight = {s: 0.25 if s.startswith("dfs") else 0.05 for s in STRATEGIES}
    return {"problems": n, "inputs": inputs, "solve_rate": {s: k / n for s, k in solved.items()},
            "published_mix": round(sum(weight[s] * k for s, k in solved.items()) / n, 4),
            "any_strategy": any_solved / n}


def training_and_decoding(steps: int, decode: int, max_tokens: int) -> dict[str, object]:
    import tempfile

    from proceval.generate import generate
    from proceval.models.hf import HFModel
    from proceval.solvers.prompts import PromptBuilder
    from proceval.tasks.countdown.streams import write_streams
    from proceval.train.sft import TrainSettings, train_sft

    out: dict[str, object] = {}
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        data = generate("countdown", out=root / "data", n=max(400, 4 * decode), seed=0, options={"inputs": "3"},
                        progress=False)
        write_streams(data.path, root / "streams")
        start = time.perf_counter()
        manifest = train_sft(root / "streams", root / "model", model="tiny", progress=False,
                             settings=TrainSettings(max_steps=steps, batch_size=16))
        seconds = time.perf_counter() - start
        per_step = manifest.counts["tokens"] / manifest.counts["examples"] * 16  # tokens in a batch, on average
        out["training"] = {"model": "tiny", "steps": steps, "batch_size": 16, "seconds": round(seconds, 2),
                           "tokens_per_s": round(per_step * steps / seconds)}
        if decode:
            model = HFModel(str(root / "model"))
            builder = PromptBuilder("zero-shot")
            from proceval.core.generate import GenerateConfig

            held_out = [i for i in data.items if i.condition_name != "train"][:decode]
            start, tokens = time.perf_counter(), 0
            for item in held_out:
                tokens += model.generate(builder.build(item, None).messages,
                                         GenerateConfig(max_tokens=max_tokens)).completion_tokens
            seconds = time.perf_counter() - start
            out["decoding"] = {"problems": len(held_out), "max_tokens": max_tokens, "seconds": round(seconds, 2),
                               "problems_per_s": round(len(held_out) / seconds, 3),
                               "tokens_per_s": round(tokens / seconds, 1)}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--inputs", type=int, default=3)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--stats", type=int, default=0, help="problems per number of inputs for the solver statistics")
    parser.add_argument("--train-steps", type=int, default=0, help="training steps of the tiny model to time")
    parser.add_argument("--decode", type=int, default=0, help="held-out problems to decode with the trained model")
    parser.add_argument("--max-tokens", type=int, default=512, help="tokens per decoded stream (default 512)")
    args = parser.parse_args()
    out: dict[str, object] = {"throughput": throughput(args.n, args.inputs, args.workers)} if args.n else {}
    if args.stats:
        out["solvers"] = [statistics(args.stats, inputs) for inputs in (3, 4)]
    if args.train_steps:
        out.update(training_and_decoding(args.train_steps, args.decode, args.max_tokens))
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
