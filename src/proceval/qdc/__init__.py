"""Old import path of :mod:`proceval.analysis.qdc` (docs/qdc.md named ``proceval.qdc.*`` up to 0.1.0).

Kept so that existing notebooks keep working; new code imports ``proceval.analysis.qdc`` and
``proceval.embeddings``. Each old submodule name is the new module object itself, not a copy.
"""

from __future__ import annotations

import sys

from proceval import embeddings
from proceval.analysis.qdc import compare, metrics, profile, report

for _module in (compare, embeddings, metrics, profile, report):
    sys.modules[f"{__name__}.{_module.__name__.rsplit('.', 1)[-1]}"] = _module
