"""The psychometric-alignment report: difficulty and accuracy scatter plots, the ICCs of the most divergent
items, and ``summary.json``, ``items.csv``, figures and a self-contained ``report.html``."""

from __future__ import annotations

import base64
import io
import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from proceval import __version__
from proceval.analysis.alignment import AlignmentResult, Correlation, _num
from proceval.analysis.irt import BINARY_MODELS


def _figure_png(fig: Any) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    import matplotlib.pyplot as plt

    plt.close(fig)
    return buffer.getvalue()


def difficulty_scatter(result: AlignmentResult) -> Any:
    """Human vs simulated (linked) difficulty, one panel per simulated population."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(result.comparisons)
    fig, axes = plt.subplots(1, len(names), figsize=(4.2 * len(names), 4), squeeze=False)
    for ax, name in zip(axes[0], names, strict=True):
        comp = result.comparisons[name]
        both = comp.items[comp.items["estimated_both"]]
        ax.scatter(both["b_human"], both["b_simulated_linked"], s=18, alpha=0.75)
        top = comp.most_divergent(5)
        ax.scatter(top["b_human"], top["b_simulated_linked"], s=40, facecolors="none", edgecolors="red")
        values = np.concatenate([both["b_human"], both["b_simulated_linked"]]) if len(both) else np.zeros(1)
        lo, hi = float(np.nanmin(values)) - 0.3, float(np.nanmax(values)) + 0.3
        ax.plot([lo, hi], [lo, hi], color="grey", lw=1, ls="--")
        r = comp.correlations["difficulty"]["pearson"]
        ax.set_title(f"{name}\nPearson r = {r.r:.2f}" if np.isfinite(r.r) else name, fontsize=9)
        ax.set_xlabel("human difficulty")
        ax.set_ylabel("simulated difficulty (linked)")
    fig.tight_layout()
    return fig


def divergent_iccs(result: AlignmentResult, name: str, k: int = 5) -> Any:
    """Item characteristic curves of the ``k`` most divergent items: humans vs the linked simulated curve."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    comp = result.comparisons[name]
    top = comp.most_divergent(k)
    count = max(len(top), 1)
    fig, axes = plt.subplots(1, count, figsize=(3.2 * count, 3), squeeze=False)
    grid = np.linspace(-4, 4, 161)
    for ax, row in zip(axes[0], top.itertuples(), strict=False):
        for label, a, b, c, style in (
            ("humans", row.a_human, row.b_human, row.c_human, "-"),
            (name, row.a_simulated_linked, row.b_simulated_linked, row.c_simulated, "--"),
        ):
            c = 0.0 if not np.isfinite(c) else c
            curve = c + (1 - c) / (1 + np.exp(-a * (grid - b)))
            ax.plot(grid, curve, style, label=label)
        ax.set_title(f"{str(row.item_id)[:12]}\n|Δb| = {row.divergence:.2f}", fontsize=8)
        ax.set_ylim(0, 1)
        ax.set_xlabel("ability (human scale)")
    axes[0][0].set_ylabel("P(correct)" if result.model in BINARY_MODELS else "expected score")
    axes[0][0].legend(fontsize=7)
    fig.tight_layout()
    return fig


def accuracy_scatter(result: AlignmentResult) -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(4.2, 4))
    for name, comp in result.comparisons.items():
        ax.scatter(comp.items["p_human"], comp.items["p_simulated"], s=16, alpha=0.7, label=name)
    ax.plot([0, 1], [0, 1], color="grey", lw=1, ls="--")
    ax.set_xlabel("human accuracy per item")
    ax.set_ylabel("simulated accuracy per item")
    ax.legend(fontsize=7)
    fig.tight_layout()
    return fig


_STYLE = (
    "body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}"
    "table{border-collapse:collapse;margin:1em 0;font-size:13px}td,th{border:1px solid #ccc;padding:3px 7px;"
    "text-align:right}th{background:#f3f3f3}td.l,th.l{text-align:left}img{max-width:100%}"
    ".note{color:#8a5a00}"
)


