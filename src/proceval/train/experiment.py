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
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass
from functools import partial
from multiprocessing import get_context
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
    parallel: int = Field(2, ge=1, description="held-out runs and STaR sampling at once (each decodes on one "
                                               "CPU thread; 1: one stage at a time, in this process)")


def load_sos_study(path: Path) -> SosStudy:
    from proceval.templates.yamlio import read_model

    return read_model(path, SosStudy, StudyError, at=("sos",), hint="see docs/sos.md for the keys of an sos: section")


def _settings(train: TrainSection | StarSection) -> Any:
    from proceval.train.sft import TrainSettings

    if isinstance(train, StarSection):
        return TrainSettings(epochs=train.epochs)
    return TrainSettings(epochs=train.epochs, batch_size=train.batch_size, learning_rate=train.learning_rate,
                         max_length=train.max_length, max_steps=train.max_steps)


@dataclass
class _Stage:
    name: str
    output: Path
    digest: str
    work: Callable[[bool], object]  # work(fresh); picklable when ``lane`` (it runs in a worker process)
    after: tuple[str, ...] = ()
    lane: bool = False  # decodes on one CPU thread: may run beside another such stage


def _train(streams: Path, out: Path, text: str, model: str, settings: Any, seed: int, fresh: bool) -> object:
    from proceval.train.sft import train_sft

    return train_sft(streams, out, text=text, model=model, settings=settings, seed=seed, force=fresh, progress=False)


def _evaluate(data: Path, model: Path, out: Path, e: EvaluateSection, seed: int, fresh: bool) -> object:
    from proceval.run import run_dataset

    return run_dataset(data, f"hf/{model}", out, split=e.split, limit=e.limit, max_tokens=e.max_tokens, seed=seed,
                       force=fresh, progress=False)


def _star(start: Path, data: Path, out: Path, s: StarSection, max_tokens: int, seed: int, fresh: bool) -> object:
    from proceval.train.star import star

    return star(start, data, out, rounds=s.rounds, problems=s.problems, temperature=s.temperature,
                max_tokens=max_tokens, settings=_settings(s), seed=seed, force=fresh, progress=False)


