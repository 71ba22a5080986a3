"""Old import path of :mod:`proceval.humans.data` (docs/families.md named it up to 0.1.0).

Kept so that existing notebooks keep working; new code imports ``proceval.humans.data``.
The old name is the new module object itself, not a copy.
"""

import importlib
import sys

sys.modules[__name__] = importlib.import_module("proceval.humans.data")