def _fmt(x: Any, digits: int = 3) -> str:
    value = _num(x)
    return "–" if value is None else f"{value:.{digits}f}"


def _ci(c: Correlation) -> str:
    return f"{_fmt(c.r)} [{_fmt(c.ci[0])}, {_fmt(c.ci[1])}]"


def render_html(result: AlignmentResult, images: dict[str, bytes], *, top: int = 5) -> str:
    """A self-contained page (figures inlined as PNG data URIs) from ``templates/alignment.html.j2``; Jinja2
    escapes every name and id."""
    from proceval.analysis.pages import render_page

    def inline(key: str) -> str | None:
        return base64.b64encode(images[key]).decode() if key in images else None

    populations = []
    for name, comp in result.comparisons.items():
        corr = comp.correlations
        populations.append({
            "name": name, "respondents": comp.fit.n_persons, "items": int(comp.items["estimated_both"].sum()),
            "correlations": [_ci(corr["difficulty"]["pearson"]), _ci(corr["difficulty"]["spearman"]),
                             _ci(corr["discrimination"]["pearson"]), _ci(corr["accuracy"]["pearson"])],
            "mean_abs_difference": _fmt(comp.accuracy["mean_abs_difference"]),
            "notes": comp.notes, "icc": inline(f"icc_{_slug(name)}.png"),
            "divergent": [[str(row.item_id), *(_fmt(v) for v in (
                row.b_human, row.b_simulated_linked, row.divergence, row.a_human, row.a_simulated, row.p_human,
                row.p_simulated))] for row in comp.most_divergent(top).itertuples()],
        })
    overview = [(label, image) for label, key in (("Difficulty: humans vs simulated", "difficulty.png"),
                                                  ("Accuracy per item", "accuracy.png"))
                if (image := inline(key)) is not None]
    return render_page(
        "alignment.html.j2", style=_STYLE, result=result, populations=populations, overview=overview,
        excluded=len(result.human_fit.excluded_items), version=__version__)


def _slug(name: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in name)[:80]


def write_alignment_report(result: AlignmentResult, out: str | os.PathLike[str], *, top: int = 5) -> Path:
    """Write ``summary.json``, ``items.csv`` (every shared item of every population), the human and simulated
    item and person parameters, PNG figures and ``report.html`` to ``out``."""
    root = Path(out)
    root.mkdir(parents=True, exist_ok=True)
    images: dict[str, bytes] = {}
    if any(c.items["estimated_both"].any() for c in result.comparisons.values()):
        images["difficulty.png"] = _figure_png(difficulty_scatter(result))
    images["accuracy.png"] = _figure_png(accuracy_scatter(result))
    for name, comp in result.comparisons.items():
        if comp.items["estimated_both"].any():
            images[f"icc_{_slug(name)}.png"] = _figure_png(divergent_iccs(result, name, top))
    for key, data in images.items():
        (root / key).write_bytes(data)
    tables = []
    for name, comp in result.comparisons.items():
        tables.append(comp.items.assign(population=name))
        comp.fit.items_frame().to_csv(root / f"irt_items_{_slug(name)}.csv", index=False)
        comp.fit.persons_frame().to_csv(root / f"irt_persons_{_slug(name)}.csv", index=False)
    result.human_fit.items_frame().to_csv(root / "irt_items_humans.csv", index=False)
    result.human_fit.persons_frame().to_csv(root / "irt_persons_humans.csv", index=False)
    items = pd.concat(tables, ignore_index=True)
    first = ["population", "item_id"]
    items[first + [c for c in items.columns if c not in first]].to_csv(root / "items.csv", index=False)
    summary = result.summary()
    (root / "summary.json").write_text(json.dumps(summary, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    (root / "report.html").write_text(render_html(result, images, top=top), encoding="utf-8")
    return root
