"""The QDC report: ``summary.json`` and a self-contained ``report.html`` (figures inline, text escaped)."""

from __future__ import annotations

import base64
import html
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
    return html.escape(str(value))


def summary(profiles: Sequence[dict[str, Any]]) -> dict[str, Any]:
    return {
        "proceval_version": __version__,
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "columns": HEADLINE_KEYS,
        "table": [{"name": p["name"], **p["headline"]} for p in profiles],
        "datasets": list(profiles),
    }


def render_html(profiles: Sequence[dict[str, Any]], png: str | None) -> str:
    e = html.escape
    head = "".join(f"<th class='g'>{e(g)}</th>" + "<th class='g'></th>" * (len(keys) - 1)
                   for g, keys in GROUPS.items())
    cols = "".join(f"<th>{e(LABELS[k])}</th>" for keys in GROUPS.values() for k in keys)
    rows = []
    for p in profiles:
        cells = "".join(f"<td>{_fmt(p['headline'].get(k))}</td>" for keys in GROUPS.values() for k in keys)
        rows.append(f"<tr><th>{e(p['name'])}</th><td>{p['n_scenarios']}</td><td>{p['n_items']}</td>{cells}</tr>")
    figure = (f"<img alt='quality versus diversity scatter' src='data:image/png;base64,{png}'>" if png
              else "<p>No dataset has both a quality and a diversity number to plot.</p>")
    details = []
    for p in profiles:
        notes = "".join(f"<li>{e(n)}</li>" for n in p["notes"]) or "<li>none</li>"
        validity = (p["quality"].get("validity") or {}).get("violations") or {}
        violations = "".join(f"<li>{e(k)}: {v}</li>" for k, v in validity.items()) or "<li>none</li>"
        ref = (p["quality"].get("reference") or {}).get("subjects") or {}
        ref_rows = "".join(
            f"<tr><td>{e(s)}</td><td>{e(c)}</td><td>{_fmt(a)}</td></tr>"
            for s, v in ref.items() for c, a in v["accuracy_by_condition"].items()
        )
        ref_html = (f"<table><tr><th>reference</th><th>condition</th><th>accuracy</th></tr>{ref_rows}</table>"
                    if ref_rows else "")
        cov = p["diversity"].get("coverage", {}).get("variables", {})
        cov_rows = "".join(
            f"<tr><td>{e(k)}</td><td>{v['distinct']}</td><td>{v['n']}</td><td>{_fmt(v['evenness'])}</td></tr>"
            for k, v in cov.items()
        )
        details.append(
            f"<section><h3>{e(p['name'])}</h3><p class='path'>{e(p['path'])} ({e(p['kind'])}, "
            f"template {e(str(p.get('template')))})</p>"
            f"<h4>Constraint violations</h4><ul>{violations}</ul>{ref_html}"
            f"<h4>Attribute coverage</h4><table><tr><th>variable</th><th>distinct values</th><th>filled</th>"
            f"<th>evenness</th></tr>{cov_rows}</table>"
            f"<h4>Notes</h4><ul>{notes}</ul></section>"
        )
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>proceval QDC report</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2em; color: #222; }}
table {{ border-collapse: collapse; margin: .5em 0; font-size: 13px; }}
td, th {{ border: 1px solid #ccc; padding: 3px 7px; text-align: right; }}
th {{ background: #f4f4f4; }} th.g {{ text-align: left; border-bottom: none; }}
.path {{ color: #666; font-size: 12px; }}
</style></head><body>
<h1>Quality, diversity and complexity</h1>
<p>proceval {e(__version__)} · {len(profiles)} dataset(s). Diversity is measured on the scenarios (else the items),
lengths on the rendered items (else the scenarios). ↓: lower is more diverse.</p>
<table><tr><th></th><th></th><th></th>{head}</tr><tr><th>dataset</th><th>scenarios</th><th>items</th>{cols}</tr>
{"".join(rows)}</table>
<h2>Quality vs diversity</h2>{figure}
<h2>Per dataset</h2>{"".join(details)}
</body></html>
"""


def write_report(profiles: Sequence[dict[str, Any]], out: str | os.PathLike[str]) -> Path:
    """Write ``summary.json`` and ``report.html`` into ``out`` (created); returns the HTML path."""
    root = Path(out)
    root.mkdir(parents=True, exist_ok=True)
    (root / "summary.json").write_text(json.dumps(summary(profiles), indent=2, ensure_ascii=False) + "\n",
                                       encoding="utf-8")
    page = root / "report.html"
    page.write_text(render_html(profiles, scatter_png(profiles)), encoding="utf-8")
    return page
