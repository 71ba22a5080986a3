"""summary.json holds exactly the keys docs/summary-schema.md documents."""

from __future__ import annotations

import json
import re
from pathlib import Path

from tests.report.test_report import report  # noqa: F401  (the fixture: a report with models and people)

DOC = (Path(__file__).resolve().parents[2] / "docs" / "summary-schema.md").read_text()
SCHEMA = DOC.split("```text", 1)[1].split("```", 1)[0]


def keys(block: str, indent: int) -> set[str]:
    return set(re.findall(rf'^ {{{indent}}}"(\w+)"', block, flags=re.M))


def test_top_level_keys_are_the_documented_ones(report: Path) -> None:  # noqa: F811
    summary = json.loads((report / "summary.json").read_text())
    assert set(summary) == keys(SCHEMA, 2)


def test_subject_and_analysis_keys_are_the_documented_ones(report: Path) -> None:  # noqa: F811
    summary = json.loads((report / "summary.json").read_text())
    subjects_block = SCHEMA.split('"subjects": [', 1)[1].split("\n  ],", 1)[0]
    documented_subject = set(re.findall(r'"(\w+)"', subjects_block))
    for subject in summary["subjects"]:
        assert set(subject) == documented_subject
    analysis_block = SCHEMA.split("NAME: {", 1)[1]
    documented_analysis = keys(analysis_block, 6)
    statuses = set(re.findall(r'"(ok|skipped|failed)"', analysis_block))
    numbers_table = set(re.findall(r"^\| `(\w+)` \|", DOC, flags=re.M))
    for name, entry in summary["analyses"].items():
        assert set(entry) == documented_analysis, name
        assert entry["status"] in statuses
        if entry["status"] == "ok":
            assert name in numbers_table, f"numbers of {name} are not documented"
