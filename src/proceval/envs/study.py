"""The simulation kind of study file: ``proceval study FILE`` on a file with a ``simulation:`` section.

Two stages into ``out``: ``simulation/`` (:func:`proceval.envs.simulation.simulate`, resumed from its call
cache) and ``report/`` (:func:`proceval.envs.report.analyze_simulation`, with the file's ``analysis:``
settings). A stage whose inputs are unchanged since it finished is skipped; ``force`` redoes both.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from proceval.envs.simulation import load_study, simulate
from proceval.ids import text_id

INPUTS_FILE = "inputs.json"  # beside the report: what it was made from, to know when it is out of date


def run_simulation_study(path: str | Path, *, out: str | Path, force: bool = False,
                         log: Callable[[str], None] = print) -> Any:
    """Run the simulation study file at ``path`` into ``out``; returns a :class:`proceval.study.StudyResult`
    whose ``report`` is the simulation report."""
    from proceval.analysis import Report
    from proceval.envs.report import analyze_simulation
    from proceval.study import StageOutcome, StudyResult

    study = load_study(path)
    root = Path(out)
    sim_dir, report_dir = root / "simulation", root / "report"
    if force:
        shutil.rmtree(sim_dir, ignore_errors=True)
    stages = []
    spec = study.simulation.model_dump(by_alias=True)
    previous = _read(sim_dir / "simulation.json")
    if previous.get("status") == "complete" and previous.get("spec") == spec:
        stages.append(StageOutcome("simulation", "skipped", sim_dir, "finished, with the same settings"))
    else:
        resumed = (sim_dir / "calls.sqlite").is_file()
        log(f"simulation → {sim_dir}" + (" (finished model calls come from its call cache)" if resumed else ""))
        simulate(study.simulation, sim_dir)
        stages.append(StageOutcome("simulation", "resumed" if resumed else "ran", sim_dir))
    settings = study.analysis.model_dump()
    digest = text_id((sim_dir / "simulation.json").read_text(encoding="utf-8"), json.dumps(settings, sort_keys=True))
    if not force and _read(root / INPUTS_FILE).get("report") == digest and (report_dir / "summary.json").is_file():
        stages.append(StageOutcome("report", "skipped", report_dir, "its simulation and settings are unchanged"))
        report = Report.read(report_dir)
    else:
        log(f"report → {report_dir}")
        report = analyze_simulation(sim_dir, report_dir, **settings)
        (root / INPUTS_FILE).write_text(json.dumps({"report": digest}) + "\n", encoding="utf-8")
        stages.append(StageOutcome("report", "ran", report_dir))
    return StudyResult(out=root, dataset=None, runs=[sim_dir], report=report, stages=stages)


def _read(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}
