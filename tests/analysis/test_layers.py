"""Layers point one way: analyses draw with proceval.figures (below them) and never import the report."""

from __future__ import annotations

import ast
from pathlib import Path

import proceval.analysis

ANALYSIS = Path(proceval.analysis.__file__).parent
ORCHESTRATION = {"__init__"}  # analyze(): loads, runs the analyses, then hands them to the report


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
        elif isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
    return names


def test_no_analysis_imports_the_report() -> None:
    offenders = {path.stem: sorted(m for m in imported_modules(path) if m.startswith("proceval.report"))
                 for path in ANALYSIS.glob("*.py") if path.stem not in ORCHESTRATION}
    assert {name: mods for name, mods in offenders.items() if mods} == {}
    assert len(offenders) >= 10  # the check saw the analysis modules


def test_figures_import_neither_analyses_nor_report() -> None:
    figures = Path(proceval.analysis.__file__).parents[1] / "figures.py"
    assert not {m for m in imported_modules(figures) if m.startswith(("proceval.analysis", "proceval.report"))}
