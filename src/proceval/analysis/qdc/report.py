"""The QDC report: ``summary.json`` and a self-contained ``report.html`` (figures inline, text escaped)."""

from __future__ import annotations

import base64
import io
import json
import os
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from proceval import __version__
from proceval.analysis.qdc.profile import HEADLINE_KEYS

LABELS = {
    "validity": "validity",
    "judge_pass": "judge pass",
    "reference_accuracy": "ref. accuracy",
    "distinct_1": "distinct-1",
    "distinct_2": "distinct-2",
    "distinct_3": "distinct-3",
    "self_bleu": "self-BLEU ↓",
    "compression_ratio": "compression ↓",
    "embedding_distance": "emb. distance",
    "vendi": "Vendi",
    "tokens_mean": "tokens",
    "sentences_mean": "sentences",
    "causal_steps_mean": "causal steps",
    "reference_loss": "ref. loss",
}
GROUPS = {
    "quality": ["validity", "judge_pass", "reference_accuracy"],
    "diversity": ["distinct_1", "distinct_2", "distinct_3", "self_bleu", "compression_ratio",
                  "embedding_distance", "vendi"],
    "complexity": ["tokens_mean", "sentences_mean", "causal_steps_mean", "reference_loss"],
}


def quality_axis(p: dict[str, Any]) -> tuple[str, float | None]:
    h = p["headline"]
    for key in ("judge_pass", "validity"):
        if h.get(key) is not None:
            return LABELS[key], h[key]
    return "quality", None


def diversity_axis(p: dict[str, Any]) -> tuple[str, float | None]:
    h = p["headline"]
    if h.get("vendi") is not None:
        return "Vendi score (scenarios)", h["vendi"]
    return LABELS["distinct_2"], h.get("distinct_2")


def scatter_png(profiles: Sequence[dict[str, Any]]) -> str | None:
    """The quality–diversity scatter as a base64 PNG (None when no dataset has both numbers)."""
    points = []
    for p in profiles:
        (xl, x), (yl, y) = diversity_axis(p), quality_axis(p)
        if x is not None and y is not None:
            points.append((p["name"], x, y, xl, yl))
    if not points:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.5, 4), dpi=110)
    for name, x, y, _, _ in points:
        ax.scatter([x], [y], s=40)
        ax.annotate(name, (x, y), textcoords="offset points", xytext=(5, 4), fontsize=8)
    ax.set_xlabel(" / ".join(sorted({pt[3] for pt in points})))
    ax.set_ylabel(" / ".join(sorted({pt[4] for pt in points})))
    ax.set_ylim(-0.05, 1.05)
    ax.set_title("quality vs diversity")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", metadata={"Software": None})
    plt.close(fig)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def _fmt(value: Any) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.3f}" if abs(value) < 100 else f"{value:.1f}"
    return str(value)  # escaped by the template


def summary(profiles: Sequence[dict[str, Any]]) -> dict[str, Any]:
    return {
        "proceval_version": __version__,
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "columns": HEADLINE_KEYS,
        "table": [{"name": p["name"], **p["headline"]} for p in profiles],
        "datasets": list(profiles),
    }


def render_html(profiles: Sequence[dict[str, Any]], png: str | None) -> str:
    """The page, from ``analysis/templates/qdc.html.j2`` (every name and note escaped)."""
    from proceval.analysis.pages import render_page

    rows = [{"name": p["name"], "n_scenarios": p["n_scenarios"], "n_items": p["n_items"],
             "cells": [_fmt(p["headline"].get(k)) for keys in GROUPS.values() for k in keys]} for p in profiles]
    details = []
    for p in profiles:
        validity = (p["quality"].get("validity") or {}).get("violations") or {}
        ref = (p["quality"].get("reference") or {}).get("subjects") or {}
        cov = p["diversity"].get("coverage", {}).get("variables", {})
        details.append({
            "name": p["name"], "path": p["path"], "kind": p["kind"], "template": str(p.get("template")),
            "violations": list(validity.items()), "notes": list(p["notes"]),
            "reference": [(s, c, _fmt(a)) for s, v in ref.items() for c, a in v["accuracy_by_condition"].items()],
            "coverage": [(k, v["distinct"], v["n"], _fmt(v["evenness"])) for k, v in cov.items()],
        })
    return render_page("qdc.html.j2", version=__version__, profiles=profiles, groups=list(GROUPS.items()),
                       labels=[LABELS[k] for keys in GROUPS.values() for k in keys], rows=rows, png=png,
                       details=details)


def write_report(profiles: Sequence[dict[str, Any]], out: str | os.PathLike[str]) -> Path:
    """Write ``summary.json`` and ``report.html`` into ``out`` (created); returns the HTML path."""
    root = Path(out)
    root.mkdir(parents=True, exist_ok=True)
    (root / "summary.json").write_text(json.dumps(summary(profiles), indent=2, ensure_ascii=False) + "\n",
                                       encoding="utf-8")
    page = root / "report.html"
    page.write_text(render_html(profiles, scatter_png(profiles)), encoding="utf-8")
    return page
