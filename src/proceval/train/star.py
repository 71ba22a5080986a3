"""STaR (self-taught reasoner) for Stream of Search: ``proceval train star``.

Each round samples the current model on the first ``problems`` training problems of a countdown dataset
(temperature 0.8; an ordinary run, scored by the countdown verifier), keeps the streams the verifier accepts
(score > 0: the goal reached by valid operations) and fine-tunes the current model on them with
:func:`proceval.train.fit.fit`. Round r samples with the model of round r − 1 (round 1: the starting model).

Layout of ``out``::

    round-1/samples/   the sampling run (a run directory; resumes after a kill)
    round-1/accepted.jsonl   the accepted streams (numbers, target, stream)
    round-1/model/     the model fine-tuned in round 1 (resumes from its checkpoints)
    star.json          per round: problems sampled, solved, solved for the first time, trained on
    config.json, model.safetensors, tokenizer files, train.json   the last round's model (``hf/OUT``)

A rerun skips finished rounds: their run is complete and their model's manifest says finished.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

from proceval.errors import ProcevalError
from proceval.ids import file_sha256
from proceval.train.sft import Example, TrainSettings, train_on

REPORT = "star.json"


def _accepted(run_dir: Path, items: dict[str, Any]) -> tuple[list[dict[str, Any]], set[str], int]:
    """(accepted streams, ids of solved problems, problems answered) of a sampling run."""
    from proceval.run.io import load_run

    accepted, solved = [], set()
    responses = load_run(run_dir).responses
    for record in responses:
        if (record.get("score") or 0.0) > 0 and record.get("raw"):
            item = items[record["item_id"]]
            solved.add(item.id)
            accepted.append({"item_id": item.id, "numbers": item.metadata["numbers"],
                             "target": item.metadata["target"], "stream": record["raw"],
                             "score": record["score"]})
    return accepted, solved, len(responses)


def _write_jsonl(path: Path, rows: list[dict[str, Any]]) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    os.replace(tmp, path)


def star(model: str | os.PathLike[str], dataset: str | os.PathLike[str], out: str | os.PathLike[str], *,
         rounds: int = 1, problems: int = 1000, temperature: float = 0.8, max_tokens: int = 1024,
         settings: TrainSettings | None = None, seed: int = 0, force: bool = False,
         progress: bool = True) -> dict[str, Any]:
    """Run ``rounds`` of STaR from ``model`` (a trained model folder) on ``dataset``'s train split into
    ``out``; returns (and writes to ``out/star.json``) the per-round report."""
    from proceval.dataset import Dataset
    from proceval.run import run_dataset

    if rounds < 1 or problems < 1:
        raise ProcevalError("rounds and problems must be 1 or more", field="rounds" if rounds < 1 else "problems")
    start = Path(str(model).removeprefix("hf/"))
    if not (start / "config.json").is_file():
        raise ProcevalError("not a trained model folder (no config.json)", file=start,
                            hint="pass the --out of `proceval train sft`")
    root = Path(out)
    if force and root.exists():
        shutil.rmtree(root)
    root.mkdir(parents=True, exist_ok=True)
    ds = Dataset.load(dataset)
    items = ds.item_map()
    settings = settings or TrainSettings(epochs=1.0)
    current = start
    solved_before: set[str] = set()
    report: dict[str, Any] = {"start": str(start), "dataset": str(ds.path), "temperature": temperature,
                              "problems": problems, "rounds": []}
    for number in range(1, rounds + 1):
        here = root / f"round-{number}"
        run_dataset(ds, f"hf/{current}", here / "samples", split="train", limit=problems, temperature=temperature,
                    max_tokens=max_tokens, seed=seed + number, progress=progress)
        accepted, solved, answered = _accepted(here / "samples", items)
        _write_jsonl(here / "accepted.jsonl", accepted)
        row = {"round": number, "model": str(current), "problems": answered, "solved": len(solved),
               "newly_solved": len(solved - solved_before), "accepted": len(accepted)}
        solved_before |= solved
        if accepted:
            examples = [Example(a["numbers"], a["target"], a["stream"]) for a in accepted]
            manifest = train_on(examples, here / "model", model=f"hf/{current}", kind="star",
                                data={"accepted.jsonl": file_sha256(str(here / "accepted.jsonl"))},
                                settings=settings, seed=seed + number,
                                extra={"round": number, "temperature": temperature}, progress=progress)
            row.update(steps=manifest.steps, train_loss=manifest.train_loss, trained_on=manifest.counts["examples"])
            current = here / "model"
        else:  # nothing to learn from: the next round samples the same model again (with another seed)
            row.update(steps=0, train_loss=None, trained_on=0)
        report["rounds"].append(row)
        (root / REPORT).write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    for file in current.iterdir():  # the final model at OUT, so `--model hf/OUT` runs it
        if file.is_file():
            shutil.copy2(file, root / file.name)
    report["final_model"] = str(current)
    (root / REPORT).write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    return report


__all__ = ["REPORT", "star"]
