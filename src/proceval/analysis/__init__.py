"""Analyses of responses: a registry of functions (responses → tables, figures, numbers) and the
:func:`analyze` entry point that runs them and writes the report.

    from proceval.analysis import analyze
    report = analyze(["runs/tom-smollm2"], out="reports/tom")
    report.html_path, report.results["accuracy"].tables["by_condition"]

Library functions for other tables: :func:`proceval.analysis.ratings.rating_means`,
:func:`proceval.analysis.effects.mixed_effects`, :mod:`proceval.analysis.agreement`,
:func:`proceval.analysis.bootstrap.bootstrap_ci`.
"""

from __future__ import annotations

import importlib
import os
import traceback
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import proceval.analysis.accuracy
import proceval.analysis.calibration
import proceval.analysis.effects
import proceval.analysis.families
import proceval.analysis.humans
import proceval.analysis.joint
import proceval.analysis.position
import proceval.analysis.ratings
import proceval.analysis.reasoning  # noqa: F401  (importing registers the built-in analyses)
from proceval.analysis.base import (
    ANALYSES,
    Analysis,
    AnalysisContext,
    AnalysisResult,
    CannotEstimate,
    FigureSpec,
    NotApplicable,
    check_options,
    parse_option,
    register_analysis,
)
from proceval.analysis.data import ResponseData, load_responses, read_humans, read_run
from proceval.dataset import Dataset
from proceval.errors import AnalysisError, describe_error
from proceval.plugins import load_entry_points
from proceval.ui import progress_bar

DEFAULT_ANALYSES = ["validity", "accuracy", "belief_accuracy", "joint", "position_bias", "calibration", "ratings",
                    "rating_grid", "effects", "humans", "agreement_by_inference"]


def _load_plugins() -> None:
    """Analyses from sibling modules written elsewhere (irt, alignment) and from entry points."""
    for module in ("proceval.analysis.irt", "proceval.analysis.alignment"):
        try:
            importlib.import_module(module)
        except ImportError:
            continue
    load_entry_points("proceval.analyses")  # importing a plugin registers its analyses; a broken one is reported


def available_analyses() -> dict[str, Analysis]:
    _load_plugins()
    return dict(ANALYSES)


def run_analyses(
    data: ResponseData,
    names: Sequence[str] | None = None,
    ctx: AnalysisContext | None = None,
    *,
    progress: bool = False,
) -> dict[str, AnalysisResult]:
    """Run the named analyses (default: all built-in ones, in a fixed order) on ``data``.

    An analysis the data cannot support comes back with ``status="skipped"`` and the reason; one whose data
    are degenerate (:class:`CannotEstimate`) or that raises any other exception comes back with
    ``status="failed"`` and the reason in words. Either way the other analyses and the report are still
    built. Unknown names are an error listing the known ones.
    """
    ctx = ctx or AnalysisContext()
    registry = available_analyses()
    wanted = list(names) if names else [n for n in DEFAULT_ANALYSES if n in registry] + [
        n for n in registry if n not in DEFAULT_ANALYSES]
    unknown = [n for n in wanted if n not in registry]
    if unknown:
        raise AnalysisError(f"unknown analysis {', '.join(map(repr, unknown))}",
                            hint=f"known analyses: {', '.join(sorted(registry))}")
    results: dict[str, AnalysisResult] = {}
    order = list(wanted)
    if data.frame.empty:  # runs killed before their first answer, `--limit 0`: only validity has something to say
        reason = f"no answers to analyse (runs without answers: {', '.join(data.unanswered_runs()) or 'none'})"
        for name in wanted:
            if name != "validity":
                results[name] = AnalysisResult(name, registry[name].title, status="skipped", reason=reason)
        wanted = [n for n in wanted if n not in results]
    with progress_bar("analysing", total=len(wanted), unit="analyses", enabled=progress) as bar:
        for name in wanted:
            analysis = registry[name]
            bar.status(name)
            try:
                results[name] = analysis.func(data, ctx)
            except CannotEstimate as exc:
                results[name] = AnalysisResult(name, analysis.title, status="failed", reason=exc.message)
            except NotApplicable as exc:
                results[name] = AnalysisResult(name, analysis.title, status="skipped", reason=exc.message)
            except Exception as exc:  # one broken fit must not cost the user the rest of the report
                results[name] = AnalysisResult(name, analysis.title, status="failed",
                                               reason=f"stopped with an unexpected error: {describe_error(exc)}",
                                               notes=[traceback.format_exc()])  # for whoever fixes it
            bar.advance()
    return {name: results[name] for name in order}


