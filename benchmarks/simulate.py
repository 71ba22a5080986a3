"""The environment's own overhead: ultimatum episode turns per second with scripted players.

Two measures, printed as JSON:

- ``loop``: play_episode alone (players made per episode, seeded, as the simulation makes them);
- ``simulate``: a whole scripted simulation (no model) through ``simulate()``, writing episodes.jsonl with
  every trajectory, the observer's posteriors and simulation.json.

The goal is ≥ 10,000 episode turns/s. With a model, the model calls dominate: ``model_calls`` gives the
number of calls one experiment of ``examples/ultimatum/study.yaml`` makes at the least (one try per turn).

    python benchmarks/simulate.py --episodes 20000
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--episodes", type=int, default=20000)
    args = parser.parse_args()

    from proceval.envs import play_episode
    from proceval.envs.base import Player
    from proceval.envs.players import ScriptedPlayer
    from proceval.envs.simulation import SimulationSpec, load_spec, seed_of, simulate
    from proceval.envs.ultimatum import UltimatumGame

    started = time.perf_counter()
    turns = 0
    for i in range(args.episodes):
        players: dict[str, Player] = {role: ScriptedPlayer("fair", "rude", seed_of(0, i, role)) for role in ("proposer", "decider")}
        turns += play_episode(UltimatumGame(10, "apples"), players)["turns"]
    loop_s = time.perf_counter() - started

    runs = max(1, args.episodes // (3 * 3 * 100))
    spec = SimulationSpec.model_validate({
        "policies": ["selfish", "fair", "altruistic"], "manners": ["neutral", "rude", "sycophantic"],
        "currencies": {"in": ["apples", "blankets", "dollars"]}, "runs": runs, "episodes_per_run": 100,
        "model": None})
    with tempfile.TemporaryDirectory() as out:
        started = time.perf_counter()
        summary = simulate(spec, out)
        simulate_s = time.perf_counter() - started

    example = load_spec(Path(__file__).resolve().parents[1] / "examples" / "ultimatum" / "study.yaml")
    conditions = len(example.policies) * len(example.manners)
    assistant_games = 2 * (len(example.currencies.in_distribution) + len(example.currencies.out_of_distribution))
    per_run = (2 * example.episodes_per_run if example.players == "model" else 0) + assistant_games + 1
    print(json.dumps({
        "loop": {"episodes": args.episodes, "turns": turns, "wall_s": round(loop_s, 3),
                 "turns_per_s": round(turns / loop_s)},
        "simulate": {"episodes": summary["episodes"], "turns": summary["turns"], "wall_s": round(simulate_s, 3),
                     "turns_per_s": round(summary["turns"] / simulate_s)},
        "goal_turns_per_s": 10000,
        "model_calls": {"example": "examples/ultimatum/study.yaml", "per_experiment_at_least":
                        conditions * example.runs * per_run},
    }, indent=2))


if __name__ == "__main__":
    main()