def run_sos_study(path: str | os.PathLike[str], *, out: str | os.PathLike[str], force: bool = False,
                  log: Callable[[str], None] = print) -> Any:
    """Run (or resume) the study at ``path`` into ``out``; returns a :class:`proceval.study.StudyResult`."""
    from proceval.analysis import Report, analyze
    from proceval.dataset import Dataset
    from proceval.generate import generate
    from proceval.study import StudyResult
    from proceval.tasks.countdown.streams import write_streams

    study = load_sos_study(Path(path))
    root = Path(out)
    root.mkdir(parents=True, exist_ok=True)
    state_file = root / STATE
    state: dict[str, str] = {} if force or not state_file.is_file() else json.loads(state_file.read_text("utf-8"))
    plan: list[_Stage] = []

    def stage(name: str, output: Path, upstream: str, inputs: object, work: Callable[[bool], object],
              after: tuple[str, ...] = (), lane: bool = False) -> str:
        """Plan a stage; its digest chains its inputs to ``upstream`` (a stage reruns when anything before it
        changed). Returns the digest, the upstream of the stages after it."""
        plan.append(_Stage(name, output, content_id(name, upstream, inputs), work, after, lane))
        return plan[-1].digest

    d, t, e, seed = study.data, study.train, study.evaluate, study.seed
    data, streams, models, runs_dir = root / "data", root / "streams", root / "models", root / "runs"
    up = stage("generate", data, "", d.model_dump(), lambda _: generate(
        "countdown", out=data, n=d.n, seed=d.seed, options={"inputs": str(d.inputs)}, force=True, progress=False))
    after_search = stage("search", streams, up, study.search, lambda _: write_streams(
        data, streams, strategy=study.search, seed=seed, force=True), after=("generate",))
    # both models: same problems, epochs and settings; only the text differs. Trainings first (they use every
    # core), then the held-out runs two at a time (each decodes on one thread)
    trained = {label: stage(f"train-{label}", models / label, after_search, [study.model, t.model_dump(), seed],
                            partial(_train, streams, models / label, text, study.model, _settings(t), seed),
                            after=("search",))
               for label, text in (("sos", "stream"), ("optimal", "optimal"))}
    ran = {label: stage(f"run-{label}", runs_dir / label, trained[label], e.model_dump(),
                        partial(_evaluate, data, models / label, runs_dir / label, e, seed),
                        after=(f"train-{label}",), lane=True)
           for label in trained}
    if study.star is not None:
        star_up = stage("star", models / "sos-star", ran["sos"], study.star.model_dump(),
                        partial(_star, models / "sos", data, models / "sos-star", study.star, e.max_tokens, seed),
                        after=("train-sos",), lane=True)
        ran["sos-star"] = stage("run-sos-star", runs_dir / "sos-star", star_up, e.model_dump(),
                                partial(_evaluate, data, models / "sos-star", runs_dir / "sos-star", e, seed),
                                after=("star",), lane=True)
    runs = [runs_dir / label for label in ran]
    report_dir = root / "report"
    stage("analyze", report_dir, content_id(list(ran.values())), study.name, lambda _: analyze(
        runs, out=report_dir, analyses=["search"], title=f"Stream of Search: {study.name}", seed=seed),
        after=tuple(f"run-{label}" for label in ran))

    def done(s: _Stage) -> None:
        state[s.name] = s.digest
        ordered = {p.name: state[p.name] for p in plan if p.name in state}  # the file lists stages in plan order
        state_file.write_text(json.dumps(ordered, indent=2) + "\n", encoding="utf-8")

    outcomes = _execute(plan, state, force, study.parallel, log, done)
    stages = [outcomes[s.name] for s in plan]
    return StudyResult(root, Dataset.load(data), runs, Report.read(report_dir), stages)


def _execute(plan: list[_Stage], state: dict[str, str], force: bool, parallel: int, log: Callable[[str], None],
             done: Callable[[_Stage], None]) -> dict[str, Any]:
    """Run the planned stages in order of their dependencies: ``lane`` stages up to ``parallel`` at once in
    worker processes, any other stage alone in this process. A stage whose digest is recorded and whose output
    exists is skipped; ``fresh`` (start over) when its inputs changed, else a killed stage resumes."""
    from proceval.study import StageOutcome

    outcomes: dict[str, Any] = {}
    waiting = list(plan)
    running: dict[Future[object], _Stage] = {}
    pool = ProcessPoolExecutor(parallel, mp_context=get_context("spawn")) if parallel > 1 else None
    try:
        while waiting or running:
            for s in list(waiting):
                if any(a not in outcomes for a in s.after):
                    continue
                if state.get(s.name) == s.digest and s.output.exists():
                    waiting.remove(s)
                    outcomes[s.name] = StageOutcome(s.name, "skipped", s.output, "unchanged inputs")
                    log(f"{s.name}: done before, skipped")
                    continue
                in_lane = pool is not None and s.lane and all(r.lane for r in running.values())
                if running and not (in_lane and len(running) < parallel):
                    continue
                waiting.remove(s)
                log(f"{s.name} → {s.output}")
                fresh = force or s.name in state
                if in_lane:
                    assert pool is not None
                    running[pool.submit(s.work, fresh)] = s
                    continue
                s.work(fresh)
                done(s)
                outcomes[s.name] = StageOutcome(s.name, "ran", s.output)
            if running:
                finished, _ = wait(running, return_when=FIRST_COMPLETED)
                for future in finished:
                    s = running.pop(future)
                    future.result()  # a stage's error stops the study (the finished ones stay recorded)
                    done(s)
                    outcomes[s.name] = StageOutcome(s.name, "ran", s.output)
                    log(f"{s.name}: finished")
    finally:
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
    return outcomes


__all__ = ["SosStudy", "load_sos_study", "run_sos_study"]
