"""Training data for Stream of Search: each problem of a countdown dataset searched by one strategy, written
as ``SPLIT.jsonl`` (one line per problem: the stream, the optimal path and how the search went) plus
``summary.json`` (counts and solve rates per split and strategy).

With ``strategy="all"`` each problem gets a strategy drawn the way the published data was made: heuristic
sum or mult (½ each), then DFS or BFS (½ each), then a beam of 1–5 for BFS; the draw is seeded by ``seed``
and the item id, so a problem gets the same strategy whatever else is in the dataset.
"""

from __future__ import annotations

import json
import os
import random
from collections import Counter
from pathlib import Path
from typing import Any

from proceval.dataset import Dataset
from proceval.errors import ProcevalError
from proceval.ids import text_id
from proceval.tasks.countdown.game import solve
from proceval.tasks.countdown.search import STRATEGIES, path_stream, run_strategy
from proceval.tasks.countdown.verify import rating


class StreamsError(ProcevalError):
    """A dataset that is not a countdown dataset, an unknown strategy or an output folder in the way."""


def draw_strategy(seed: int, item_id: str) -> str:
    """The published mix: heuristic, then DFS or BFS, then the beam (BFS)."""
    rng = random.Random(text_id("sos strategy", str(seed), item_id))
    heuristic = rng.choice(["sum", "mult"])
    if rng.random() < 0.5:
        return f"dfs-{heuristic}"
    return f"bfs{rng.randint(1, 5)}-{heuristic}"


def stream_record(numbers: list[int], target: int, strategy: str) -> dict[str, Any]:
    """One problem searched by ``strategy``: its stream, the optimal path and the search's outcome."""
    search = run_strategy(strategy, target, numbers)
    solution = solve(numbers, target)
    return {"numbers": numbers, "target": target, "strategy": strategy, "stream": search.stream,
            "optimal": path_stream(target, numbers, solution) if solution else None,
            "solved": search.solved, "explored": search.explored,
            "rating": rating(len(numbers), search.explored) if search.solved else 0.0}


def write_streams(dataset: str | os.PathLike[str], out: str | os.PathLike[str], *, strategy: str = "all",
                  seed: int = 0, force: bool = False) -> dict[str, Any]:
    """Search every problem of ``dataset`` and write ``out``/SPLIT.jsonl and ``out``/summary.json; returns the
    summary. Items that are not countdown problems are counted as skipped, never dropped silently."""
    if strategy != "all" and strategy not in STRATEGIES:
        raise StreamsError(f"unknown strategy {strategy!r}", field="strategy",
                           hint=f"choose all or one of {', '.join(STRATEGIES)}")
    ds = Dataset.load(dataset)
    out_dir = Path(out)
    if out_dir.exists() and any(out_dir.iterdir()) and not force:
        raise StreamsError(f"{out_dir} exists and is not empty", file=out_dir, hint="pass --force to replace it")
    out_dir.mkdir(parents=True, exist_ok=True)
    files: dict[str, Any] = {}
    counts: Counter[str] = Counter()
    solved: Counter[str] = Counter()
    by_strategy: dict[str, list[int]] = {}
    skipped = 0
    try:
        for item in ds.iter_items():
            numbers, target = item.metadata.get("numbers"), item.metadata.get("target")
            if not isinstance(numbers, list) or not isinstance(target, int):
                skipped += 1
                continue
            chosen = draw_strategy(seed, item.id) if strategy == "all" else strategy
            split = str(item.metadata.get("split") or item.condition_name)
            record = {"item_id": item.id, "split": split, **stream_record(numbers, target, chosen)}
            if split not in files:
                files[split] = (out_dir / f"{split}.jsonl").open("w", encoding="utf-8")
            files[split].write(json.dumps(record) + "\n")
            counts[split] += 1
            solved[split] += record["solved"]
            tally = by_strategy.setdefault(chosen, [0, 0])
            tally[0] += 1
            tally[1] += record["solved"]
    finally:
        for handle in files.values():
            handle.close()
    if not counts:
        raise StreamsError(f"{ds.path} holds no countdown problems ({skipped} other items)", file=ds.path,
                           hint="make one with `proceval generate countdown`")
    summary = {"dataset": str(ds.path), "strategy": strategy, "seed": seed, "skipped": skipped,
               "splits": {s: {"problems": n, "solved": solved[s], "solve_rate": solved[s] / n}
                          for s, n in sorted(counts.items())},
               "strategies": {s: {"problems": n, "solved": k, "solve_rate": k / n}
                              for s, (n, k) in sorted(by_strategy.items())}}
    (out_dir / "summary.json").write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    return summary
