"""Progress display for long work: a rich progress bar on terminals, quiet elsewhere."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)


@contextmanager
def progress_bar(description: str, *, total: int | None, unit: str = "items",
                 enabled: bool = True) -> Iterator[Callable[[int], None]]:
    """Yields ``advance(k)``. Shows a bar with rate and ETA when ``enabled`` and stderr is a terminal."""
    if not enabled or not sys.stderr.isatty():
        yield _ignore
        return
    columns = [
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn(unit),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
    ]
    with Progress(*columns, transient=False) as progress:
        task = progress.add_task(description, total=total)

        def advance(k: int = 1) -> None:
            progress.advance(task, k)

        yield advance


def _ignore(k: int = 1) -> None:
    """Progress is not shown (not a terminal, or switched off)."""
