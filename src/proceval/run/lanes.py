"""Lanes of work: how the runner orders and runs the (subject, item) answers.

A lane is a sequence of steps that must run one after another (a persona with a memory answers its items in
order, each prompt holding its earlier answers); different lanes are independent. :func:`run_lanes` runs them
one at a time or several in flight and yields each record as it finishes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from typing import Any

from proceval.core.task import Task
from proceval.dataset import Item
from proceval.solvers import Solver
from proceval.solvers.prompts import PromptBuilder
from proceval.solvers.scorers import Scorer, score_record
from proceval.solvers.subjects import Memory, Subject, recall


def ordered_work(items: list[Item], subjects: list[Subject]) -> list[tuple[Subject, Item]]:
    """Subjects one after another; within a subject items of a scenario together, similar texts adjacent."""
    ordered = sorted(items, key=lambda it: (it.scenario_id, it.text, it.question, it.id))
    return [(subject, item) for subject in subjects for item in ordered]


Step = Callable[[], dict[str, Any]]


def answer_step(solver: Solver, task: Task | None, scorers: dict[str, Scorer], item: Item, subject: Subject,
                position: int = 0, memory: Memory | None = None) -> dict[str, Any]:
    """``solver``'s record of ``subject``'s answer to ``item``, scored by the scorer of the item's kind."""
    record = solver.answer(item, subject, position, memory)
    score_record(item, record, task, scorers)
    return record


def memory_chain(answer: Callable[..., dict[str, Any]], builder: PromptBuilder, subject: Subject,
                 order: list[Item], answered: dict[str, dict[str, Any]], done: set[tuple[str, str]],
                 memory: int) -> Iterator[Step]:
    """The steps answering ``subject``'s pending items in its order, each recalling the ``memory`` items before
    it from ``answered`` (item id → record: the run directory's records, then this session's)."""
    for position, item in enumerate(order):
        if (subject.id, item.id) in done:
            continue

        def step(position: int = position, item: Item = item) -> dict[str, Any]:
            earlier = [(it, answered[it.id]) for it in order[max(0, position - memory):position]]
            record = answer(item, subject, position, recall(builder, earlier))
            answered[item.id] = record
            return record

        yield step


def run_lanes(lanes: list[Iterator[Step]], concurrency: int) -> Iterator[dict[str, Any]]:
    """Records as they finish. A lane's steps run one after another (a step may use the answers before it); in
    lane order one at a time, or with steps of up to 2 × ``concurrency`` lanes in flight."""
    if concurrency <= 1:
        for lane in lanes:
            for step in lane:
                yield step()
        return
    pool = ThreadPoolExecutor(max_workers=concurrency)
    running: dict[Future[dict[str, Any]], Iterator[Step]] = {}

    def start(lane: Iterator[Step]) -> None:
        if (step := next(lane, None)) is not None:
            running[pool.submit(step)] = lane

    def finished() -> Iterator[dict[str, Any]]:
        for future in wait(running, return_when=FIRST_COMPLETED).done:
            record = future.result()
            start(running.pop(future))
            yield record

    try:
        for lane in lanes:
            start(lane)
            while len(running) >= concurrency * 2:
                yield from finished()
        while running:
            yield from finished()
    finally:
        for future in running:
            future.cancel()
        pool.shutdown(wait=True, cancel_futures=True)
