"""What every scenario source yields: accepted scenarios and counted, explained skips."""

from __future__ import annotations

from dataclasses import dataclass

from proceval.dataset import Scenario, SkippedRow

Outcome = Scenario | SkippedRow


@dataclass
class SourceInfo:
    """What a source records in the manifest's ``source`` field."""

    kind: str
    details: dict[str, object]
