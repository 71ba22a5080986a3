"""Countdown's search solvers end to end: generate → run (a search strategy) → verifier-rated streams; and
`proceval search` → JSONL of streams and optimal paths per split."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from proceval.cli.main import main
from proceval.dataset import Dataset
from proceval.errors import ProcevalError
from proceval.run import load_run
from proceval.tasks.countdown.search import STRATEGIES
from proceval.tasks.countdown.streams import write_streams

MAX_NODES_3 = 48


def _replays(numbers: list[int], target: int, stream: str) -> bool:
    """Independent check of a stream's goal path: the operations of the last state before 'Goal Reached' plus
    the last explored one, recomputed here with Python's integers (no code shared with the verifier)."""
    head = stream[:stream.index("equal: Goal Reached")]
    state = head[head.rindex("Current State"):].split("Operations: [")[1].split("]")[0]
    last = head[head.rindex("Exploring Operation: ") + 21:].split(",")[0]
    pool = list(numbers)
    ops = [o for o in state.split(", ") if o] + [last]
    for op in ops:
        left, result = op.split("=")
        symbol = next(s for s in "+-*/" if s in left)
        a, b = (int(x) for x in left.split(symbol))
        pool.remove(a)
        pool.remove(b)
        value = {"+": a + b, "-": a - b, "*": a * b, "/": a / b}[symbol]
        assert value == int(result) and value >= 0
        pool.append(int(result))
    return int(ops[-1].split("=")[1]) == target


@pytest.fixture(scope="module")
def cd3(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("cd") / "cd3"
    assert main(["generate", "countdown", "--option", "inputs=3", "--n", "60", "--seed", "0", "--out", str(out)]) == 0
    return out


def test_search_solver_runs_and_the_verifier_rates_its_streams(cd3: Path, tmp_path: Path) -> None:
    run_dir = tmp_path / "dfs"
    assert main(["run", str(cd3), "--solver", "countdown-dfs-sum", "--out", str(run_dir), "--no-progress"]) == 0
    run = load_run(run_dir)
    items = Dataset.load(cd3).item_map()
    assert run.info["solver"] == {"name": "countdown-dfs-sum", "strategy": "dfs-sum"}
    assert len(run.responses) == 60
    for record in run.responses:
        item = items[record["item_id"]]
        stream = record["raw"]
        step = record["trajectory"][0]
        assert step["strategy"] == "dfs-sum" and step["explored"] == stream.count("Exploring Operation")
        if "Goal Reached" in stream:
            assert _replays(item.metadata["numbers"], item.metadata["target"], stream)
            assert record["score"] == pytest.approx(max(0.0, 1 - (step["explored"] + 1) / MAX_NODES_3))
        else:
            assert record["score"] == 0.0 and "Goal Reached" in record["reason"]


def test_optimal_solver_reaches_every_goal_with_the_best_rating(cd3: Path, tmp_path: Path) -> None:
    run_dir = tmp_path / "opt"
    assert main(["run", str(cd3), "--solver", "countdown-optimal", "--limit", "10", "--out", str(run_dir),
                 "--no-progress"]) == 0
    for record in load_run(run_dir).responses:
        assert record["score"] == pytest.approx(1 - 3 / MAX_NODES_3)  # 2 operations explored + 1


def test_search_command_writes_streams_and_optimal_paths_per_split(cd3: Path, tmp_path: Path) -> None:
    out = tmp_path / "streams"
    assert main(["search", str(cd3), "--strategy", "all", "--out", str(out)]) == 0
    rows = [json.loads(line) for split in ("train", "val", "val_target") if (out / f"{split}.jsonl").exists()
            for line in (out / f"{split}.jsonl").read_text(encoding="utf-8").splitlines()]
    assert len(rows) == 60 and {r["strategy"] for r in rows} <= set(STRATEGIES) and len({r["strategy"] for r in rows}) > 3
    items = Dataset.load(cd3).item_map()
    for row in rows:
        item = items[row["item_id"]]
        assert row["split"] == item.condition_name and row["numbers"] == item.metadata["numbers"]
        assert _replays(row["numbers"], row["target"], row["optimal"])
        assert row["solved"] == ("Goal Reached" in row["stream"])
        if row["solved"]:
            assert _replays(row["numbers"], row["target"], row["stream"])
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert sum(s["problems"] for s in summary["splits"].values()) == 60
    # the same strategies again: drawn from the seed and the item id, not from the order of the run
    again = write_streams(cd3, tmp_path / "again", strategy="all")
    assert again["strategies"] == summary["strategies"]


def test_search_refuses_bad_input(cd3: Path, tmp_path: Path) -> None:
    with pytest.raises(ProcevalError, match="unknown strategy"):
        write_streams(cd3, tmp_path / "x", strategy="dfs-best")
    long_data = tmp_path / "long"
    assert main(["generate", "long-arithmetic", "--n", "2", "--out", str(long_data)]) == 0
    with pytest.raises(ProcevalError, match="no countdown problems"):
        write_streams(long_data, tmp_path / "y")
    assert main(["search", str(long_data), "--out", str(tmp_path / "z")]) != 0  # one clear error, no traceback
