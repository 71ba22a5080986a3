"""No import cycle between proceval's packages: the layers point one way.

The direction, lowest first (a package imports only packages before it):
errors, ids → dataset, core, models, embeddings, figures, ui, plugins → templates → scenarios → tasks →
generate → solvers → run → humans → report → analysis (qdc inside it) → study → cli. Every import counts
(module level or inside a function: a lazy import is still a dependency), except those under
``if TYPE_CHECKING:``, which never run and only name the types a module reads (the report names analysis
results that way; ``proceval.analysis.analyze`` hands them to the report).
"""

from __future__ import annotations

import ast
import graphlib
import itertools
from pathlib import Path

import proceval

SRC = Path(proceval.__file__).parent

# Back edges that are known and must go (each names why it is still here). The test fails when one disappears,
# so the list only shrinks.
PENDING: dict[tuple[str, str], str] = {}


def _type_checking_nodes(tree: ast.AST) -> set[int]:
    inside: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for child in node.body:
                inside.update(id(n) for n in ast.walk(child))
    return inside


def package_of(path: Path) -> str:
    """The top-level piece of proceval a file belongs to: ``proceval/analysis/qdc/x.py`` → ``analysis``."""
    return path.relative_to(SRC).with_suffix("").parts[0]


def package_graph() -> dict[tuple[str, str], str]:
    """(importing package, imported package) → the first file with such an import."""
    edges: dict[tuple[str, str], str] = {}
    for path in sorted(SRC.rglob("*.py")):
        if path.parent == SRC and path.stem == "__init__":
            continue  # proceval/__init__.py: the version and ProcevalError, imported by everything
        source = package_of(path)
        tree = ast.parse(path.read_text(encoding="utf-8"))
        skip = _type_checking_nodes(tree)
        for node in ast.walk(tree):
            if id(node) in skip:
                continue
            if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                modules = [node.module]
            elif isinstance(node, ast.Import):
                modules = [alias.name for alias in node.names]
            else:
                continue
            for module in modules:
                parts = module.split(".")
                if parts[0] == "proceval" and len(parts) > 1 and parts[1] != source:
                    edges.setdefault((source, parts[1]), str(path.relative_to(SRC)))
    return edges


def test_the_packages_import_each_other_without_a_cycle() -> None:
    edges = package_graph()
    assert {"analysis", "core", "tasks", "templates", "run", "report", "humans", "cli"} <= {a for a, _ in edges}
    for edge in PENDING:
        assert edge in edges, f"{edge} is gone: remove it from PENDING"
        del edges[edge]
    graph: dict[str, set[str]] = {}
    for source, target in edges:
        graph.setdefault(source, set()).add(target)
    try:
        list(graphlib.TopologicalSorter(graph).static_order())
    except graphlib.CycleError as exc:
        cycle = exc.args[1]
        raise AssertionError("import cycle: " + "; ".join(
            f"{a} -> {b} ({edges.get((a, b)) or edges.get((b, a))})" for a, b in itertools.pairwise(cycle))) from None


def test_the_walk_sees_a_lazy_import_and_skips_a_type_only_one(tmp_path: Path) -> None:
    tree = ast.parse("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import proceval.b\n"
                     "def f():\n    import proceval.c\n")
    skip = _type_checking_nodes(tree)
    seen = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) and id(n) not in skip for a in n.names}
    assert seen == {"proceval.c"}


def test_old_documented_import_paths_are_the_new_modules() -> None:
    import proceval.qdc.embeddings
    import proceval.qdc.metrics

    import proceval.analysis.qdc.metrics
    import proceval.embeddings
    import proceval.human_data
    import proceval.humans.data
    import proceval.humans.model_answers
    import proceval.model_answers
    import proceval.personas
    import proceval.solvers.personas

    assert proceval.qdc.metrics is proceval.analysis.qdc.metrics
    assert proceval.qdc.embeddings is proceval.embeddings
    assert proceval.human_data is proceval.humans.data
    assert proceval.model_answers is proceval.humans.model_answers
    assert proceval.personas is proceval.solvers.personas
    import proceval.run.prompts

    import proceval.solvers.prompts

    assert proceval.run.prompts is proceval.solvers.prompts
