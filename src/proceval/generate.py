"""template or task → scenarios → items: one function that writes a dataset directory."""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from proceval import __version__
from proceval.core.task import Task
from proceval.dataset import (
    ITEMS_FILE,
    MANIFEST_FILE,
    SCENARIOS_FILE,
    TEMPLATE_FILE,
    Dataset,
    DatasetWriter,
    Manifest,
    Scenario,
    SkippedRow,
)
from proceval.errors import DatasetError, SourceError, TemplateError
from proceval.ids import content_id
from proceval.scenarios.sources import SOURCES, SourceRequest
from proceval.tasks.template import TemplateTask
from proceval.templates import Template, load_template
from proceval.ui import progress_bar

PathLike = str | os.PathLike[str]
DATASET_FILES = frozenset({ITEMS_FILE, SCENARIOS_FILE, MANIFEST_FILE, TEMPLATE_FILE})  # all that a dataset holds


def generate(
    template: str | PathLike | Template | Task,
    *,
    out: PathLike,
    n: int | None = None,
    seed: int = 0,
    from_files: Iterable[PathLike] | None = None,
    strict: bool = False,
    force: bool = False,
    writer: str | None = None,
    writer_options: dict[str, Any] | None = None,
    progress: bool = True,
    options: dict[str, Any] | None = None,
    source: str | None = None,
) -> Dataset:
    """Fill ``template`` (or draw from a task) and write its items to the dataset directory ``out``.

    ``template`` may name a Python task (``proceval tasks``; ``options`` set its config) or be a
    :class:`~proceval.core.Task`: its ``n`` draws for ``seed`` are written.

    The scenarios come from ``from_files`` (rows in the template's table layout), from an LLM ``writer``
    (a model spec), or else from the template's lexicon (``n`` scenarios, deterministic in ``seed``); ``source``
    names another scenario source (:data:`proceval.scenarios.sources.SOURCES`, open to plugins).
    Rows that cannot be used are skipped and listed in the manifest; ``strict`` makes the first one an error.
    The directory appears only when complete. ``force`` replaces ``out`` only when it is empty or a dataset
    directory (nothing but the files proceval writes there), never a folder holding other files.
    """
    _check_target(Path(out), force)
    task = _python_task(template, options)
    if task is not None:
        if from_files or writer:
            raise SourceError(f"task {task.name!r} draws its own items; --from and --writer fill causal templates")
        return generate_task(task, out=out, n=n, seed=seed, force=force, progress=progress)
    if options:
        raise SourceError("--option sets a Python task's config; causal templates take none", field="option")
    if isinstance(template, Task):  # a causal template as a task (other tasks were written above)
        assert isinstance(template, TemplateTask)
        template = template.template
    tpl = template if isinstance(template, Template) else load_template(template)
    files = [Path(f) for f in from_files or []]
    if files and writer:
        raise SourceError("choose one scenario source: --from FILE or --writer MODEL, not both")
    name = source or ("table" if files else "writer" if writer else "lexicon")
    request = SourceRequest(n=n, seed=seed, files=files, model=writer, options=dict(writer_options or {}),
                            progress=progress)
    filling = SOURCES.get(name)(tpl, request)
    outcomes, total = filling.outcomes, filling.total

    skipped: list[SkippedRow] = []
    recovered: list[SkippedRow] = []
    seen: dict[str, str] = {}
    with DatasetWriter(out, overwrite=force) as dataset_writer:
        dataset_writer.write_template(tpl.source_text)
        with progress_bar(f"generating {tpl.name}", total=total, unit="scenarios", enabled=progress) as bar:
            for outcome in outcomes:
                if isinstance(outcome, Scenario) and outcome.id in seen:
                    where = outcome.source.get("line")
                    outcome = SkippedRow(file=outcome.source.get("file"), line=where,
                                         reason=f"duplicate of the scenario at {seen[outcome.id]}")
                if isinstance(outcome, SkippedRow):
                    if strict:
                        raise SourceError(f"row skipped: {outcome.reason}", file=outcome.file, line=outcome.line,
                                          hint="fix the row, or drop --strict to skip and report such rows")
                    skipped.append(outcome)
                    continue
                if outcome.source.get("recovered"):
                    recovered.append(SkippedRow(file=outcome.source.get("file"), line=outcome.source.get("line"),
                                                reason=str(outcome.source["recovered"])))
                seen[outcome.id] = f"{outcome.source.get('file', 'lexicon')}:{outcome.source.get('line', '')}"
                dataset_writer.add_scenario(outcome)
                for item in tpl.render(outcome):
                    dataset_writer.add_item(item)
                bar.advance()
        if dataset_writer.n_scenarios == 0:
            first = f" (first: {skipped[0].reason})" if skipped else ""
            raise SourceError(f"no usable scenarios: all {len(skipped)} rows were skipped{first}",
                              hint="check that the file matches the template's table layout")
        manifest = Manifest(
            proceval_version=__version__,
            template={"name": tpl.name, "hash": tpl.hash, "path": str(tpl.path) if tpl.path else None},
            source=filling.source,
            seed=seed,
            factors=tpl.factors,
            conditions={c.name: c.levels for c in tpl.conditions},
            skipped=skipped,
            recovered=recovered,
            **filling.manifest,
        )
        dataset_writer.finish(manifest)
    return Dataset.load(out)


