"""Progress display for long work: a rich progress bar on terminals, quiet elsewhere.

Every long job (generating, writing scenarios, running models, profiling datasets, fitting IRT) shows its
progress through :func:`progress_bar`, so they all look and behave alike.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)


class Bar:
    """One bar of a progress display. Every method does nothing when progress is not shown."""

    def __init__(self, progress: Progress | None = None, task: TaskID | None = None) -> None:
        self._progress = progress
        self._task = task

    def advance(self, k: int = 1) -> None:
        if self._progress is not None and self._task is not None:
            self._progress.advance(self._task, k)

    def status(self, text: str) -> None:
        """The text after the bar: counts, rates, a convergence measure."""
        if self._progress is not None and self._task is not None:
            self._progress.update(self._task, status=text)

    def add(self, description: str, total: int | None) -> Bar:
        """Another bar below this one (a step of the same job)."""
        if self._progress is None:
            return self
        return Bar(self._progress, self._progress.add_task(description, total=total, status=""))


@contextmanager
def progress_bar(description: str, *, total: int | None, unit: str = "items",
                 enabled: bool = True) -> Iterator[Bar]:
    """Yields a :class:`Bar` with count, elapsed time, ETA and a status text, drawn on stderr when ``enabled``
    and stderr is a terminal. ``total=None`` counts without an end (iterations until convergence)."""
    if not enabled or not sys.stderr.isatty():
        yield Bar()
        return
    columns: list[Any] = [
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn(unit),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        TextColumn("{task.fields[status]}"),
    ]
    with Progress(*columns, console=Console(stderr=True), transient=False) as progress:
        yield Bar(progress, progress.add_task(description, total=total, status=""))
