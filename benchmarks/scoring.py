"""Multiple-choice log-likelihood scoring on the embedded model: proceval against what a user would otherwise run.

Scores the same ``tom`` items (counterbalanced option orders, letters; one request per option and order, the
prompt as proceval renders it) four ways in one process, each timed on its request phase alone:

- ``proceval``: the runner's item order and answerer on the llama.cpp backend (prefix reuse in whole batches, so
  that every number is the one a fresh model gives);
- ``llama_cpp_plain``: llama-cpp-python used as documented (``Llama(logits_all=True)``, its own prefix cache in
  ``Llama.generate``), one request per option in the order a user's loop sends them;
- ``lm_eval_llama_cpp``: lm-evaluation-harness's ``multiple_choice`` task over the same requests, with a small
  ``LM`` class that calls ``llama_cpp.Llama`` in-process as above (the same numbers as llama.cpp; lm-eval's own
  ``gguf`` and ``local-completions`` backends read llama-cpp-python's server, whose echoed prompt log-probs are
  shifted by one token, so they are no reference);
- ``lm_eval_hf``: lm-evaluation-harness's ``hf`` backend on the same GGUF file (transformers de-quantises it;
  float32 on the CPU, batch size 1 as lm-eval's default).

For each peer: tokens evaluated (prompt tokens the model computed, padding included), wall time of the request
phase (lm-eval's start-up, the model load and task build, reported apart, and a second ratio that includes it
against proceval's model load), the largest log-likelihood difference from proceval's, how many prompts get
another chosen option, and the speed ratio. Prints JSON. On a loaded machine, use ``--threads 1``.

    nice python benchmarks/scoring.py --n 1 --limit 8      # needs: pip install -e .[bench]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

Request = tuple[str, str]  # (context: the rendered prompt, continuation: one option)


def log_softmax(row: np.ndarray) -> np.ndarray:
    shifted = row.astype(np.float64) - float(np.max(row))
    return shifted - math.log(float(np.exp(shifted).sum()))


class PlainLlama:
    """llama-cpp-python the documented way: logits for every position, its own prefix cache in ``generate``."""

    def __init__(self, path: Path, threads: int) -> None:
        import llama_cpp

        from proceval.models.llamacpp import _without_amx_weights

        with _without_amx_weights(llama_cpp):  # the kernels proceval's backend uses (AMX ones crash in a VM)
            self.llm = llama_cpp.Llama(model_path=str(path), n_ctx=1024, n_threads=threads,
                                       n_threads_batch=threads, logits_all=True, seed=0, verbose=False)
        self.tokens_evaluated = 0
        real_eval = self.llm.eval

        def counting_eval(tokens: Any) -> None:
            self.tokens_evaluated += len(tokens)
            real_eval(tokens)

        self.llm.eval = counting_eval  # type: ignore[method-assign]

    def loglikelihood(self, context: str, continuation: str) -> float:
        ctx = self.llm.tokenize(context.encode(), add_bos=False, special=True)
        cont = self.llm.tokenize(continuation.encode(), add_bos=False, special=False)
        tokens = ctx + cont
        steps = self.llm.generate(tokens, temp=0.0, top_k=1)
        next(steps)  # evaluates what the cache lacks, then samples one token (discarded)
        steps.close()
        scores = self.llm.scores
        return sum(float(log_softmax(scores[len(ctx) - 1 + i])[t]) for i, t in enumerate(cont))


def by_prompt(values: dict[Request, float]) -> dict[str, str]:
    """The chosen continuation of each prompt."""
    best: dict[str, tuple[float, str]] = {}
    for (context, continuation), ll in values.items():
        if context not in best or ll > best[context][0]:
            best[context] = (ll, continuation)
    return {context: choice for context, (_, choice) in best.items()}


def compare(name: str, seconds: float, tokens: int, values: dict[Request, float], reference: dict[Request, float],
            ours_s: float, startup_s: float | None = None, ours_startup_s: float = 0.0) -> dict[str, Any]:
    diff = max(abs(values[r] - reference[r]) for r in reference)
    theirs, ours = by_prompt(values), by_prompt(reference)
    row = {"peer": name, "wall_s": round(seconds, 3), "tokens_evaluated": tokens,
           "max_loglikelihood_difference": float(f"{diff:.3g}"),
           "prompts_with_another_choice": sum(theirs[c] != ours[c] for c in ours),
           "proceval_speedup": round(seconds / ours_s, 2)}
    if startup_s is not None:  # lm-eval: its start-up (model load, task build) against proceval's model load
        row["startup_s"] = round(startup_s, 2)
        row["proceval_speedup_with_startup"] = round((startup_s + seconds) / (ours_startup_s + ours_s), 2)
    return row


def run_lm_eval(lm: Any, requests: list[Request], golds: dict[str, int], tmp: Path) -> tuple[dict[Request, float],
                                                                                              float, float]:
    """lm-eval's multiple_choice task over ``requests`` (a local JSONL task); returns the log-likelihoods, the
    request-phase seconds and the seconds of everything else in ``simple_evaluate``."""
    import lm_eval
    from lm_eval.tasks import TaskManager

    docs: dict[str, list[str]] = {}
    for context, continuation in requests:
        docs.setdefault(context, []).append(continuation)
    (tmp / "tasks").mkdir(parents=True)
    data = tmp / "docs.jsonl"
    data.write_text("".join(json.dumps({"context": c, "choices": ch, "gold": golds[c]}) + "\n"
                            for c, ch in docs.items()))
    (tmp / "tasks" / "proceval_bench.yaml").write_text(
        "task: proceval_bench\ndataset_path: json\n"
        f"dataset_kwargs:\n  data_files:\n    test: {json.dumps(str(data))}\n"
        "test_split: test\noutput_type: multiple_choice\n"
        "doc_to_text: context\ndoc_to_choice: choices\ndoc_to_target: gold\ntarget_delimiter: ''\n"
        "metric_list:\n  - metric: acc\n")
    phase = {"s": 0.0}
    real = lm.loglikelihood

    def timed(reqs: Any, *args: Any, **kwargs: Any) -> Any:
        start = time.perf_counter()
        try:
            return real(reqs, *args, **kwargs)
        finally:
            phase["s"] += time.perf_counter() - start

    lm.loglikelihood = timed
    start = time.perf_counter()
    out = lm_eval.simple_evaluate(model=lm, tasks=["proceval_bench"], task_manager=TaskManager(
        include_path=str(tmp / "tasks")), log_samples=True, cache_requests=False, bootstrap_iters=0)
    total = time.perf_counter() - start
    values: dict[Request, float] = {}
    for sample in out["samples"]["proceval_bench"]:
        doc = sample["doc"]
        for continuation, (ll, _greedy) in zip(doc["choices"], sample["filtered_resps"], strict=True):
            values[doc["context"], continuation] = float(ll)
    return values, phase["s"], total - phase["s"]


def lm_eval_llama_cpp_class() -> Callable[[PlainLlama], Any]:
    from lm_eval.api.model import LM

    class InProcessLlamaCpp(LM):  # type: ignore[misc]
        """An lm-eval model that calls ``llama_cpp.Llama`` in this process (no server, no shifted echo)."""

        def __init__(self, plain: PlainLlama) -> None:
            super().__init__()
            self.plain = plain

        def loglikelihood(self, requests: Any, disable_tqdm: bool = False) -> list[tuple[float, bool]]:
            return [(self.plain.loglikelihood(*r.args), False) for r in requests]

        def loglikelihood_rolling(self, requests: Any, disable_tqdm: bool = False) -> list[float]:
            raise NotImplementedError

        def generate_until(self, requests: Any, disable_tqdm: bool = False) -> list[str]:
            raise NotImplementedError

    return InProcessLlamaCpp


def lm_eval_hf(path: Path, tmp: Path, threads: int, bos: int) -> tuple[Any, list[int]]:
    """lm-eval's ``hf`` model on the GGUF file, with the tokenizer exported from it (which loses the BOS id: given
    as lm-eval's prefix token); counts the tokens it reads."""
    import torch
    from lm_eval.models.huggingface import HFLM
    from transformers import AutoTokenizer

    torch.set_num_threads(threads)
    folder = tmp / "hf"
    folder.mkdir()
    (folder / path.name).symlink_to(path)
    AutoTokenizer.from_pretrained(str(folder), gguf_file=path.name).save_pretrained(str(folder))
    lm = HFLM(pretrained=str(folder), gguf_file=path.name, device="cpu", batch_size=1, prefix_token_id=bos)
    tokens = [0]
    real_call = lm._model_call

    def counting_call(inps: Any, *args: Any, **kwargs: Any) -> Any:
        tokens[0] += int(inps.numel())
        return real_call(inps, *args, **kwargs)

    lm._model_call = counting_call
    return lm, tokens


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=1, help="tom scenarios (25 items each)")
    parser.add_argument("--limit", type=int, default=8, help="only the first N items")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-hf", action="store_true", help="leave out lm-eval's hf backend")
    args = parser.parse_args()
    try:
        import lm_eval  # noqa: F401
    except ImportError:
        raise SystemExit("benchmarks/scoring.py compares with lm-evaluation-harness, which is not installed: "
                         "pip install -e '.[bench]'  (or: pip install lm-eval gguf accelerate)") from None
    os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")

    from proceval.generate import generate
    from proceval.models import load_model
    from proceval.models.cache import CachedModel
    from proceval.run.lanes import ordered_work as _ordered_work
    from proceval.solvers.model import ModelSolver, Settings
    from proceval.solvers.prompts import PromptBuilder
    from proceval.solvers.scoring import counterbalanced_orders, unique_prefix_tokens
    from proceval.solvers.subjects import Subject

    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        dataset = generate("tom", n=args.n, out=tmp / "tom", seed=args.seed, progress=False)
        items = dataset.items[: args.limit] if args.limit else dataset.items
        start = time.perf_counter()
        model: Any = load_model("local/smollm2-135m", n_ctx=1024, n_threads=args.threads)
        load_s = time.perf_counter() - start
        builder = PromptBuilder("zero-shot", seed=args.seed, examples=dataset.items)
        subject = Subject(model.spec, "model", None)
        work = _ordered_work(items, [subject])

        # the requests, in the order a user's loop sends them: item by item, order by order, option by option
        requests: list[Request] = []
        golds: dict[str, int] = {}
        sequences: list[list[int]] = []
        for item in items:
            for order in counterbalanced_orders([o["key"] for o in item.options]):
                prompt = builder.build(item, order)
                context = model.prompt_text(prompt.messages, prompt.assistant_prefix)
                requests += [(context, c) for c in prompt.continuations]
                golds[context] = order.index(item.answer) if item.answer in order else 0
                sequences.append(model.prompt_tokens(prompt.messages, prompt.assistant_prefix))
        lower_bound = unique_prefix_tokens(sequences)

        # proceval: the runner's order and answerer, timed alone
        answerer = ModelSolver(CachedModel(model, None), builder,
                                Settings("zero-shot", "logprob", 0.0, 16, args.seed, "letters"))
        start = time.perf_counter()
        for _, item in work:
            answerer.answer(item, subject)
        ours_s = time.perf_counter() - start
        ours_tokens = model.tokens_evaluated
        # its log-likelihoods per request: bitwise those of the timed run, whatever the cache holds
        ours: dict[Request, float] = {}
        for item in items:
            for order in counterbalanced_orders([o["key"] for o in item.options]):
                prompt = builder.build(item, order)
                context = model.prompt_text(prompt.messages, prompt.assistant_prefix)
                scores = model.score(prompt.messages, prompt.continuations, assistant_prefix=prompt.assistant_prefix)
                ours.update({(context, c): lp for c, lp in zip(prompt.continuations, scores.logprobs, strict=True)})
        path, bos = model.path, int(model.llm.token_bos())
        del model

        peers = []
        plain = PlainLlama(path, args.threads)
        start = time.perf_counter()
        values = {r: plain.loglikelihood(*r) for r in requests}
        peers.append(compare("llama_cpp_plain", time.perf_counter() - start, plain.tokens_evaluated, values, ours,
                             ours_s))

        start = time.perf_counter()
        plain = PlainLlama(path, args.threads)
        plain_load_s = time.perf_counter() - start
        values, phase_s, other_s = run_lm_eval(lm_eval_llama_cpp_class()(plain), requests, golds, tmp / "inproc")
        peers.append(compare("lm_eval_llama_cpp", phase_s, plain.tokens_evaluated, values, ours, ours_s,
                             other_s + plain_load_s, load_s))
        del plain

        if not args.no_hf:
            start = time.perf_counter()
            hf, counted = lm_eval_hf(path, tmp, args.threads, bos)
            hf_load_s = time.perf_counter() - start
            values, phase_s, other_s = run_lm_eval(hf, requests, golds, tmp / "hf-task")
            peers.append(compare("lm_eval_hf", phase_s, counted[0], values, ours, ours_s,
                                 hf_load_s + other_s, load_s))

    load = os.getloadavg()
    lm_eval_peers = [p for p in peers if p["peer"].startswith("lm_eval")]
    print(json.dumps({
        "benchmark": "multiple-choice log-likelihood scoring",
        "model": "local/smollm2-135m",
        "dataset": {"template": "tom", "scenarios": args.n, "items": len(items)},
        "prompts": len(sequences),
        "requests": len(requests),
        "proceval": {"wall_s": round(ours_s, 3), "startup_s": round(load_s, 2), "tokens_evaluated": ours_tokens,
                     "unique_prompt_tokens": lower_bound},
        "peers": peers,
        "targets": {"at_least_3x_faster_than_lm_eval": all(p["proceval_speedup"] >= 3 for p in lm_eval_peers),
                    "at_least_3x_faster_than_lm_eval_with_startup": all(
                        p["proceval_speedup_with_startup"] >= 3 for p in lm_eval_peers),
                    "same_choices_as_every_peer": all(p["prompts_with_another_choice"] == 0 for p in peers)},
        "machine": {"cpus": os.cpu_count(), "threads": args.threads, "load_average_1m": round(load[0], 2)},
    }, indent=2))


if __name__ == "__main__":
    main()
