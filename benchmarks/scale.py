"""What running on Ray costs: items/s of the same run locally and on a local Ray cluster at equal resources.

The embedded model (SmolLM2-135M, llama.cpp) answers the same items three ways on this machine's CPUs:
locally with all of them, on Ray with one actor holding all of them, and on Ray with one actor per CPU.
Each figure is the whole run (model loading included, as a user waits for it); the Ray cluster is started
before the clock, as a cluster is already running where Ray is used. The overhead of Ray is 1 - (Ray with
one actor) / local, per repeat (``--repeats``, default 3, each kind once a repeat, every other repeat in
reverse order), and its median is held to the goal of at most 10 %. The responses of every run are checked equal
to the local ones.

Where a GPU and vLLM are present, a second section compares vLLM through Ray Data (``ray.data.llm``) with
vLLM's own offline ``LLM.generate`` on the same prompts (goal: at least 90 % of its throughput).

    .venv/bin/python benchmarks/scale.py [--items 24] [--cpus 2] [--repeats 3] [--vllm-model PATH]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.conftest import choice_item, write_dataset  # noqa: E402

from proceval.run import run_dataset  # noqa: E402
from proceval.run.ray import RayExecutor  # noqa: E402

MODEL = "local/smollm2-135m"


def _answers(root: Path) -> list[str]:
    lines = (root / "responses.jsonl").read_text().splitlines()
    return sorted(json.dumps({k: v for k, v in json.loads(line).items() if k != "latency_s"}) for line in lines)


def cpu_section(n_items: int, cpus: int, repeats: int) -> dict[str, Any]:
    import ray

    items = [choice_item(s, {"belief": lv}, answer="a" if lv == "true" else "b")
             for s in range((n_items + 1) // 2) for lv in ("true", "false")][:n_items]
    walls: dict[str, list[float]] = {"local": [], "ray_1_actor": [], "ray_2_actors": []}
    same = dict.fromkeys(walls, True)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        ds = write_dataset(root / "ds", items)
        runs: dict[str, tuple[dict[str, Any], RayExecutor | None]] = {
            "local": ({"n_threads": cpus}, None),
            "ray_1_actor": ({}, RayExecutor(actors=1, num_cpus=cpus)),
            "ray_2_actors": ({}, RayExecutor(actors=2, num_cpus=cpus / 2))}
        ray.init(address="local", num_cpus=cpus, include_dashboard=False, log_to_driver=False,
                 _node_ip_address="127.0.0.1")
        try:
            for repeat in range(repeats):
                # every other repeat in reverse order, so that a machine getting slower or faster meanwhile
                # weighs on local and Ray alike; each run writes a fresh directory (none resumes another)
                for name in list(runs) if repeat % 2 == 0 else list(reversed(runs)):
                    options, executor = runs[name]
                    start = time.perf_counter()
                    run_dataset(ds, MODEL, root / f"{name}-{repeat}", progress=False, executor=executor, **options)
                    walls[name].append(time.perf_counter() - start)
                for name in runs:
                    same[name] &= _answers(root / f"{name}-{repeat}") == _answers(root / "local-0")
        finally:
            ray.shutdown()
    figures: dict[str, Any] = {}
    for name, times in walls.items():
        figures[name] = {"wall_s": [round(t, 2) for t in times],
                         "items_per_s": round(n_items / statistics.median(times), 3),
                         "same_answers_as_local": same[name]}
        if name != "local":  # paired by repeat: 1 - (Ray's items/s) / (local items/s) in the same repeat
            overheads = sorted(1 - local / ray_ for local, ray_ in zip(walls["local"], times, strict=True))
            figures[name]["overhead_vs_local"] = round(statistics.median(overheads), 3)
            figures[name]["overhead_range"] = [round(overheads[0], 3), round(overheads[-1], 3)]
    figures["goal"] = "ray_1_actor overhead_vs_local (the median of the repeats) <= 0.10"
    return {"model": MODEL, "items": n_items, "cpus": cpus, "repeats": repeats, **figures}


def vllm_section(model: str, n_prompts: int) -> dict[str, Any]:
    """vLLM through Ray Data against vLLM offline on the same prompts; skipped without a GPU or vLLM."""
    if importlib.util.find_spec("vllm") is None:
        return {"skipped": "vllm is not installed"}
    import torch

    if not torch.cuda.is_available():
        return {"skipped": "no GPU"}
    prompts = [f"Question {k}: is a story about box number {k} a story? Answer yes or no." for k in range(n_prompts)]
    params = {"temperature": 0.0, "max_tokens": 32}
    from vllm import LLM, SamplingParams

    llm = LLM(model=model, gpu_memory_utilization=0.8)
    llm.generate(prompts[:8], SamplingParams(**params))  # warm-up: compile and capture graphs
    start = time.perf_counter()
    llm.generate(prompts, SamplingParams(**params))
    offline = n_prompts / (time.perf_counter() - start)
    del llm
    torch.cuda.empty_cache()

    import ray
    import ray.data.llm as data_llm

    # the prompts as they are, as LLM.generate takes them: no chat template (Ray 2.60 names the builder
    # build_processor and the switch chat_template_stage; earlier releases build_llm_processor, apply_chat_template)
    build = getattr(data_llm, "build_processor", None) or getattr(data_llm, "build_llm_processor")  # noqa: B009
    fields = data_llm.vLLMEngineProcessorConfig.model_fields
    no_template = {"chat_template_stage": False} if "chat_template_stage" in fields else {"apply_chat_template": False}
    config = data_llm.vLLMEngineProcessorConfig(model_source=model, engine_kwargs={"gpu_memory_utilization": 0.8},
                                                concurrency=1, batch_size=64, **no_template)
    processor = build(config, preprocess=lambda row: {"prompt": row["prompt"], "sampling_params": params},
                      postprocess=lambda row: {"text": row["generated_text"]})
    ray.init(include_dashboard=False, log_to_driver=False)
    try:
        processor(ray.data.from_items([{"prompt": p} for p in prompts[:8]])).take_all()  # warm-up, as above
        start = time.perf_counter()
        processor(ray.data.from_items([{"prompt": p} for p in prompts])).take_all()
        through_ray = n_prompts / (time.perf_counter() - start)
    finally:
        ray.shutdown()
    return {"model": model, "prompts": n_prompts, "vllm_offline_prompts_per_s": round(offline, 2),
            "ray_data_llm_prompts_per_s": round(through_ray, 2), "ratio": round(through_ray / offline, 3),
            "goal": "ratio >= 0.90"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=24)
    parser.add_argument("--cpus", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--repeats", type=int, default=3, help="runs of each kind, paired, in alternating order")
    parser.add_argument("--vllm-model", help="a local Hugging Face model directory for the GPU section")
    parser.add_argument("--vllm-prompts", type=int, default=2000)
    args = parser.parse_args()
    if args.repeats < 1:
        parser.error("--repeats must be at least 1")
    result: dict[str, Any] = {"cpu": cpu_section(args.items, args.cpus, args.repeats)}
    result["gpu"] = vllm_section(args.vllm_model, args.vllm_prompts) if args.vllm_model else {
        "skipped": "no --vllm-model given"}
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
