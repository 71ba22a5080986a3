"""The Stream of Search experiment as a study file (a top-level ``sos:`` section; ``proceval study FILE``).

Stages, each skipped when its inputs are unchanged and its output is there (``OUT/sos-state.json``):
generate the countdown problems → search them (streams + optimal paths) → train the SoS model and the
optimal-path model on the same problems and epochs → run both on the held-out split → STaR from the SoS
model → run the STaR model → analyse the three runs side by side (``search`` analysis: solve rates with CIs).
Training and runs also resume inside a stage after a kill.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from proceval.errors import StudyError
from proceval.ids import content_id

STATE = "sos-state.json"


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class DataSection(_Section):
    inputs: int = 3
    n: int = Field(3000, description="problems drawn (≈10% land in val_target)")
    seed: int = 0


class TrainSection(_Section):
    epochs: float = 2.0
    batch_size: int = 16
    learning_rate: float = 1e-3
    max_length: int | None = None
    max_steps: int = -1


class EvaluateSection(_Section):
    split: str = "val_target"
    limit: int | None = Field(200, description="held-out problems answered (None: all of the split)")
    max_tokens: int = 1024


class StarSection(_Section):
    rounds: int = 1
    problems: int = 200
    temperature: float = 0.8
    epochs: float = 1.0


class SosStudy(_Section):
    name: str = "sos"
    model: str = "tiny"
    seed: int = 0
    search: str = Field("all", description="strategy of the training streams (all: the published mix)")
    data: DataSection = DataSection()
    train: TrainSection = TrainSection()
    evaluate: EvaluateSection = EvaluateSection()
    star: StarSection | None = StarSection()


def load_sos_study(path: Path) -> SosStudy:
    from proceval.templates.yamlio import read_model

    return read_model(path, SosStudy, StudyError, at=("sos",), hint="see docs/sos.md for the keys of an sos: section")


def _settings(train: TrainSection | StarSection) -> Any:
    from proceval.train.sft import TrainSettings

    if isinstance(train, StarSection):
        return TrainSettings(epochs=train.epochs)
    return TrainSettings(epochs=train.epochs, batch_size=train.batch_size, learning_rate=train.learning_rate,
                         max_length=train.max_length, max_steps=train.max_steps)


def run_sos_study(path: str | os.PathLike[str], *, out: str | os.PathLike[str], force: bool = False,
                  log: Callable[[str], None] = print) -> Any:
    """Run (or resume) the study at ``path`` into ``out``; returns a :class:`proceval.study.StudyResult`."""
    from proceval.analysis import Report, analyze
    from proceval.dataset import Dataset
    from proceval.generate import generate
    from proceval.run import run_dataset
    from proceval.study import StageOutcome, StudyResult
    from proceval.tasks.countdown.streams import write_streams
    from proceval.train.sft import train_sft
    from proceval.train.star import star

    study = load_sos_study(Path(path))
    root = Path(out)
    root.mkdir(parents=True, exist_ok=True)
    state_file = root / STATE
    state: dict[str, str] = {} if force or not state_file.is_file() else json.loads(state_file.read_text("utf-8"))
    stages: list[StageOutcome] = []
    upstream = ""

    def stage(name: str, output: Path, inputs: object, work: Callable[[bool], object]) -> None:
        """Run ``work(fresh)`` unless done with these inputs; ``fresh``: inputs changed, so start over (a stage
        killed before it finished is resumed instead)."""
        nonlocal upstream
        digest = content_id(name, upstream, inputs)
        upstream = digest
        if state.get(name) == digest and output.exists():
            stages.append(StageOutcome(name, "skipped", output, "unchanged inputs"))
            log(f"{name}: done before, skipped")
            return
        log(f"{name} → {output}")
        work(force or name in state)
        state[name] = digest
        state_file.write_text(json.dumps(state, indent=2) + "\n", encoding="utf-8")
        stages.append(StageOutcome(name, "ran", output))

    d, t, e = study.data, study.train, study.evaluate
    data, streams = root / "data", root / "streams"
    stage("generate", data, d.model_dump(), lambda _: generate(
        "countdown", out=data, n=d.n, seed=d.seed, options={"inputs": str(d.inputs)}, force=True, progress=False))
    stage("search", streams, study.search, lambda _: write_streams(data, streams, strategy=study.search,
                                                                 seed=study.seed, force=True))
    after_search = upstream
    runs: list[Path] = []
    after_sos = ""
    texts = {"sos": "stream", "optimal": "optimal"}
    for label, text in texts.items():
        upstream = after_search  # both models: same problems, epochs and settings; only the text differs
        model_dir, run_dir = root / "models" / label, root / "runs" / label

        def train(fresh: bool, m: Path = model_dir, x: str = text) -> object:
            return train_sft(streams, m, text=x, model=study.model, settings=_settings(t), seed=study.seed,
                             force=fresh, progress=False)

        def evaluate(fresh: bool, m: Path = model_dir, r: Path = run_dir) -> object:
            return run_dataset(data, f"hf/{m}", r, split=e.split, limit=e.limit, max_tokens=e.max_tokens,
                               seed=study.seed, force=fresh, progress=False)

        stage(f"train-{label}", model_dir, [study.model, t.model_dump(), study.seed], train)
        stage(f"run-{label}", run_dir, e.model_dump(), evaluate)
        runs.append(run_dir)
        if label == "sos":
            after_sos = upstream
    if study.star is not None:
        s = study.star
        upstream = after_sos
        star_dir, run_dir = root / "models" / "sos-star", root / "runs" / "sos-star"
        stage("star", star_dir, s.model_dump(), lambda fresh: star(
            root / "models" / "sos", data, star_dir, rounds=s.rounds, problems=s.problems,
            temperature=s.temperature, max_tokens=e.max_tokens, settings=_settings(s), seed=study.seed,
            force=fresh, progress=False))
        stage("run-sos-star", run_dir, e.model_dump(), lambda fresh: run_dataset(
            data, f"hf/{star_dir}", run_dir, split=e.split, limit=e.limit, max_tokens=e.max_tokens,
            seed=study.seed, force=fresh, progress=False))
        runs.append(run_dir)
    report_dir = root / "report"
    upstream = content_id([state.get(f"run-{r.name}") for r in runs])
    stage("analyze", report_dir, study.name, lambda _: analyze(
        runs, out=report_dir, analyses=["search"], title=f"Stream of Search: {study.name}", seed=study.seed))
    return StudyResult(root, Dataset.load(data), runs, Report.read(report_dir), stages)


__all__ = ["SosStudy", "load_sos_study", "run_sos_study"]
