"""Study files: one YAML file names every stage (dataset, subjects, human data, analyses) and
:func:`run_study` runs each stage once, skipping stages whose outputs exist and whose inputs are unchanged.

    from proceval.study import load_study, run_study
    result = run_study("examples/tom-demo/study.yaml", out="runs/demo")
    result.report.html_path

Layout of ``out``::

    dataset/            the generated dataset directory
    runs/<subject>/     one run directory per subject
    report/             report.html, summary.json, tables/, figures/
    study-state.json    the input hash each finished stage was made from

A stage is skipped when its output exists and the hash of its inputs (settings, the files it reads, the
proceval version for built-in templates) equals the recorded one. A stage whose inputs changed is redone
from scratch; a run interrupted part-way resumes (the run engine completes what is missing).

Why over 400 lines: the study-file schema and the driver that runs its stages are one job (a study file means
what the driver does with it); each stage is a short function of the library it calls.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import warnings
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from proceval import __version__
from proceval.errors import ProcevalError, StudyError
from proceval.ids import content_id, file_sha256

STATE_FILE = "study-state.json"


class DatasetSpec(BaseModel):
    """Where the items come from: a template filled from its lexicon (``n``), from table files, or a writer; or
    ``n`` draws of a Python task (``task``, with its ``options``)."""

    model_config = ConfigDict(extra="forbid")

    template: str | None = Field(None, description="built-in template name or a YAML file (relative to the study "
                                                   "file)")
    task: str | None = Field(None, description="a Python task (`proceval tasks`), e.g. prontoqa")
    options: dict[str, Any] = Field(default_factory=dict, description="the task's options, e.g. hops: 1-3")
    n: int | None = Field(None, ge=1, description="scenarios to fill from the lexicon or the writer")
    from_files: list[str] = Field(default_factory=list, alias="from",
                                  description="table files of filled rows (relative to the study file)")
    writer: str | None = Field(None, description="model spec of an LLM that fills the template")
    seed: int | None = Field(None, description="generation seed (default: the study's seed)")
    strict: bool = False

    @model_validator(mode="after")
    def _one_source(self) -> DatasetSpec:
        if (self.template is None) == (self.task is None):
            raise ValueError("name either a 'template' or a 'task', not both" if self.template else
                             "name the items' source: 'template' (a causal template) or 'task' (a Python task)")
        if self.task is not None and (self.from_files or self.writer):
            raise ValueError("a Python task draws its own items: 'from' and 'writer' are for templates")
        if self.from_files and self.writer:
            raise ValueError("choose one scenario source: 'from' (table files) or 'writer', not both")
        if not self.from_files and self.n is None:
            raise ValueError("say how many scenarios to fill with 'n', or import rows with 'from'")
        return self

    def task_options(self) -> dict[str, Any]:
        """The task's options as the command line gives them (``hops: 1`` is the text "1"), typed by the task."""
        return {k: str(v) if isinstance(v, int | float | bool) else v for k, v in self.options.items()}

    @property
    def source(self) -> str:
        """The task or template name (or file) the items come from."""
        return str(self.task or self.template)


class RaySpec(BaseModel):
    """``proceval.run.ray.RayExecutor``'s settings, as a study file gives them."""

    model_config = ConfigDict(extra="forbid")
    address: str | None = None
    actors: int = Field(1, ge=1)
    num_cpus: float = Field(1.0, gt=0)
    num_gpus: float = Field(0.0, ge=0)
    base_urls: list[str] = Field(default_factory=list)
    per_endpoint: int = Field(4, ge=1)


