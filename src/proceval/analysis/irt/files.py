"""IRT from files (``proceval irt``): load response matrices, fit, and write the tables and figures."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np

from proceval.analysis.irt.fit import fit_irt
from proceval.analysis.irt.matrix import (
    ResponseMatrix,
    load_matrices,
)
from proceval.analysis.irt.model import ORDINAL_MODELS, IrtFit

# --------------------------------------------------------------------------------------------------------------
# Files


def run_irt(
    paths: Sequence[str | os.PathLike[str]],
    out: str | os.PathLike[str] | None = None,
    *,
    model: str = "2pl",
    dataset: str | os.PathLike[str] | None = None,
    by: Literal["source", "subject"] = "source",
    fit_options: dict[str, Any] | None = None,
    progress: bool = False,
) -> dict[str, IrtFit]:
    """Fit ``model`` to every population in ``paths`` (runs, human tables, matrix CSVs; see
    :func:`load_matrices`) and, with ``out``, write ``items_<name>.csv``, ``persons_<name>.csv``,
    ``information.png`` and ``summary.json``."""
    matrices = load_matrices(paths, dataset=dataset, by=by,
                             value="rating" if model in ORDINAL_MODELS else "correct")
    fits = {name: fit_irt(matrix, model, progress=progress, **(fit_options or {}))
            for name, matrix in matrices.items()}
    if out is not None:
        write_irt_outputs(fits, matrices, out)
    return fits


def _slug(name: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in name)[:80]


def write_irt_outputs(
    fits: dict[str, IrtFit], matrices: dict[str, ResponseMatrix], out: str | os.PathLike[str]
) -> Path:
    import json
    from datetime import UTC, datetime

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from proceval import __version__

    root = Path(out)
    root.mkdir(parents=True, exist_ok=True)
    grid = np.linspace(-4, 4, 161)
    fig, ax = plt.subplots(figsize=(5, 3.5))
    for name, fit in fits.items():
        fit.items_frame().to_csv(root / f"items_{_slug(name)}.csv", index=False)
        fit.persons_frame().to_csv(root / f"persons_{_slug(name)}.csv", index=False)
        ax.plot(grid, fit.test_information(grid), label=name)
    ax.set_xlabel("ability θ")
    ax.set_ylabel("test information")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(root / "information.png", dpi=110)
    plt.close(fig)
    summary = {
        "proceval_version": __version__,
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "populations": {
            name: fit.summary() | {
                "source": matrices[name].source,
                "matrix": {"persons": matrices[name].n_persons, "items": matrices[name].n_items,
                           "missing_cells": matrices[name].n_missing},
                "skipped_answers": matrices[name].skipped,
            }
            for name, fit in fits.items()
        },
    }
    (root / "summary.json").write_text(json.dumps(summary, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return root
