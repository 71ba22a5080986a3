"""Moved to :mod:`proceval.figures` (below the analyses, so that no analysis imports the report); this name
stays for notebooks and plugins written against it."""

from proceval.figures import (
    PALETTE,
    bar_ci_figure,
    effects_figure,
    panel_bar_figure,
    reliability_figure,
    save_figure,
    scatter_figure,
)

__all__ = ["PALETTE", "bar_ci_figure", "effects_figure", "panel_bar_figure", "reliability_figure", "save_figure",
           "scatter_figure"]