class SubjectSpec(BaseModel):
    """A model given the items, with its prompting and scoring; with ``personas``, a simulated population."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(None, description="run directory name (default: derived from the model spec)")
    model: str = Field(description="model spec, e.g. local/smollm2-135m or openai/NAME")
    solver: str = Field("model", description="who answers with the model: model (under 'strategy'), or a solver "
                                             "such as logic-guide; its options go in 'options' beside the backend's")
    strategy: Literal["zero-shot", "cot", "few-shot"] = "zero-shot"
    scoring: Literal["auto", "logprob", "generate"] = "auto"
    system: str | None = None
    k_shots: int = Field(3, ge=0)
    limit: int | None = Field(None, ge=1)
    seed: int | None = None
    temperature: float = Field(0.0, ge=0)
    max_tokens: int | None = Field(None, ge=1)
    option_format: str = "letters"
    options: dict[str, Any] = Field(default_factory=dict, description="backend options, e.g. base_url, and the "
                                                                     "solver's own, e.g. formalise: proceval")
    personas: str | None = Field(None, description="persona table or long human table (relative to the study "
                                                   "file): each persona answers as its own respondent")
    persona_template: str | None = Field(None, description="Jinja2 text or a file (relative to the study file)")
    n_personas: int | None = Field(None, ge=1, description="draw this many personas (seeded)")
    persona_seed: int | None = Field(None, description="seed of that draw (default: the subject's seed)")
    persona_order: Literal["dataset", "human", "shuffled"] = "dataset"
    persona_memory: int = Field(0, ge=0, description="earlier items (and own answers) each prompt recalls")
    executor: Literal["local", "ray"] = Field("local", description="where the items are answered (docs/scale.md)")
    ray: RaySpec | None = Field(None, description="the Ray cluster and actors (with executor: ray)")

    @model_validator(mode="after")
    def _personas_named(self) -> SubjectSpec:
        given = [k for k in ("persona_template", "n_personas", "persona_seed") if getattr(self, k) is not None]
        given += [k for k, default in (("persona_order", "dataset"), ("persona_memory", 0))
                  if getattr(self, k) != default]
        if given and self.personas is None:
            raise ValueError(f"{', '.join(given)} need 'personas' (a persona table or a long human table)")
        return self

    def split_options(self) -> tuple[str, dict[str, Any]]:
        """The registered solver name with its options, and the backend options (the rest of ``options``)."""
        from proceval.solvers import SOLVERS, configured

        if self.solver == "model":
            return "model", dict(self.options)
        declared = getattr(SOLVERS.get(self.solver.partition(":")[0]), "Options", None)
        names = {f.name for f in fields(declared)} if declared is not None else set()
        mine = {k: v for k, v in self.options.items() if k in names}
        return configured(self.solver, mine), {k: v for k, v in self.options.items() if k not in names}

    @property
    def run_name(self) -> str:
        if self.name:
            return self.name
        slug = re.sub(r"[^A-Za-z0-9._-]+", "-", self.model).strip("-")
        if self.solver != "model":
            try:
                solver = self.split_options()[0]
            except ProcevalError:  # an unknown solver or option: named where the study is checked or run
                solver = self.solver
            return f"{slug}-" + re.sub(r"[^A-Za-z0-9._-]+", "-", solver).strip("-")
        return f"{slug}-{self.strategy}" + ("-personas" if self.personas else "")



class AnalysisSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    analyses: list[str] | None = Field(None, description="analyses to run (default: all that apply)")
    n_boot: int = Field(2000, ge=100)
    level: float = Field(0.95, gt=0, lt=1)
    seed: int | None = None
    title: str | None = None
    options: dict[str, Any] = Field(default_factory=dict,
                                    description="analysis options, e.g. irt_model: 3pl (`proceval analyze --list`)")


class Study(BaseModel):
    """A study file."""

    model_config = ConfigDict(extra="forbid")

    name: str
    description: str | None = None
    seed: int = 0
    dataset: DatasetSpec
    subjects: list[SubjectSpec] = Field(min_length=1)
    humans: str | None = Field(None, description="long table of human answers (relative to the study file)")
    analysis: AnalysisSpec = Field(default_factory=AnalysisSpec)

    @model_validator(mode="after")
    def _unique_runs(self) -> Study:
        names = [s.run_name for s in self.subjects]
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            raise ValueError(f"two subjects would write the same run directory {twice}: give them distinct 'name's")
        return self


@dataclass
class LoadedStudy:
    study: Study
    path: Path

    def resolve(self, relative: str) -> Path:
        """A path from the study file, relative to the file's directory."""
        path = Path(relative).expanduser()
        return path if path.is_absolute() else self.path.parent / path


