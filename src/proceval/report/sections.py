"""A report of analysis results that come from something other than a dataset of items (a simulation, a
training run): ``report.html`` with the same look as the evaluation report, ``summary.json``, ``tables/*.csv``
and ``figures/*.png|svg``, written and swapped into place the way :func:`proceval.report.write_report` does."""

from __future__ import annotations

import json
import shutil
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd
from jinja2 import Environment, PackageLoader, select_autoescape

from proceval import __version__
from proceval.dataset import replace_dir
from proceval.report import (
    REPORT_FILE,
    SCHEMA_VERSION,
    SUMMARY_FILE,
    check_report_dir,
    json_safe,
    table_html,
    table_view,
    write_results,
)

if TYPE_CHECKING:
    from proceval.analysis.base import AnalysisResult


def write_sections_report(results: dict[str, AnalysisResult], out: Path, *, title: str, kind: str,
                          facts: dict[str, Any], settings: dict[str, Any], details: dict[str, Any] | None = None,
                          warnings: list[str] | None = None) -> dict[str, Any]:
    """Write the report of ``results`` to ``out`` (replacing an earlier report there as a whole); return the
    summary. ``facts`` are the headline key → value pairs, ``details`` what was run (shown as JSON)."""
    check_report_dir(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent))
    tmp.chmod(0o755)  # mkdtemp's private 0700 would make the published report unreadable to others
    try:
        views, figure_files, table_files = write_results(results, tmp, [])
        summary = json_safe({
            "schema_version": SCHEMA_VERSION, "kind": kind, "proceval_version": __version__,
            "created_at": datetime.now(UTC).isoformat(timespec="seconds"), "title": title, "facts": facts,
            "settings": settings, "details": details or {}, "warnings": warnings or [],
            "analyses": {name: {"title": r.title, "status": r.status, "reason": r.reason, "failures": r.failures,
                                "numbers": r.numbers, "notes": r.notes,
                                "tables": {t: {"csv": table_files.get(name, {}).get(t), "rows": frame}
                                           for t, frame in r.tables.items()},
                                "figures": figure_files.get(name, [])}
                         for name, r in results.items()},
        })
        (tmp / SUMMARY_FILE).write_text(json.dumps(summary, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        env = Environment(loader=PackageLoader("proceval.report", "templates"),
                          autoescape=select_autoescape(["j2", "html"]))
        env.globals["table_html"] = table_html
        html = env.get_template("sections.html.j2").render(
            title=title, version=__version__, created_at=summary["created_at"], settings=settings,
            warnings=warnings or [], analyses=views,
            facts=table_view("facts", pd.DataFrame([{"": k, "value": v} for k, v in facts.items()])),
            not_computed=[v for v in views if v["status"] != "ok"],
            details=json.dumps(summary["details"], indent=2, ensure_ascii=False) if details else "")
        (tmp / REPORT_FILE).write_text(html, encoding="utf-8")
        replace_dir(tmp, out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return summary
