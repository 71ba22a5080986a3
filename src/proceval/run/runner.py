"""The resumable runner: every (subject, item) answered once, written as it finishes.

Work is ordered so that shared prompt prefixes are adjacent (items of a scenario together, the orders of
an item together): a backend that keeps its KV cache evaluates each shared prefix once. Every model call
goes through the call cache, so a run that was killed and is started again with the same ``out`` redoes
no finished call and gives the same results as an uninterrupted run.

Personas with a memory are the exception to that ordering: each one's prompt holds its own earlier answers,
so its items are answered one after another in its order (different personas still run side by side), and
on resume the memory is rebuilt from the answers already written.
"""

from __future__ import annotations

import os
import platform
import time
import warnings
from collections.abc import Iterator
from dataclasses import asdict
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

from proceval import __version__
from proceval.core.records import check_run_manifest
from proceval.dataset import Dataset, Item
from proceval.errors import ProcevalError, RunError
from proceval.ids import content_id
from proceval.models.base import LanguageModel, load_model
from proceval.models.cache import CachedModel, CallCache
from proceval.run.io import (
    CACHE_FILE,
    DONE_STATUSES,
    RESPONSES_FILE,
    RUN_FILE,
    LoadedRun,
    ResponseLog,
    dataset_path_for,
    load_run,
    read_responses,
    response_key,
    settings_differences,
    write_json_atomic,
    write_responses_atomic,
)
from proceval.run.lanes import Step, answer_step, memory_chain, ordered_work, run_lanes
from proceval.solvers import SOLVERS, Solver
from proceval.solvers.model import DEFAULT_MAX_TOKENS, ModelSolver, Settings
from proceval.solvers.prompts import PromptBuilder
from proceval.solvers.scorers import load_scorers
from proceval.solvers.scoring import SCORINGS
from proceval.solvers.subjects import (
    Subject,
    answer_order,
    check_persona_options,
    make_subjects,
    unknown_items,
)
from proceval.tasks import dataset_task
from proceval.ui import progress_bar


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _config(dataset: Dataset, model: LanguageModel, builder: PromptBuilder, settings: Settings,
            system: str | None, k_shots: int, subjects: list[Subject], prompt_dir: Any,
            persona_order: str, persona_memory: int) -> dict[str, Any]:
    return {
        "dataset": {"path": str(dataset.path), "content_hash": dataset.content_hash,
                    "template": dataset.template_name},
        "model": {"spec": model.spec, **asdict(model.identity)},
        "strategy": settings.strategy,
        "scoring": settings.scoring,
        "option_format": settings.option_format,
        "system": system,
        "k_shots": k_shots if settings.strategy == "few-shot" else None,
        "seed": settings.seed,
        "temperature": settings.temperature,
        "max_tokens": settings.max_tokens,
        "prompts": {"dir": str(prompt_dir) if prompt_dir else None, "templates": builder.texts},
        "persona_order": persona_order,
        "persona_memory": persona_memory,
        # a twin's own order is part of what it was asked, like its prompt
        "subjects": [{"id": s.id, "kind": s.kind, "system": s.system,
                      **({"item_order": content_id(*s.item_order)} if persona_order == "human" and s.item_order
                         else {})} for s in subjects],
    }