def load_study(path: str | os.PathLike[str]) -> LoadedStudy:
    """Read and check a study file. Errors name the file, line and field, with the known keys for typos."""
    from proceval.templates.yamlio import format_loc, read_yaml, validate_yaml

    file = Path(path)
    if not file.is_file():
        raise StudyError("no such study file", file=file)
    data, lines = read_yaml(file, StudyError)
    if not isinstance(data, dict):
        raise StudyError("a study file is a mapping of keys (name, dataset, subjects, ...)", file=file, line=1)
    study = validate_yaml(data, Study, StudyError, file=file, lines=lines,
                          hint="see docs/study.md for the keys of a study file")
    loaded = LoadedStudy(study, file)
    files: list[tuple[str | None, tuple[str | int, ...]]] = [(study.humans, ("humans",))]
    files += [(f, ("dataset", "from", i)) for i, f in enumerate(study.dataset.from_files)]
    files += [(s.personas, ("subjects", i, "personas")) for i, s in enumerate(study.subjects)]
    for relative, where in files:
        if relative is not None and not loaded.resolve(relative).is_file():
            raise StudyError(f"no such file {relative!r} (paths are relative to the study file)", file=file,
                             line=lines.line_for(where), field=format_loc(where))
    return loaded


@dataclass
class StageOutcome:
    stage: str
    status: Literal["ran", "skipped", "resumed"]
    output: Path
    reason: str = ""


@dataclass
class StudyResult:
    out: Path
    dataset: Any
    runs: list[Path]
    report: Any
    stages: list[StageOutcome] = field(default_factory=list)