def _python_task(template: str | PathLike | Template | Task, options: dict[str, Any] | None) -> Task | None:
    """The Python task ``template`` names (not a causal template, not a file), or ``None``."""
    from proceval.tasks import TASKS, make_task

    if isinstance(template, Task):
        return None if isinstance(template, TemplateTask) else template
    if isinstance(template, Template) or Path(template).is_file():
        return None
    name = str(template)
    if name not in TASKS:
        raise TemplateError(TASKS.unknown_message(name), hint="built-in tasks and templates: "
                            f"{', '.join(TASKS.names())} (`proceval templates`); or give the path of a YAML file")
    task = make_task(name, options)
    return None if isinstance(task, TemplateTask) else task


def generate_task(task: Task, *, out: PathLike, n: int | None, seed: int = 0, force: bool = False,
                  progress: bool = True) -> Dataset:
    """Write ``n`` draws of ``task`` (each a scenario and its items) to the dataset directory ``out``."""
    if n is None or n < 1:
        raise SourceError(f"say how many draws of task {task.name!r} to make with --n N (N ≥ 1)")
    conditions: dict[str, dict[str, str | None]] = {}
    with DatasetWriter(out, overwrite=force) as dataset_writer:
        with progress_bar(f"generating {task.name}", total=n, unit="draws", enabled=progress) as bar:
            for scenario, items in task.draws(n, seed):
                dataset_writer.add_scenario(scenario)
                for item in items:
                    conditions.setdefault(item.condition_name, item.condition)
                    dataset_writer.add_item(item)
                bar.advance()
        config = task.options()
        manifest = Manifest(
            proceval_version=__version__,
            template={"name": task.name, "hash": content_id("task", task.name, config, length=64), "path": None},
            source={"kind": "task", "task": task.name, "config": config, "n": n},
            seed=seed,
            factors=task.factors or _factors(conditions),
            conditions=conditions,
        )
        dataset_writer.finish(manifest)
    return Dataset.load(out)


def _factors(conditions: dict[str, dict[str, str | None]]) -> dict[str, list[str]]:
    """Factor → levels in the order the conditions first show them."""
    factors: dict[str, list[str]] = {}
    for levels in conditions.values():
        for factor, level in levels.items():
            if level is not None and level not in factors.setdefault(factor, []):
                factors[factor].append(level)
    return factors


def _check_target(out: Path, force: bool) -> None:
    """Refuse an ``out`` that replacing could destroy files proceval did not write."""
    target = out.resolve()
    if Path.cwd().resolve().is_relative_to(target):
        raise DatasetError("the output directory is the current folder or a folder above it", file=out,
                           hint="write the dataset to a new folder, e.g. --out data/NAME")
    if not target.exists():
        return
    if not target.is_dir():
        raise DatasetError("the output path exists and is not a folder", file=out, hint="choose another --out")
    if not force:
        return  # the writer refuses an existing directory without --force
    foreign = sorted(p.name for p in target.iterdir() if p.name not in DATASET_FILES)
    if foreign or (any(target.iterdir()) and not (target / MANIFEST_FILE).is_file()):
        listed = ", ".join(foreign[:5]) + (f" and {len(foreign) - 5} more" if len(foreign) > 5 else "")
        raise DatasetError(
            f"--force replaces only a dataset directory, and this folder holds other files ({listed or 'no manifest'})",
            file=out,
            hint="choose another --out, or move those files away first",
        )