def run_dataset(
    dataset: Dataset | str | os.PathLike[str],
    model: str | LanguageModel | None,
    out: str | os.PathLike[str],
    *,
    strategy: str = "zero-shot",
    scoring: str = "auto",
    system: str | None = None,
    k_shots: int = 3,
    limit: int | None = None,
    seed: int = 0,
    temperature: float = 0.0,
    max_tokens: int | None = None,
    option_format: str = "letters",
    personas: list[Any] | None = None,
    persona_order: str = "dataset",
    persona_memory: int = 0,
    cache_path: str | os.PathLike[str] | None = None,
    progress: bool = True,
    prompt_dir: str | os.PathLike[str] | None = None,
    force: bool = False,
    solver: str = "model",
    executor: Any = None,
    split: str | None = None,
    **backend_options: Any,
) -> LoadedRun:
    """Give the items of ``dataset`` to ``model`` (and to each persona) and write the run directory ``out``.

    ``solver`` names who answers (``proceval.solvers.SOLVERS``): ``model`` (default) is ``model`` under the
    prompt ``strategy``; a program solver (``calculator``) answers without a model. Answers are scored by
    the item's scorer: a choice by its answer key, free text by the verifier of the task that made the dataset.

    Re-running with the same ``out`` and settings completes what is missing; different settings on an
    existing run raise :class:`RunError` unless ``force`` (which starts the run over). ``limit`` takes the
    first N items in dataset order (of the items whose condition is ``split``, when given: a task's split such as
    countdown's ``val_target``). ``max_tokens`` defaults to 16 (256 for ``cot``).

    ``persona_order`` is the order each persona answers in (``dataset``, ``human``: a twin's own order, or
    ``shuffled`` per persona); with ``persona_memory`` K > 0 each persona's prompt holds its last K earlier
    items and its own answers to them, so its items are answered one after another.

    ``executor`` (``proceval.run.ray.RayExecutor``) answers the units elsewhere; the run directory is the same.
    """
    ds = dataset if isinstance(dataset, Dataset) else Dataset.load(dataset)
    if scoring not in SCORINGS:
        raise RunError(f"unknown scoring {scoring!r}; choose one of {', '.join(SCORINGS)}", field="scoring")
    if limit is not None and limit < 0:
        raise RunError("limit must be zero or more", field="limit")
    if k_shots < 0:
        raise RunError("k_shots must be zero or more", field="k_shots")
    check_persona_options(persona_order, persona_memory, personas)
    if executor is not None and persona_memory:
        raise RunError("a persona with a memory answers one item after another: run it locally", field="executor")
    factory = SOLVERS.get(solver)
    task = dataset_task(ds)
    items = ds.items if split is None else [item for item in ds.items if item.condition_name == split]
    if not items:
        known = sorted({item.condition_name for item in ds.items})
        raise RunError(f"no items of split {split!r} in {ds.path}", field="split", hint=f"known: {', '.join(known)}")
    selected = items[:limit] if limit is not None else items
    lm: LanguageModel | None = None
    answerer: Solver | None = None
    if getattr(factory, "needs_model", False):
        if model is None:
            raise RunError(f"the {solver!r} solver needs a model", field="model", hint="pass --model PROVIDER/MODEL")
        lm = load_model(model, **backend_options) if isinstance(model, str) else model
        factory.check_model(lm)
        # scoring after chain-of-thought needs a backend that continues the model's own partial answer
        continues = bool(getattr(lm, "can_continue_assistant", True))
        logprob_ok = lm.supports_logprobs and (strategy != "cot" or continues)
        if scoring == "auto":
            scoring = "logprob" if logprob_ok else "generate"
        elif scoring == "logprob" and not logprob_ok:
            why = "gives no log-probabilities" if not lm.supports_logprobs else (
                "cannot continue a partial answer after its reasoning (chat endpoint)")
            raise RunError(f"{lm.spec} {why}", field="scoring", hint="use --scoring generate")
        settings = Settings(strategy, scoring, float(temperature),
                            int(max_tokens if max_tokens is not None else DEFAULT_MAX_TOKENS.get(strategy, 16)),
                            int(seed), option_format)
        builder = PromptBuilder(strategy, option_format=option_format, prompt_dir=prompt_dir, k_shots=k_shots,
                                seed=seed, examples=items)
        subjects = make_subjects(lm.spec, system, personas)
        if (short := builder.shortfall(selected)) is not None:
            warnings.warn(f"few-shot: {short['items_short']} of {short['items']} items get fewer than {k_shots} "
                          f"worked examples (as few as {short['fewest']}): examples come from other scenarios of the "
                          "same condition and question; generate more scenarios or lower --k-shots", stacklevel=2)
        config = _config(ds, lm, builder, settings, system, k_shots, subjects, prompt_dir, persona_order,
                         persona_memory)
        if solver != "model":  # the default solver adds nothing, so runs made before solvers existed resume
            config["solver"] = solver
    else:
        short = None
        if personas:
            raise RunError(f"personas are model subjects; the {solver!r} solver has none", field="personas")
        answerer = factory()
        subjects = [Subject(f"{answerer.kind}/{solver}", answerer.kind, None)]
        config = {"dataset": {"path": str(ds.path), "content_hash": ds.content_hash, "template": ds.template_name},
                  "solver": answerer.identity(), "seed": int(seed), "persona_order": persona_order,
                  "subjects": [{"id": s.id, "kind": s.kind} for s in subjects]}
    config["dataset"]["path"] = dataset_path_for(Path(out), ds.path)
    if split is not None:  # recorded only when given, so runs of whole datasets resume as before
        config["split"] = split
    scorers = load_scorers()
    # the dataset is identified by its content (items and template), not where it lies or when it was made,
    # so a moved or regenerated identical dataset still resumes
    config_hash = content_id({**config, "dataset": {**config["dataset"], "path": None}})

    root = Path(out)
    run_file = root / RUN_FILE
    previous: dict[str, Any] = {}
    if run_file.is_file():
        previous = load_run(root).info
        if previous.get("config_hash") != config_hash:
            if not force:
                differs = settings_differences(previous, config) or ["settings recorded by another version"]
                raise RunError(
                    "this directory holds a run with other settings: " + "; ".join(differs),
                    file=run_file,
                    hint="choose another --out, or pass --force to start this run over",
                )
            (root / RESPONSES_FILE).unlink(missing_ok=True)
            previous = {}
    elif root.exists() and any(root.iterdir()) and not force:
        raise RunError("output directory exists and is not a run", file=root,
                       hint="choose another --out")
    root.mkdir(parents=True, exist_ok=True)

    existing, torn = read_responses(root / RESPONSES_FILE)
    done = {response_key(r) for r in existing if r["status"] in DONE_STATUSES}
    orders = {s.id: answer_order(selected, persona_order, s, int(seed)) for s in subjects}
    positions = {(sid, item.id): i for sid, order in orders.items() for i, item in enumerate(order)}
    _check_positions(existing, done, positions, root / RESPONSES_FILE)

    cache: CallCache | None = None
    cached: CachedModel | None = None
    if lm is not None:
        cache = CallCache(cache_path if cache_path is not None else root / CACHE_FILE)
        cached = CachedModel(lm, cache)
        answerer = factory(cached, builder, settings)
    assert answerer is not None
    answer = partial(answer_step, answerer, task, scorers)
    lanes: list[Iterator[Step]]
    if persona_memory:
        assert isinstance(answerer, ModelSolver)  # personas are model subjects
        answered = {s.id: {r["item_id"]: r for r in existing if r["subject"] == s.id} for s in subjects}
        lanes = [memory_chain(answer, answerer.builder, s, orders[s.id], answered[s.id], done, persona_memory)
                 for s in subjects]
    else:  # answers are independent: keep the prefix-sharing order, one lane per answer
        lanes = [iter([partial(answer, it, s, positions[s.id, it.id])])
                 for s, it in ordered_work(selected, subjects) if (s.id, it.id) not in done]
    pending = len(positions.keys() - done)
    counts_before = previous.get("counts", {})
    sessions = list(previous.get("sessions", []))
    session: dict[str, Any] = {"started_at": _now(), "pending": pending, "resumed_from": len(done),
                               "torn_lines": torn, "status": "running"}
    sessions.append(session)
    started = time.perf_counter()
    info: dict[str, Any] = {
        "proceval_version": __version__,
        "created_at": previous.get("created_at", _now()),
        "status": "running",
        "config_hash": config_hash,
        **config,
        "limit": limit,
        "cache_path": str(cache.path) if cache else None,
        **({"few_shot_shortfall": short} if short else {}),
        "backend_options": {k: v for k, v in backend_options.items() if "key" not in k.lower()},
        "platform": {"python": platform.python_version(), "machine": platform.machine()},
        "sessions": sessions,
        "counts": counts_before,
    }
    if persona_order == "human":
        info["human_order"] = unknown_items(subjects, {item.id for item in items})

    def update_info(status: str, error: str | None = None) -> None:
        session.update(status=status, calls=cached.calls if cached else 0, cache_hits=cached.hits if cached else 0,
                       prompt_tokens_evaluated=cached.prompt_tokens_evaluated if cached else 0,
                       wall_s=round(time.perf_counter() - started, 3))
        if hasattr(lm, "retries"):  # requests a server backend had to send again (openai/): a flaky server shows
            session["retries"] = int(getattr(lm, "retries", 0))
        if hasattr(lm, "redraws"):  # texts a server let break a constraint, drawn again (openai/)
            session["redraws"] = int(getattr(lm, "redraws", 0))
        if error:
            session["error"] = error
        every, _ = read_responses(root / RESPONSES_FILE)
        responses = [r for r in every if response_key(r) in positions]  # answers beyond a lower --limit: apart
        statuses = [r["status"] for r in responses]
        info["status"] = status
        info["counts"] = {
            "items": len(selected) * len(subjects),
            "responses": len(responses),
            **({"beyond_limit": len(every) - len(responses)} if len(every) > len(responses) else {}),
            "ok": statuses.count("ok"),
            "invalid": statuses.count("invalid"),
            "too_long": statuses.count("too_long"),
            "errors": statuses.count("error"),
            "calls": sum(int(s.get("calls", 0)) for s in sessions),
            "cache_hits": sum(int(s.get("cache_hits", 0)) for s in sessions),
            **({"retries": sum(int(s.get("retries", 0)) for s in sessions)} if hasattr(lm, "retries") else {}),
            **({"redraws": sum(int(s.get("redraws", 0)) for s in sessions)} if hasattr(lm, "redraws") else {}),
            "prompt_tokens_evaluated": sum(int(s.get("prompt_tokens_evaluated", 0)) for s in sessions),
            "wall_s": round(sum(float(s.get("wall_s", 0.0)) for s in sessions), 3),
        }
        write_json_atomic(run_file, check_run_manifest(info, file=run_file))

    update_info("running")
    log = ResponseLog(root / RESPONSES_FILE)
    invalid = 0
    last_save = time.monotonic()
    try:
        with progress_bar("run", total=pending, enabled=progress) as bar:
            records = run_lanes(lanes, cached.max_concurrency if cached else 1) if executor is None else (
                executor.answers([(s, it, positions[s.id, it.id]) for s, it in ordered_work(selected, subjects)
                                  if (s.id, it.id) not in done],
                                 build=partial(factory, builder=builder, settings=settings) if lm else factory,
                                 model=model, options=backend_options, task=task, scorers=scorers, cache=cache,
                                 counts=cached, session=session))
            for done_now, record in enumerate(records, start=1):
                log.append(record)
                invalid += record["status"] == "invalid"
                rate = done_now / max(time.perf_counter() - started, 1e-9)
                bar.advance()
                calls = f"cache hits {cached.hits}  calls {cached.calls}  " if cached else ""
                bar.status(f"{rate:.2f} items/s  {calls}invalid {invalid}")
                if time.monotonic() - last_save > 10:
                    update_info("running")
                    last_save = time.monotonic()
    except KeyboardInterrupt:
        log.close()
        update_info("interrupted")
        raise
    except Exception as exc:  # the model went away, or a bug: run.json must not go on saying "running"
        log.close()
        update_info("failed", str(exc) if isinstance(exc, ProcevalError) else f"{type(exc).__name__}: {exc}")
        raise
    log.close()
    _compact(root, selected, subjects)
    update_info("complete")
    if cache is not None:
        cache.close()
    return load_run(root)