MIN_N_BOOT = 10


def check_settings(*, n_boot: int, level: float) -> None:
    """Refuse bootstrap settings that cannot give an interval, naming the option and its allowed range."""
    if not 0 < level < 1:
        raise AnalysisError(f"must be a fraction between 0 and 1 (exclusive), e.g. 0.95, not {level:g}",
                            field="--level")
    if int(n_boot) != n_boot or n_boot < MIN_N_BOOT:
        raise AnalysisError(f"must be a whole number of at least {MIN_N_BOOT} (default 2000), not {n_boot}",
                            field="--n-boot")


@dataclass
class Report:
    """What :func:`analyze` wrote and computed."""

    path: Path
    html_path: Path
    summary_path: Path
    results: dict[str, AnalysisResult]
    data: ResponseData | None  # None when read back from disk (a study skipping a finished stage)
    summary: dict[str, Any]

    def _with_status(self, status: str) -> dict[str, str]:
        return {name: str(entry.get("reason") or "") for name, entry in self.summary.get("analyses", {}).items()
                if entry.get("status") == status}

    @property
    def skipped(self) -> dict[str, str]:
        """Analyses that do not apply to these data: name → reason."""
        return self._with_status("skipped")

    @property
    def failed(self) -> dict[str, str]:
        """Analyses that could not be computed (degenerate data, an error): name → reason."""
        return self._with_status("failed")

    @classmethod
    def read(cls, path: str | os.PathLike[str]) -> Report:
        """A finished report directory read back (numbers from summary.json; no frames or figures)."""
        import json

        root = Path(path)
        summary = json.loads((root / "summary.json").read_text(encoding="utf-8"))
        return cls(root, root / "report.html", root / "summary.json", {}, None, summary)


def analyze(
    runs: Sequence[str | os.PathLike[str]],
    *,
    out: str | os.PathLike[str],
    dataset: str | os.PathLike[str] | Dataset | None = None,
    humans: str | os.PathLike[str] | None = None,
    analyses: Sequence[str] | None = None,
    seed: int = 0,
    n_boot: int = 2000,
    level: float = 0.95,
    title: str | None = None,
    options: dict[str, Any] | None = None,
    progress: bool = False,
) -> Report:
    """Load runs (and human data), run the analyses and write ``out``/report.html, summary.json, tables/*.csv
    and figures/*.png|svg. Runs of different datasets are refused. A run that did not answer every item is
    warned about (and marked in the report). The report directory is written beside ``out`` and renamed into
    place, so a new report never mixes with files of an earlier one."""
    import warnings

    from proceval.report import write_report

    check_settings(n_boot=n_boot, level=level)
    check_options(dict(options or {}), available_analyses())
    data = load_responses(list(runs), dataset=dataset, humans=humans)
    for line in data.coverage_warnings():
        warnings.warn(line, stacklevel=2)
    ctx = AnalysisContext(seed=seed, n_boot=n_boot, level=level, options=dict(options or {}))
    results = run_analyses(data, analyses, ctx, progress=progress)
    html_path, summary_path, summary = write_report(data, results, ctx, Path(out), title=title,
                                                    requested=list(analyses or []))
    return Report(Path(out), html_path, summary_path, results, data, summary)


__all__ = [
    "ANALYSES",
    "DEFAULT_ANALYSES",
    "Analysis",
    "AnalysisContext",
    "AnalysisResult",
    "CannotEstimate",
    "FigureSpec",
    "NotApplicable",
    "Report",
    "ResponseData",
    "analyze",
    "available_analyses",
    "check_options",
    "load_responses",
    "parse_option",
    "read_humans",
    "read_run",
    "register_analysis",
    "run_analyses",
]
