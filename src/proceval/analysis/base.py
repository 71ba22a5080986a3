"""What an analysis is: a function of responses → tables, figures and numbers, and the registry of them."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pandas as pd

from proceval.errors import AnalysisError

if TYPE_CHECKING:
    from matplotlib.figure import Figure as MplFigure

    from proceval.analysis.data import ResponseData


class NotApplicable(AnalysisError):
    """The data cannot support this analysis (e.g. ratings asked of choice items). The rest still runs."""


class CannotEstimate(NotApplicable):
    """The data are of the right kind but degenerate (no variance, one level, a singular design): the analysis
    is reported as failed with this reason, in words, and the rest still runs."""


@dataclass
class FigureSpec:
    """A figure an analysis offers; ``draw`` builds it with matplotlib when a report asks for it."""

    name: str
    title: str
    draw: Callable[[], MplFigure]
    caption: str = ""


@dataclass
class AnalysisResult:
    """Tables (tidy frames), figures, headline numbers and notes from one analysis."""

    name: str
    title: str
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    figures: list[FigureSpec] = field(default_factory=list)
    numbers: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    status: str = "ok"  # ok | skipped (does not apply) | failed (degenerate data or an error)
    reason: str | None = None
    # parts (e.g. "subject / question") that could not be estimated while the rest was: part → reason
    failures: dict[str, str] = field(default_factory=dict)


@dataclass
class AnalysisContext:
    """Options every analysis receives."""

    seed: int = 0
    n_boot: int = 2000
    level: float = 0.95
    options: dict[str, Any] = field(default_factory=dict)


AnalysisFunc = Callable[["ResponseData", AnalysisContext], AnalysisResult]


@dataclass
class Analysis:
    name: str
    title: str
    func: AnalysisFunc
    description: str = ""


ANALYSES: dict[str, Analysis] = {}


def register_analysis(name: str, title: str, description: str = "") -> Callable[[AnalysisFunc], AnalysisFunc]:
    """Decorator: add ``func`` to :data:`ANALYSES` under ``name`` (plugins may do the same)."""

    def add(func: AnalysisFunc) -> AnalysisFunc:
        ANALYSES[name] = Analysis(name, title, func, description or (func.__doc__ or "").strip().split("\n")[0])
        return func

    return add