def _check_positions(existing: list[dict[str, Any]], done: set[tuple[str, str]],
                     positions: dict[tuple[str, str], int], path: Path) -> None:
    """Finished answers must have been given where the subject's order puts them now (a persona's order, and
    what it remembers, depend on which items are selected)."""
    moved = [r for r in existing if response_key(r) in done and response_key(r) in positions
             and r.get("position") != positions[response_key(r)]]
    if moved:
        raise RunError(
            f"{len(moved)} finished answers were given at other positions of their subject's order "
            f"(first: {moved[0]['item_id']} of {moved[0]['subject']})", file=path, field="limit",
            hint="resume with the --limit the run was started with, or pass --force to start over",
        )


def _compact(root: Path, items: list[Item], subjects: list[Subject]) -> None:
    """Rewrite responses.jsonl in dataset order, one line per (subject, item), keeping lines of other items."""
    responses, _ = read_responses(root / RESPONSES_FILE)
    by_key = {response_key(r): r for r in responses}
    ordered = []
    for subject in subjects:
        for item in items:
            if (record := by_key.pop((subject.id, item.id), None)) is not None:
                ordered.append(record)
    ordered.extend(by_key.values())  # answers beyond a smaller --limit are kept, never dropped
    write_responses_atomic(root / RESPONSES_FILE, ordered)
