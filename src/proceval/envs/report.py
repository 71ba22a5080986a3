"""``proceval analyze SIM_DIR``: a simulation directory's analyses, written as a report.

The analyses (:mod:`proceval.envs.analysis`, :mod:`proceval.envs.principles`) compute tables; this module
turns them into sections with figures and hands them to :func:`proceval.report.sections.write_sections_report`.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd

from proceval.analysis import Report
from proceval.analysis.base import AnalysisResult, FigureSpec
from proceval.envs.analysis import convergence_over_experiments, measures, read_episodes, run_table
from proceval.envs.principles import classification, judge_principles, principle_table
from proceval.envs.simulation import SimulationError
from proceval.models.base import LanguageModel
from proceval.report.sections import write_sections_report

SIMULATION_FILE = "simulation.json"
LABELS = {"offered": "share offered", "acceptance": "acceptance rate", "income": "income per game"}


def is_simulation(directory: str | os.PathLike[str]) -> bool:
    """Whether ``directory`` was written by :func:`proceval.envs.simulation.simulate`."""
    return (Path(directory) / SIMULATION_FILE).is_file() and (Path(directory) / "episodes.jsonl").is_file()


def _jsonl(path: Path) -> list[dict[str, Any]]:
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def _series(frame: pd.DataFrame) -> pd.DataFrame:
    """Columns the figures group by: the condition (policy, manner) and the line (fixed, assistant in/out)."""
    out = frame.copy()
    out["condition"] = out["policy"] + " · " + out["manner"]
    if "player" in out:
        out["who"] = [p if p == "fixed" else f"assistant ({d} distribution)"
                      for p, d in zip(out["player"], out["distribution"], strict=True)]
    else:
        out["who"] = "assistant (" + out["distribution"] + " distribution)"
    return out


def _measure_section(table: pd.DataFrame, amount: int, level: float) -> AnalysisResult:
    shown = _series(table)
    def draw(measure: str) -> Callable[[], Any]:
        return lambda: _line(shown[shown.measure == measure], LABELS[measure],
                             None if measure == "income" else (0.0, 1.0))

    figures = [FigureSpec(
        f"{measure}_over_runs", f"{LABELS[measure].capitalize()} over runs, per condition", draw(measure),
        f"mean over experiments with its {round(level * 100)}% interval (over experiments); the fixed players' "
        f"line is what the assistant should learn" + (f"; income in units of {amount}" if measure == "income" else ""))
        for measure in LABELS]
    notes = [] if table["experiments"].max() > 1 else [
        "One experiment: no interval over experiments (set experiments: 2 or more for one)."]
    return AnalysisResult("runs", "Offers, acceptance and income per run", tables={"measures": table},
                          figures=figures, notes=notes)


def _line(frame: pd.DataFrame, ylabel: str, ylim: tuple[float, float] | None) -> Any:
    from proceval.figures import line_ci_figure

    return line_ci_figure(frame, panel="condition", x="run", y="value", low="low", high="high", hue="who",
                          ylabel=ylabel, ylim=ylim)


def _convergence_section(runs: pd.DataFrame, tolerance: float, **boot: Any) -> AnalysisResult:
    gaps, converged = convergence_over_experiments(runs, tolerance, **boot)
    if gaps.empty:
        return AnalysisResult("convergence", "Convergence to the fixed players' policy", status="skipped",
                              reason="no assistant in this simulation (model: null)")
    shown = _series(gaps)
    figure = FigureSpec("offer_gap_over_runs", "The assistant's offer gap to the fixed players, per condition",
                        lambda: _line(shown.rename(columns={"gap": "value"}), "|assistant − fixed| share", (0.0, 1.0)),
                        f"converged: every later gap ≤ {tolerance}")
    numbers = {f"{r.policy}/{r.manner}/{r.distribution}": {"converged": r.converged, "experiments": r.experiments,
                                                           "from_run": r.from_run} for r in converged.itertuples()}
    return AnalysisResult("convergence", "Convergence to the fixed players' policy",
                          tables={"gaps": gaps, "converged": converged}, figures=[figure], numbers=numbers)


def _principle_section(directory: Path, episodes: list[dict[str, Any]], spec: dict[str, Any],
                       judge: LanguageModel | None, **boot: Any) -> AnalysisResult:
    title = "The assistant's principle: judge, behaviour and the rational observer"
    principles = _jsonl(directory / "principles.jsonl")
    if not principles:
        return AnalysisResult("principles", title, status="skipped",
                              reason="no principles were written (no assistant model)")
    table = principle_table(episodes, principles, _jsonl(directory / "observer.jsonl"), spec["rationality"])
    verdicts = None if judge is None else judge_principles(judge, table["principle"], seed=boot["seed"],
                                                          constrain=spec.get("constrain", True))
    summary = classification(table, verdicts, **boot)
    notes = ["Behaviour: the policy whose softmax-rational likelihood best explains the assistant's valid actions "
             "in the run after the principle was written; observer: the rational observer's most probable policy "
             "after the same run."]
    numbers: dict[str, Any] = {"principles": len(table), "kept": int(table["kept"].sum()),
                               "unparsed": int(table["unparsed"].sum())}
    tables = {"classification": summary}
    if verdicts is None:
        notes.append("No judge model given: the principles are classified by behaviour only (--judge MODEL).")
    else:
        numbers["judge"] = {"model": judge.spec if judge else None, "principles": len(verdicts),
                            "unparseable": int(verdicts["verdict"].isna().sum())}
        notes.append(f"Judge {judge.spec if judge else ''}: {numbers['judge']['unparseable']} of {len(verdicts)} "
                     "verdicts unparseable (naming no policy or several); they count as unclassified.")
        tables["verdicts"] = verdicts
        table = table.assign(judge=table["principle"].map(dict(zip(verdicts["principle"], verdicts["verdict"],
                                                                   strict=True))))
    tables["principles"] = table.assign(observer_posterior=[json.dumps(p) for p in table["observer_posterior"]])
    return AnalysisResult("principles", title, tables=tables, numbers=numbers, notes=notes)


def _failures_section(episodes: list[dict[str, Any]]) -> AnalysisResult:
    reasons = Counter(e["reason"] for e in episodes if e["status"] == "failed")
    table = pd.DataFrame([{"reason": r, "episodes": n} for r, n in reasons.most_common()], columns=["reason", "episodes"])
    return AnalysisResult("failures", "Episodes that failed", tables={"reasons": table},
                          numbers={"failed": sum(reasons.values()), "episodes": len(episodes)},
                          notes=["A player that never gave a valid action ends its episode as failed (it pays 0); "
                                 "the simulation goes on."])


def analyze_simulation(directory: str | os.PathLike[str], out: str | os.PathLike[str], *,
                       judge: str | LanguageModel | None = None, tolerance: float = 0.1, seed: int = 0,
                       n_boot: int = 2000, level: float = 0.95, title: str | None = None) -> Report:
    """Analyse the simulation in ``directory`` into the report directory ``out``; ``judge`` (a model spec or
    object) classifies the principles by reading them. Returns the :class:`~proceval.analysis.Report`."""
    directory, target = Path(directory), Path(out)
    if not is_simulation(directory):
        raise SimulationError("not a simulation directory (no simulation.json and episodes.jsonl)", file=directory,
                              hint="pass the --out of `proceval simulate`")
    info = json.loads((directory / SIMULATION_FILE).read_text(encoding="utf-8"))
    spec = info["spec"]
    episodes = read_episodes(directory)
    if not episodes:
        raise SimulationError("the simulation has no episodes yet", file=directory / "episodes.jsonl",
                              hint="run `proceval simulate` (again) to finish it")
    if isinstance(judge, str):
        from proceval.models.base import load_model

        judge = load_model(judge)
    boot: dict[str, Any] = {"n_boot": n_boot, "level": level, "seed": seed}
    results = {r.name: r for r in (
        _measure_section(measures(episodes, **boot), spec["amount"], level),
        _convergence_section(run_table(episodes), tolerance, **boot),
        _principle_section(directory, episodes, spec, judge, **boot),
        _failures_section(episodes))}
    facts = {"simulation": str(directory), "status": info["status"], "model": (info.get("model") or {}).get("spec"),
             "conditions": f"{', '.join(spec['policies'])} × {', '.join(spec['manners'])}",
             "experiments × runs": f"{spec['experiments']} × {spec['runs']}",
             "episodes": f"{info['episodes']} ({info['failed']} failed, {info['invalid']} invalid replies retried)",
             "model calls": f"{info['calls']} made, {info['cache_hits']} from the cache"}
    warnings = [] if info["status"] == "complete" else [
        f"the simulation is {info['status']}: these numbers cover the episodes it finished"]
    settings = {**boot, "tolerance": tolerance, "judge": getattr(judge, "spec", None)}
    summary = write_sections_report(
        results, target, title=title or f"proceval simulation: {directory.name}", kind="simulation", facts=facts,
        settings=settings, details={"spec": spec, "model": info.get("model")}, warnings=warnings)
    return Report(target, target / "report.html", target / "summary.json", results, None, summary)
