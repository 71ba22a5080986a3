"""A third-party package adds a task, a solver and an analysis through entry points; proceval's CLI and a study
file use them, and a broken entry point in the same package is reported by name without hiding the others."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import REPO

MODULE = '''
import random
from dataclasses import dataclass

from proceval.analysis import AnalysisResult, register_analysis
from proceval.core import Problem, Verdict, task
from proceval.solvers.program import ProgramSolver


@dataclass(frozen=True)
class Config:
    length: int = 5


def verify(item, answer):
    return Verdict(float(answer.strip() == item.answer), "compared with the count")


@task("demo-count", config=Config, verify=verify)
def demo_count(config, rng: random.Random, index):
    word = "".join(rng.choice("ab") for _ in range(config.length))
    return Problem(question=f"How many a's are in {word}?", answer=str(word.count("a")))


class Counter(ProgramSolver):
    name = "demo-counter"

    def solve(self, item, trajectory):
        return str(item.question.rstrip("?").split()[-1].count("a"))


@register_analysis("demo-answers", "Answers counted", options={"demo_scale": 1})
def demo_answers(data, ctx):
    return AnalysisResult("demo-answers", "Answers counted",
                          numbers={"answers": len(data.frame) * ctx.options.get("demo_scale", 1)})
'''

ENTRY_POINTS = """[proceval.tasks]
demo-count = demo_plugin:demo_count

[proceval.solvers]
demo-counter = demo_plugin:Counter

[proceval.analyses]
demo-answers = demo_plugin
demo-broken = demo_plugin_missing_module
"""


def _install(site: Path) -> None:
    """What `pip install` leaves: the module and a dist-info with its entry points."""
    site.mkdir()
    (site / "demo_plugin.py").write_text(MODULE, encoding="utf-8")
    info = site / "demo_plugin-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: demo-plugin\nVersion: 0.1\n", encoding="utf-8")
    (info / "entry_points.txt").write_text(ENTRY_POINTS, encoding="utf-8")


def test_a_plugin_package_adds_a_task_a_solver_and_an_analysis(tmp_path: Path) -> None:
    _install(tmp_path / "site")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO / "src"), str(tmp_path / "site")])}

    def proceval(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "proceval", *args], cwd=tmp_path, env=env, text=True,
                              capture_output=True, timeout=300)

    made = proceval("generate", "demo-count", "--n", "6", "--option", "length=7", "--out", "data")
    assert made.returncode == 0, made.stderr
    ran = proceval("run", "data", "--solver", "demo-counter", "--out", "runs/demo", "--no-progress")
    assert ran.returncode == 0, ran.stderr
    records = [json.loads(line) for line in (tmp_path / "runs/demo/responses.jsonl").read_text().splitlines()]
    assert len(records) == 6 and all(r["correct"] for r in records)  # the plugin's verifier scored its solver
    analysed = proceval("analyze", "runs/demo", "--out", "report", "--analyses", "demo-answers",
                        "--option", "demo_scale=2")
    assert analysed.returncode == 0, analysed.stderr
    summary = json.loads((tmp_path / "report/summary.json").read_text())
    assert summary["analyses"]["demo-answers"]["numbers"]["answers"] == 12
    assert "demo-broken" in analysed.stderr  # the broken entry point is named; the one beside it still ran

    # a study file names the plugin's analysis and its option (studies generate from templates only)
    study = "name: demo\ndataset: {template: tom, n: 4}\nsubjects: [{model: local/smollm2-135m}]\nanalysis:\n"
    (tmp_path / "study.yaml").write_text(study + "  analyses: [demo-answers]\n  options: {demo_scale: 3}\n")
    checked = proceval("study", "study.yaml", "--check")
    assert checked.returncode == 0, checked.stderr + checked.stdout
    (tmp_path / "typo.yaml").write_text(study + "  analyses: [demo-answers]\n  options: {demo_scael: 3}\n")
    typo = proceval("study", "typo.yaml", "--check")
    assert typo.returncode != 0 and "typo.yaml:6" in typo.stderr and "did you mean demo_scale" in typo.stderr
