"""A SAMI study file (top-level ``sami:`` section), run by ``proceval study FILE``: constitutions, then for each
iteration generation with the current model and training, then the evaluation of the last model against the base.

Layout of ``OUT``: ``constitutions/``, ``it0/`` (data of iteration 0), ``model-1/`` (the model it trained), ...,
``report/`` (report.html, summary.json). Every stage resumes: generation and evaluation from their call caches,
training from its checkpoints (:func:`proceval.train.fit.fit`); a rerun with nothing left to do makes no call.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from proceval.study import StageOutcome, StudyResult
from proceval.train.sami.constitutions import (
    SamiError,
    make_constitutions,
    read_constitutions,
    read_principles,
    write_constitutions,
)
from proceval.train.sami.queries import load_queries


class GenerateSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    max_tokens: int = Field(96, ge=1)
    temperature: float = Field(0.7, ge=0)


class TrainSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    lora: bool = False
    lora_rank: int = Field(8, ge=1)
    learning_rate: float | None = Field(None, gt=0)
    epochs: float = Field(1.0, gt=0)
    max_steps: int = -1
    batch_size: int = Field(2, ge=1)
    optimizer: str = "adamw_torch"
    max_response_tokens: int = Field(128, ge=1)


class EvaluateSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    queries: str = Field(description="held-out queries: builtin[N:] or a file")
    judge: str | None = None


class SamiStudy(BaseModel):
    model_config = ConfigDict(extra="forbid")

    model: str = Field(description="hf/ spec of the model to train")
    generator: str | None = Field(None, description="another spec of the same weights for iteration 0's "
                                  "generation (local/smollm2-135m: llama.cpp, faster)")
    principles: str
    writer: str | None = None
    queries: str = "builtin[:64]"
    iterations: int = Field(1, ge=1)
    seed: int = 0
    threads: int | None = Field(None, ge=1, description="CPU threads of every model (1 on a busy shared machine)")
    generate: GenerateSettings = Field(default_factory=GenerateSettings)  # type: ignore[arg-type]
    train: TrainSettings = Field(default_factory=TrainSettings)  # type: ignore[arg-type]
    evaluate: EvaluateSettings


class SamiFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    sami: SamiStudy


def load_sami_study(path: str | Path) -> SamiStudy:
    from proceval.templates.yamlio import read_model

    return read_model(path, SamiFile, SamiError).sami


def _relative(value: str, base: Path) -> str:
    """A file named in the study is relative to the study file; ``builtin[...]`` stays as it is."""
    return value if value.startswith("builtin") else str((base / value).resolve())


def run_sami_study(path: str | Path, *, out: Path, force: bool = False,
                   log: Callable[[str], None] = print) -> StudyResult:
    import shutil

    from proceval.models import load_model
    from proceval.models.cache import CachedModel, CallCache
    from proceval.train.fit import describe
    from proceval.train.sami.evaluate import evaluate_sami
    from proceval.train.sami.generate import generate_data
    from proceval.train.sami.trainer import train_sami

    path = Path(path)
    spec = load_sami_study(path)
    out = Path(out)
    if force and out.exists():
        shutil.rmtree(out)
    stages: list[StageOutcome] = []
    base = path.parent

    options = {"n_threads": spec.threads} if spec.threads else {}
    const_dir = out / "constitutions"
    writer = None
    if spec.writer is not None:
        writer = CachedModel(load_model(spec.writer, **options), CallCache(out / "writer-calls.sqlite"))
    constitutions = make_constitutions(read_principles(base / spec.principles), writer=writer, seed=spec.seed,
                                       source=base / spec.principles)
    if writer is not None and writer.cache is not None:
        writer.cache.close()
    write_constitutions(constitutions, const_dir)
    constitutions = read_constitutions(const_dir)
    stages.append(StageOutcome("constitutions", "ran", const_dir, f"{len(constitutions.constitutions)} constitutions"))

    queries = load_queries(_relative(spec.queries, base))
    held_out = load_queries(_relative(spec.evaluate.queries, base))
    overlap = {q.id for q in queries.queries} & {q.id for q in held_out.queries}
    if overlap:
        raise SamiError(f"{len(overlap)} held-out queries are also training queries", file=path,
                        field="sami.evaluate.queries", hint="hold out queries the training never sees")
    current = spec.model
    for k in range(spec.iterations):
        generator = spec.generator if (k == 0 and spec.generator) else current
        data = out / f"it{k}"
        log(f"iteration {k}: generating {len(queries.queries)} queries with {generator}")
        made = generate_data(generator, constitutions, queries.queries, data, seed=spec.seed + k,
                             max_tokens=spec.generate.max_tokens, temperature=spec.generate.temperature,
                             options=options, log=log)
        stages.append(StageOutcome(f"generate it{k}", "ran" if made["calls"] else "skipped", data,
                                   f"{made['calls']} calls, {made['cache_hits']} from the cache"))
        model_dir = out / f"model-{k + 1}"
        manifest = train_sami(current, data, model_dir, seed=spec.seed, threads=spec.threads,
                              **spec.train.model_dump())
        log(describe(manifest))
        stages.append(StageOutcome(f"train model-{k + 1}", "ran", model_dir, describe(manifest)))
        current = f"hf/{model_dir.resolve()}"
    report = out / "report"
    summary = evaluate_sami(current, spec.model, constitutions, held_out.queries, report, judge=spec.evaluate.judge,
                            seed=spec.seed, max_tokens=spec.generate.max_tokens,
                            temperature=spec.generate.temperature, options=options, log=log)
    for label, measures in summary["information"].items():
        log(f"{label}: MI lower bound {measures['mi_lower_bound']['mean']:.3f} nats, identification "
            f"{measures['identification']['mean']:.3f}")
    if summary["win_rates"]:
        log(f"win rate of the trained model (judge {spec.evaluate.judge}): {summary['win_rates']['overall']['mean']:.3f}")
    stages.append(StageOutcome("evaluate", "ran", report / "report.html"))
    return StudyResult(out=out, dataset=None, runs=[], report=None, stages=stages)


__all__ = ["SamiStudy", "load_sami_study", "run_sami_study"]