class _State:
    def __init__(self, out: Path) -> None:
        self.path = out / STATE_FILE
        self.data: dict[str, Any] = {}
        if self.path.is_file():
            try:
                data = json.loads(self.path.read_text(encoding="utf-8"))
                if not isinstance(data, dict):
                    raise ValueError(f"a JSON {type(data).__name__}, not an object")
                self.data = data
            except ValueError as exc:  # start afresh, but say so and keep the old file for a look
                kept = self.path.with_name(f"{STATE_FILE}.corrupt-{datetime.now(UTC):%Y%m%dT%H%M%S%fZ}")
                os.replace(self.path, kept)
                warnings.warn(f"{self.path} is unreadable ({exc}); it was moved to {kept.name} and every "
                              "stage is checked again, redoing those whose inputs cannot be confirmed",
                              stacklevel=2)

    def matches(self, stage: str, digest: str) -> bool:
        return bool(self.data.get(stage, {}).get("hash") == digest)

    def recorded(self, stage: str) -> bool:
        return stage in self.data

    def record(self, stage: str, digest: str, output: Path) -> None:
        self.data[stage] = {"hash": digest, "output": str(output)}
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.data, indent=2) + "\n", encoding="utf-8")
        os.replace(tmp, self.path)

    def forget(self, stage: str) -> None:
        if self.data.pop(stage, None) is not None:
            self.record_all()

    def record_all(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.write_text(json.dumps(self.data, indent=2) + "\n", encoding="utf-8")


def _template_identity(loaded: LoadedStudy) -> dict[str, Any]:
    from proceval.tasks import TASKS
    from proceval.templates import builtin_templates

    spec = loaded.study.dataset.source
    builtins = builtin_templates()
    if loaded.study.dataset.task is not None and spec not in TASKS:
        raise StudyError(TASKS.unknown_message(spec), file=loaded.path, field="dataset.task",
                         hint=f"Python tasks: {', '.join(TASKS.names())}")
    if spec in TASKS and spec not in builtins:  # a Python task: its code is the installed proceval's
        return {"task": spec, "proceval": __version__}
    if spec in builtins:
        lexicon = builtins[spec].with_name(f"{spec}_lexicon.yaml")
        return {"builtin": spec, "sha256": file_sha256(str(builtins[spec])), "proceval": __version__,
                "lexicon": file_sha256(str(lexicon)) if lexicon.is_file() else None}
    path = loaded.resolve(spec)
    if not path.is_file():
        raise StudyError(f"no built-in template or file named {spec!r}", file=loaded.path, field="dataset.template",
                         hint=f"built-in templates: {', '.join(builtins)}; file paths are relative to the study file")
    return {"file": str(path), "sha256": file_sha256(str(path))}


def _persona_template(loaded: LoadedStudy, subject: SubjectSpec) -> str | Path | None:
    """The subject's persona template: a file beside the study file, else the text (which load_personas
    takes as Jinja2 text, or as a file name it reports missing)."""
    if subject.persona_template is None:
        return None
    path = loaded.resolve(subject.persona_template)
    return path if path.is_file() else subject.persona_template


def _personas(loaded: LoadedStudy, subject: SubjectSpec, seed: int) -> list[Any] | None:
    if not subject.personas:
        return None
    from proceval.solvers.personas import load_personas

    return load_personas(loaded.resolve(subject.personas), template=_persona_template(loaded, subject),
                         n=subject.n_personas, seed=seed if subject.persona_seed is None else subject.persona_seed)


def _file_digest(path: Path) -> str:
    return file_sha256(str(path)) if path.is_file() else "missing"


def stage_hashes(loaded: LoadedStudy, out: Path) -> dict[str, str]:
    """The input hash of every stage (the dataset's hash feeds the runs', the runs' feed the report's)."""
    study = loaded.study
    spec = study.dataset
    generate_inputs = {"template": _template_identity(loaded), "n": spec.n, "writer": spec.writer,
                       "seed": study.seed if spec.seed is None else spec.seed, "strict": spec.strict,
                       "from": [_file_digest(loaded.resolve(f)) for f in spec.from_files]}
    if spec.options:  # (only when given, so studies written before task options keep their hashes)
        generate_inputs["options"] = spec.options
    hashes = {"generate": content_id("generate", generate_inputs, length=24)}
    for subject in study.subjects:
        # where the items are answered does not change the answers (a Ray run equals a local one): not hashed
        settings = subject.model_dump(exclude={"name", "executor", "ray"}
                                      | ({"solver"} if subject.solver == "model" else set()))
        settings["seed"] = study.seed if subject.seed is None else subject.seed
        if subject.personas:  # the population is part of the run's inputs: its table, and a template file
            settings["personas"] = _file_digest(loaded.resolve(subject.personas))
            template = _persona_template(loaded, subject)
            settings["persona_template"] = _file_digest(template) if isinstance(template, Path) else template
        hashes[f"run:{subject.run_name}"] = content_id("run", hashes["generate"], settings, length=24)
    analysis = study.analysis.model_dump()
    analysis["seed"] = study.seed if analysis["seed"] is None else analysis["seed"]
    humans = None
    if study.humans:
        from proceval.humans.data import find_mapping

        human_file = loaded.resolve(study.humans)
        mapping = find_mapping(human_file)  # a table in its own layout is read through the mapping beside it
        humans = [_file_digest(human_file), _file_digest(mapping) if mapping else None]
    runs = [hashes[f"run:{s.run_name}"] for s in study.subjects]
    hashes["analyze"] = content_id("analyze", runs, humans, analysis, __version__, length=24)
    return hashes


def _executor(subject: SubjectSpec) -> Any:
    if subject.executor == "local":
        return None
    from proceval.run.ray import RayExecutor

    return RayExecutor(**(subject.ray or RaySpec()).model_dump())


def run_study(
    study: str | os.PathLike[str] | LoadedStudy,
    *,
    out: str | os.PathLike[str],
    force: bool = False,
    progress: bool = True,
    log: Any = None,
) -> StudyResult:
    """Run every stage of ``study`` into ``out``, skipping stages that are done with the same inputs.

    ``force`` redoes every stage. ``log`` (a callable taking one line) hears what each stage does.
    """
    from proceval.analysis import analyze
    from proceval.dataset import Dataset
    from proceval.generate import generate
    from proceval.run import run_dataset

    loaded = study if isinstance(study, LoadedStudy) else load_study(study)
    spec = loaded.study
    root = Path(out)
    root.mkdir(parents=True, exist_ok=True)
    say = log or (lambda line: None)
    state = _State(root)
    hashes = stage_hashes(loaded, root)
    stages: list[StageOutcome] = []

    def done(stage: str, output: Path, marker: str) -> bool:
        return not force and state.matches(stage, hashes[stage]) and (output / marker).is_file()

    dataset_dir = root / "dataset"
    if done("generate", dataset_dir, "manifest.json"):
        dataset = Dataset.load(dataset_dir)
        stages.append(StageOutcome("generate", "skipped", dataset_dir, "unchanged inputs"))
    else:
        redo = dataset_dir.exists()
        say(f"generate: {spec.dataset.source} → {dataset_dir}")
        dataset = generate(
            str(_template_arg(loaded)), out=dataset_dir, n=spec.dataset.n,
            seed=spec.seed if spec.dataset.seed is None else spec.dataset.seed,
            from_files=[loaded.resolve(f) for f in spec.dataset.from_files], strict=spec.dataset.strict,
            force=redo, writer=spec.dataset.writer, progress=progress, options=spec.dataset.task_options() or None,
        )
        state.record("generate", hashes["generate"], dataset_dir)
        stages.append(StageOutcome("generate", "ran", dataset_dir,
                                   "inputs changed" if redo else f"{dataset.manifest.n_items} items"))

    run_dirs = []
    for subject in spec.subjects:
        stage = f"run:{subject.run_name}"
        run_dir = root / "runs" / subject.run_name
        run_dirs.append(run_dir)
        if done(stage, run_dir, "run.json"):
            stages.append(StageOutcome(stage, "skipped", run_dir, "unchanged inputs"))
            continue
        # Same inputs but unfinished: resume. Recorded with other inputs (or forced): start over.
        changed = force or (state.recorded(stage) and not state.matches(stage, hashes[stage]))
        resumed = run_dir.exists() and not changed
        if changed:
            state.forget(stage)
        if force and run_dir.exists():  # redo means ask again: neither the answers nor the call cache are kept
            shutil.rmtree(run_dir)
        solver, backend = subject.split_options()
        how = f"{subject.strategy}, {subject.scoring}" if solver == "model" else solver
        say(f"run: {subject.model} ({how}) → {run_dir}")
        seed = spec.seed if subject.seed is None else subject.seed
        run_dataset(
            dataset, subject.model, run_dir, strategy=subject.strategy, scoring=subject.scoring,
            system=subject.system, k_shots=subject.k_shots, limit=subject.limit, seed=seed,
            temperature=subject.temperature, max_tokens=subject.max_tokens, option_format=subject.option_format,
            personas=_personas(loaded, subject, seed), persona_order=subject.persona_order,
            persona_memory=subject.persona_memory, progress=progress, force=changed and run_dir.exists(),
            solver=solver, executor=_executor(subject), **backend,
        )
        state.record(stage, hashes[stage], run_dir)
        stages.append(StageOutcome(stage, "resumed" if resumed else "ran", run_dir))

    report_dir = root / "report"
    if done("analyze", report_dir, "report.html"):
        from proceval.analysis import Report

        report: Any = Report.read(report_dir)
        stages.append(StageOutcome("analyze", "skipped", report_dir, "unchanged inputs"))
    else:
        say(f"analyze: {len(run_dirs)} run(s) → {report_dir}")
        analysis = spec.analysis
        report = analyze(
            run_dirs, out=report_dir, dataset=dataset,
            humans=loaded.resolve(spec.humans) if spec.humans else None, analyses=analysis.analyses,
            seed=spec.seed if analysis.seed is None else analysis.seed, n_boot=analysis.n_boot,
            level=analysis.level, title=analysis.title or f"{spec.name}: {spec.description or spec.dataset.source}",
            options=analysis.options, progress=progress,
        )
        state.record("analyze", hashes["analyze"], report_dir)
        stages.append(StageOutcome("analyze", "ran", report_dir))
    return StudyResult(root, dataset, run_dirs, report, stages)


def check_study(loaded: LoadedStudy) -> list[str]:
    """Check what can be checked without running a model: the template loads, every model spec names a
    known provider and model, every backend option is one its backend takes (and files exist). Raises
    :class:`StudyError` at the first problem, naming the line; returns notes on what only a run can tell."""
    from proceval.errors import ModelError
    from proceval.models.check import check_model
    from proceval.templates import load_template
    from proceval.templates.yamlio import format_loc, read_yaml

    study = loaded.study
    if study.dataset.task is not None:
        from proceval.tasks import make_task

        _template_identity(loaded)  # the task exists
        try:
            make_task(study.dataset.task, study.dataset.task_options())
        except ProcevalError as exc:
            _, task_lines = read_yaml(loaded.path, StudyError)
            raise StudyError(exc.message, file=loaded.path, line=task_lines.line_for(("dataset", "options")),
                             field="dataset.options", hint=exc.hint) from None
    else:
        load_template(_template_arg(loaded))
    _, lines = read_yaml(loaded.path, StudyError)
    models: list[tuple[str, dict[str, Any], tuple[str | int, ...]]] = []
    if study.dataset.writer:
        models.append((study.dataset.writer, {}, ("dataset", "writer")))
    notes = []
    for i, subject in enumerate(study.subjects):
        try:
            models.append((subject.model, subject.split_options()[1], ("subjects", i)))
        except ProcevalError as exc:  # an unknown solver, or an option it refuses
            at: tuple[str | int, ...] = ("subjects", i, "solver" if "solver" in exc.message else "options")
            raise StudyError(exc.message, file=loaded.path, line=lines.line_for(at), field=format_loc(at),
                             hint=exc.hint) from None
    for spec, options, where in models:
        try:
            notes += check_model(spec, options)
        except ModelError as exc:
            field = exc.field or "model"
            field = "options.base_url" if field == "base_url" else field
            loc = (*where, *field.split(".")) if where[0] == "subjects" else where
            raise StudyError(exc.message, file=loaded.path, line=lines.line_for(loc), field=format_loc(loc),
                             hint=exc.hint) from None
    _check_analysis(loaded, lines)
    return notes


def _check_analysis(loaded: LoadedStudy, lines: Any) -> None:
    """The analyses named exist (built-in or plugin) and every option is one an analysis declares."""
    from proceval.analysis import available_analyses, check_options
    from proceval.errors import AnalysisError

    spec, known = loaded.study.analysis, available_analyses()
    for name in spec.analyses or []:
        if name not in known:
            loc = ("analysis", "analyses")
            raise StudyError(f"unknown analysis {name!r}", file=loaded.path, line=lines.line_for(loc),
                             field="analysis.analyses", hint=f"known analyses: {', '.join(sorted(known))}")
    try:
        check_options(spec.options, known)
    except AnalysisError as exc:
        loc = ("analysis", "options")
        raise StudyError(exc.message, file=loaded.path, line=lines.line_for(loc), field="analysis.options",
                         hint=exc.hint) from None


def _template_arg(loaded: LoadedStudy) -> str | Path:
    from proceval.tasks import TASKS

    name = loaded.study.dataset.source
    return name if name in TASKS else loaded.resolve(name)

