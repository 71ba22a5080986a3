"""The registered ``irt`` analysis of ``proceval analyze``: a 2PL per population with several respondents."""

from __future__ import annotations

from typing import Any

import numpy as np

from proceval.analysis.irt.fit import fit_irt
from proceval.analysis.irt.matrix import (
    matrix_from_frame,
)
from proceval.analysis.irt.model import IrtFit
from proceval.errors import AnalysisError

# --------------------------------------------------------------------------------------------------------------
# The registered analysis (``proceval analyze``): a 2PL per population that has several respondents


def _register() -> None:
    from proceval.analysis.base import AnalysisResult, FigureSpec, NotApplicable, register_analysis

    @register_analysis("irt", "Item response theory (2PL per population)", options={"irt_model": "2pl"})
    def irt_analysis(data: Any, ctx: Any) -> AnalysisResult:
        """2PL item difficulties and discriminations for each run with personas, and for the humans."""
        frame = data.frame
        frame = frame[frame["response_type"] == "choice"] if "response_type" in frame else frame
        model = str(ctx.options.get("irt_model", "2pl"))
        fits: dict[str, IrtFit] = {}
        notes: list[str] = []
        for name, group in frame.groupby("run", sort=False):
            if group["participant"].nunique() < 2:
                humans = (group["subject_kind"] == "human").all()
                notes.append(f"{name}: one respondent, no IRT (" + ("IRT needs several participants)" if humans
                             else "run it with --personas for a population)"))
                continue
            try:
                fits[str(name)] = fit_irt(matrix_from_frame(group, source=str(name)), model)
            except AnalysisError as exc:
                notes.append(f"{name}: {exc.message}")
        if not fits:
            raise NotApplicable("no population with several respondents and informative items"
                                + (f" ({'; '.join(notes)})" if notes else ""))
        tables = {f"items_{name}": fit.items_frame() for name, fit in fits.items()}
        result = AnalysisResult("irt", "Item response theory", tables=tables,
                                numbers={name: fit.summary() for name, fit in fits.items()}, notes=notes)

        def draw() -> Any:
            import matplotlib

            matplotlib.use("Agg")
            import matplotlib.pyplot as plt

            grid = np.linspace(-4, 4, 161)
            fig, ax = plt.subplots(figsize=(5, 3.5))
            for name, fit in fits.items():
                ax.plot(grid, fit.test_information(grid), label=name)
            ax.set_xlabel("ability θ")
            ax.set_ylabel("test information")
            ax.legend(fontsize=7)
            fig.tight_layout()
            return fig

        result.figures.append(FigureSpec("irt_information", "Test information", draw,
                                         caption=f"{model.upper()} test information per population."))
        return result


_register()
