"""QDC benchmark: prints JSON.

- ``vendi_100k``: best of 3 timings of the Vendi score of 100,000 × 384 embeddings through proceval's dual form, and the
  ``vendi-score`` package's own ``score_dual`` on the same matrix (target: under 5 s on 2 cores);
- ``vendi_direct``: the package's direct n×n form (``score_X``) and proceval's direct and dual forms at the
  largest n that fits the time budget here, side by side, with the values (they agree);
- ``profile_100k``: the full QDC profile of a 100,000-item dataset (5,000 scenarios × 20 conditions),
  with the embedding cache filled beforehand so that metric time is measured apart from embedding time;
  the cache holds seeded random unit vectors (the metrics' cost does not depend on the values);
- ``embedding_throughput``: all-MiniLM-L6-v2 texts per second on this machine, the cost of filling the
  cache for real (``texts / throughput``).

Usage: ``python benchmarks/qdc.py [--quick]`` (``--quick``: 10,000 items, small direct n).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from proceval import __version__
from proceval.analysis.qdc.metrics import vendi_score
from proceval.analysis.qdc.profile import item_text, profile, scenario_text
from proceval.dataset import DatasetWriter, Item, Manifest, Scenario
from proceval.embeddings import DEFAULT_MODEL, Embedder, EmbeddingCache, text_hash
from proceval.ids import content_id

WORDS = ["anna", "ben", "cleo", "dev", "eli", "fay", "gus", "hal", "ivy", "jon", "kim", "lea", "max", "nia", "oli", "pia", "quin", "ray", "sam", "tia", "uma", "vic", "wren", "xia", "yan", "zoe", "kitchen", "garden", "attic", "harbour", "office", "market", "school", "bakery", "library", "station", "moves", "hides", "finds", "drops", "leaves", "carries", "opens", "closes", "paints", "fixes", "sees", "hears", "knows", "thinks", "wants", "box", "basket", "drawer", "shelf", "bag", "coat", "key", "book", "cup", "lamp", "letter", "ring", "phone", "map", "ball", "apple"]


def timed(fn, *args, **kwargs):  # type: ignore[no-untyped-def]
    start = time.perf_counter()
    value = fn(*args, **kwargs)
    return value, time.perf_counter() - start


def bench_vendi(n: int, direct_ns: list[int]) -> dict[str, object]:
    from vendi_score import vendi

    x = np.random.default_rng(0).normal(size=(n, 384)).astype(np.float32)
    runs = [timed(vendi_score, x) for _ in range(3)]  # best of 3: the machine is shared
    ours, t_ours = runs[0][0], min(t for _, t in runs)
    pkg_runs = [timed(vendi.score_dual, x) for _ in range(3)]
    pkg, t_pkg = pkg_runs[0][0], min(t for _, t in pkg_runs)
    direct: list[dict[str, object]] = []
    out: dict[str, object] = {
        "vendi_100k": {"n": n, "d": 384, "proceval_dual_s": round(t_ours, 3), "proceval_value": ours,
                       "vendi_score_dual_s": round(t_pkg, 3), "vendi_score_value": float(pkg),
                       "target_s": 5.0, "meets_target": t_ours < 5.0},
        "vendi_direct": direct,
    }
    for m in direct_ns:
        xs = x[:m].astype(np.float64)
        pkg_direct, t_pd = timed(vendi.score_X, xs)
        ours_direct, t_od = timed(vendi_score, xs, method="direct")
        ours_dual, t_du = timed(vendi_score, xs, method="dual")
        direct.append({
            "n": m, "vendi_score_direct_s": round(t_pd, 3), "vendi_score_direct_value": float(pkg_direct),
            "proceval_direct_s": round(t_od, 3), "proceval_direct_value": ours_direct,
            "proceval_dual_s": round(t_du, 3), "proceval_dual_value": ours_dual,
            "dual_speedup_vs_package_direct": round(t_pd / max(t_du, 1e-9), 1),
        })
    return out


def make_dataset(root: Path, n_scenarios: int, n_conditions: int) -> Path:
    rng = np.random.default_rng(1)
    with DatasetWriter(root, overwrite=True) as writer:
        for _s in range(n_scenarios):
            values = {f"v{k}": " ".join(rng.choice(WORDS, size=8)) + "." for k in range(4)}
            sid = content_id("bench", values)
            writer.add_scenario(Scenario(sid, "bench", values))
            story = " ".join(values.values())
            for c in range(n_conditions):
                writer.add_item(Item(
                    id=content_id("bench", sid, c), template="bench", scenario_id=sid,
                    condition={"c": str(c)}, condition_name=f"c{c}", question_name="q",
                    text=f"{story} Condition {c} sentence.", question="Where is it?",
                    response={"type": "choice", "options": [{"key": "a", "text": "here"},
                                                            {"key": "b", "text": "there"}]},
                    answer="a",
                ))
        writer.finish(Manifest(proceval_version=__version__, template={"name": "bench"}, source={"kind": "bench"},
                               conditions={f"c{c}": {"c": str(c)} for c in range(n_conditions)}))
    return root


def bench_profile(tmp: Path, n_scenarios: int, n_conditions: int) -> dict[str, object]:
    data, t_write = timed(make_dataset, tmp / "data", n_scenarios, n_conditions)
    from proceval.analysis.qdc.profile import load_source

    source, t_load = timed(load_source, data)
    texts = list(dict.fromkeys([scenario_text(v) for v in source.scenarios] + [item_text(i) for i in source.items]))
    cache = EmbeddingCache(tmp / "emb.sqlite")
    rng = np.random.default_rng(2)
    vectors = rng.normal(size=(len(texts), 384)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    _, t_fill = timed(cache.put_many, DEFAULT_MODEL, {text_hash(t): v for t, v in zip(texts, vectors, strict=True)})
    embedder = Embedder(cache=cache)
    result, t_profile = timed(profile, source, embedder=embedder)
    return {
        "items": len(source.items), "scenarios": len(source.scenarios), "unique_texts_embedded": len(texts),
        "write_dataset_s": round(t_write, 2), "load_s": round(t_load, 2), "cache_fill_s": round(t_fill, 2),
        "profile_s_with_cached_embeddings": round(t_profile, 2),
        "embedded_during_profile": embedder.stats["embedded"],
        "vendi_items": result["diversity"]["items"]["vendi"],
    }


def bench_embedding(n: int) -> dict[str, object]:
    from proceval.embeddings import MiniLMEncoder

    encoder, t_load = timed(MiniLMEncoder)
    rng = np.random.default_rng(3)
    texts = [" ".join(rng.choice(WORDS, size=40)) for _ in range(n)]
    _, t = timed(encoder.encode, texts)
    return {"model": DEFAULT_MODEL, "texts": n, "load_s": round(t_load, 2), "encode_s": round(t, 2),
            "texts_per_s": round(n / t, 1)}


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    n = 10_000 if args.quick else 100_000
    out: dict[str, object] = {"machine_cores": os.cpu_count(), "load_average_start": os.getloadavg()}
    out.update(bench_vendi(n, [500, 1000] if args.quick else [1000, 2000, 4000]))
    with tempfile.TemporaryDirectory() as tmp:
        out["profile_100k" if not args.quick else "profile_10k"] = bench_profile(
            Path(tmp), n // 20, 20)
    out["embedding_throughput"] = bench_embedding(64 if args.quick else 256)
    out["load_average_end"] = os.getloadavg()
    json.dump(out, sys.stdout, indent=2)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
