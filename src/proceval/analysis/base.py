"""What an analysis is: a function of responses → tables, figures and numbers, and the registry of them."""

from __future__ import annotations

import difflib
import importlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pandas as pd

from proceval.core.registry import Registry
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
    options: dict[str, Any] = field(default_factory=dict)  # option name → default (its type types the value)


def _import_builtins() -> dict[str, Analysis]:
    """Importing the built-in analysis modules registers their analyses (on the first lookup)."""
    for module in BUILTIN_MODULES:
        importlib.import_module(module)
    return {}


BUILTIN_MODULES = tuple(f"proceval.analysis.{name}" for name in (
    "accuracy", "calibration", "effects", "families", "humans", "joint", "position", "ratings", "irt", "alignment",
    "reasoning", "search"))

# name → Analysis. Plugins add analyses under the ``proceval.analyses`` entry-point group: the entry point names a
# module whose import registers them with :func:`register_analysis`.
ANALYSES: Registry[Analysis] = Registry("analyses", singular="analysis", loaders=[_import_builtins],
                                        error=AnalysisError)


def register_analysis(name: str, title: str, description: str = "", *, options: dict[str, Any] | None = None
                      ) -> Callable[[AnalysisFunc], AnalysisFunc]:
    """Decorator: add ``func`` to :data:`ANALYSES` under ``name`` (plugins may do the same). ``options`` are the
    settings it reads from ``ctx.options`` (name → default); ``--option name=value`` and a study's
    ``analysis.options`` may set them."""

    def add(func: AnalysisFunc) -> AnalysisFunc:
        ANALYSES.register(name, Analysis(name, title, func,
                                         description or (func.__doc__ or "").strip().split("\n")[0],
                                         dict(options or {})))
        return func

    return add


def parse_option(text: str, declared: dict[str, Any]) -> tuple[str, Any]:
    """``"key=value"`` → (key, value): typed by the declared default's type (a list default takes
    comma-separated values), else read as a JSON scalar (``3``, ``0.5``, ``true``), else kept as text."""
    key, sep, raw = text.partition("=")
    key = key.strip()
    if not sep or not key:
        raise AnalysisError(f"{text!r} is not KEY=VALUE", field="--option", hint="e.g. --option irt_model=3pl")
    default = declared.get(key)
    if isinstance(default, str) or (default is None and key in declared):
        return key, raw
    if isinstance(default, list):
        return key, [part.strip() for part in raw.split(",") if part.strip()]
    try:
        value = json.loads(raw)
    except ValueError:
        value = raw
    if isinstance(default, bool) and not isinstance(value, bool):
        raise AnalysisError(f"{key} must be true or false, not {raw!r}", field="--option")
    wrong_number = isinstance(value, bool) or not isinstance(value, int | float) or (
        isinstance(default, int) and not isinstance(value, int))
    if isinstance(default, int | float) and not isinstance(default, bool) and wrong_number:
        raise AnalysisError(f"{key} must be a {type(default).__name__}, not {raw!r}", field="--option")
    return key, value


def check_options(options: dict[str, Any], analyses: dict[str, Analysis]) -> None:
    """Refuse option names no analysis declares, suggesting the nearest declared ones."""
    declared = {name for analysis in analyses.values() for name in analysis.options}
    for key in options:
        if key not in declared:
            close = difflib.get_close_matches(key, sorted(declared), n=2, cutoff=0.6)
            hint = f"did you mean {' or '.join(close)}? " if close else ""
            raise AnalysisError(f"unknown analysis option {key!r}", field="--option",
                                hint=f"{hint}options the analyses declare: {', '.join(sorted(declared))}")
