"""Figures for analyses and the report, with matplotlib's Agg backend: grouped bars with CI whiskers (also
in panels), lines over time with bands (in panels), reliability curves, scatter, effects. A layer below the
analyses: it imports neither them nor the report.

Each ``*_figure`` function returns a matplotlib ``Figure``; :func:`save_figure` writes it as PNG and SVG and
returns the PNG bytes for inlining in the HTML report.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

PALETTE = ["#4C72B0", "#DD8452", "#55A868", "#C44E52", "#8172B3", "#937860", "#DA8BC3", "#8C8C8C"]


def _hues(table: pd.DataFrame, hue: str | None) -> list[str]:
    """Hue values in table order, people ("humans…") last: the same subjects get the same colours in every figure."""
    if not hue:
        return [""]
    values = list(dict.fromkeys(table[hue].astype(str)))
    return [v for v in values if not v.startswith("humans")] + [v for v in values if v.startswith("humans")]


def _short(label: object, width: int = 28) -> str:
    text = str(label)
    return text if len(text) <= width else text[: width - 1] + "…"


def bar_ci_figure(
    table: pd.DataFrame,
    *,
    x: str,
    y: str,
    low: str,
    high: str,
    hue: str | None = None,
    chance: float | None = None,
    ylabel: str = "",
    title: str = "",
    ylim: tuple[float, float] | None = (0.0, 1.0),
) -> Figure:
    """Grouped bar chart of ``y`` by ``x`` (and ``hue``) with [low, high] whiskers and an optional chance line."""
    xs = list(dict.fromkeys(table[x].astype(str)))
    hues = _hues(table, hue)
    horizontal = len(xs) * len(hues) > 10  # many categories: horizontal bars keep long labels readable
    if horizontal:
        fig, ax = plt.subplots(figsize=(8.0, min(30.0, 0.28 * len(xs) * max(1, len(hues)) + 1.6)), dpi=100)
    else:
        fig, ax = plt.subplots(figsize=(max(5.0, 0.9 * len(xs) * max(1, len(hues)) + 2.5), 4.2), dpi=100)
    _bars(ax, table, x=x, y=y, low=low, high=high, hue=hue, hues=hues, horizontal=horizontal, chance=chance,
          ylabel=ylabel, ylim=ylim)
    ax.set_title(title)
    if hue or chance is not None:
        ax.legend(fontsize=8, loc="best")
    fig.tight_layout()
    return fig


def panel_bar_figure(
    table: pd.DataFrame,
    *,
    panel: str,
    x: str,
    y: str,
    low: str,
    high: str,
    hue: str,
    chance: float | None = None,
    ylabel: str = "",
    title: str = "",
    ylim: tuple[float, float] | None = (0.0, 1.0),
) -> Figure:
    """One grouped bar chart per value of ``panel``, side by side with a shared y axis and one legend."""
    panels = list(dict.fromkeys(table[panel].astype(str)))
    hues = _hues(table, hue)
    n_x = table[x].astype(str).nunique()
    width = max(3.2, 0.32 * n_x * len(hues) + 1.2)
    fig, axes = plt.subplots(1, len(panels), figsize=(min(16.0, width * len(panels) + 0.6), 4.4), dpi=100,
                             sharey=True, squeeze=False)
    for ax, name in zip(axes[0], panels, strict=True):
        _bars(ax, table[table[panel].astype(str) == name], x=x, y=y, low=low, high=high, hue=hue, hues=hues,
              horizontal=False, chance=chance, ylabel=ylabel if ax is axes[0][0] else "", ylim=ylim)
        ax.set_title(_short(name, 32), fontsize=10)
    handles, labels = axes[0][0].get_legend_handles_labels()
    fig.suptitle(title, y=0.99, fontsize=11)
    fig.legend(handles, labels, fontsize=8, loc="upper center", bbox_to_anchor=(0.5, 0.93),
               ncol=min(4, len(labels)), frameon=False)
    fig.tight_layout(rect=(0, 0, 1, 0.84))
    return fig


def line_ci_figure(
    table: pd.DataFrame, *, panel: str, x: str, y: str, low: str, high: str, hue: str, ylabel: str = "",
    title: str = "", ylim: tuple[float, float] | None = (0.0, 1.0),
) -> Figure:
    """One small panel per value of ``panel``: ``y`` over ``x`` as a line per ``hue`` with its [low, high] band
    (e.g. the share offered over runs, per condition); shared axes and one legend."""
    panels = list(dict.fromkeys(table[panel].astype(str)))
    hues = _hues(table, hue)
    columns = min(4, len(panels))
    rows = -(-len(panels) // columns)
    fig, axes = plt.subplots(rows, columns, figsize=(3.4 * columns + 0.6, 2.9 * rows + 0.9), dpi=100,
                             sharex=True, sharey=True, squeeze=False)
    for ax, name in zip(axes.flat, panels, strict=False):
        part = table[table[panel].astype(str) == name]
        for j, h in enumerate(hues):
            line = part[part[hue].astype(str) == h].sort_values(x)
            if line.empty:
                continue
            color = PALETTE[j % len(PALETTE)]
            ax.plot(line[x], line[y], marker="o", markersize=3, color=color, label=_short(h, 40))
            ax.fill_between(line[x], line[low].astype(float), line[high].astype(float), color=color, alpha=0.18,
                            linewidth=0)
        ax.set_title(_short(name, 40), fontsize=9)
        if ylim:
            ax.set_ylim(*ylim)
        ax.spines[["top", "right"]].set_visible(False)
    for ax in list(axes.flat)[len(panels):]:
        ax.set_visible(False)
    for ax in axes[:, 0]:
        ax.set_ylabel(ylabel)
    for ax in axes[-1, :]:
        ax.set_xlabel(x)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # runs, steps: whole numbers
    handles, labels = axes[0][0].get_legend_handles_labels()
    fig.suptitle(title, fontsize=11)
    fig.legend(handles, labels, fontsize=8, loc="lower center", ncol=min(4, max(1, len(labels))), frameon=False)
    fig.tight_layout(rect=(0, 0.07, 1, 0.97))
    return fig


def _bars(ax: Any, table: pd.DataFrame, *, x: str, y: str, low: str, high: str, hue: str | None, hues: list[str],
          horizontal: bool, chance: float | None, ylabel: str, ylim: tuple[float, float] | None) -> None:
    xs = list(dict.fromkeys(table[x].astype(str)))
    width = 0.8 / max(1, len(hues))
    for j, h in enumerate(hues):
        part = table if not hue else table[table[hue].astype(str) == h]
        lookup = {str(r[x]): r for _, r in part.iterrows()}
        pos, vals, errs_lo, errs_hi = [], [], [], []
        for i, name in enumerate(xs):
            if name not in lookup or pd.isna(lookup[name][y]):
                continue
            row = lookup[name]
            value = float(row[y])
            lo = float(row[low]) if pd.notna(row[low]) else value
            hi = float(row[high]) if pd.notna(row[high]) else value
            pos.append(i - 0.4 + width * (j + 0.5))
            vals.append(value)
            errs_lo.append(max(0.0, value - lo))
            errs_hi.append(max(0.0, hi - value))
        style: dict[str, Any] = {"color": PALETTE[j % len(PALETTE)], "label": _short(h, 40) if hue else None,
                                 "capsize": 3, "error_kw": {"elinewidth": 1}}
        if horizontal:
            ax.barh(pos, vals, height=width * 0.95, xerr=[errs_lo, errs_hi], **style)
        else:
            ax.bar(pos, vals, width=width * 0.95, yerr=[errs_lo, errs_hi], **style)
    labels = [_short(v, 60 if horizontal else 24) for v in xs]
    if horizontal:
        if chance is not None:
            ax.axvline(chance, color="black", linestyle="--", linewidth=1, label="chance")
        ax.set_yticks(range(len(xs)))
        ax.set_yticklabels(labels, fontsize=8)
        ax.invert_yaxis()
        if ylim:
            ax.set_xlim(*ylim)
        ax.set_xlabel(ylabel)
    else:
        if chance is not None:
            ax.axhline(chance, color="black", linestyle="--", linewidth=1, label="chance")
        ax.set_xticks(range(len(xs)))
        ax.set_xticklabels(labels, rotation=30 if len(xs) > 3 else 0, ha="right" if len(xs) > 3 else "center")
        if ylim:
            ax.set_ylim(*ylim)
        ax.set_ylabel(ylabel)
    ax.spines[["top", "right"]].set_visible(False)


def reliability_figure(curves: pd.DataFrame, *, title: str = "Reliability") -> Figure:
    """Mean predicted probability vs observed frequency per bin, one line per subject."""
    fig, ax = plt.subplots(figsize=(4.8, 4.4), dpi=100)
    ax.plot([0, 1], [0, 1], color="grey", linestyle="--", linewidth=1, label="perfect calibration")
    for j, (subject, part) in enumerate(curves.groupby("subject", sort=False)):
        ax.plot(part["mean_predicted"], part["observed"], marker="o", color=PALETTE[j % len(PALETTE)],
                label=_short(subject, 40))
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_xlabel("probability given to the option")
    ax.set_ylabel("share of times it was correct")
    ax.set_title(title)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def scatter_figure(
    table: pd.DataFrame, *, x: str, y: str, hue: str | None = None, xlabel: str = "", ylabel: str = "",
    title: str = "", diagonal: bool = True,
) -> Figure:
    fig, ax = plt.subplots(figsize=(4.8, 4.4), dpi=100)
    groups = table.groupby(hue, sort=False) if hue else [("", table)]
    for j, (name, part) in enumerate(groups):
        ax.scatter(part[x], part[y], s=14, alpha=0.7, color=PALETTE[j % len(PALETTE)],
                   label=_short(name, 40) if hue else None)
    if diagonal and len(table):
        lo = float(np.nanmin([table[x].min(), table[y].min()]))
        hi = float(np.nanmax([table[x].max(), table[y].max()]))
        ax.plot([lo, hi], [lo, hi], color="grey", linestyle="--", linewidth=1)
    ax.set_xlabel(xlabel or x)
    ax.set_ylabel(ylabel or y)
    ax.set_title(title)
    if hue:
        ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def effects_figure(effects: pd.DataFrame, *, title: str = "Condition effects") -> Figure:
    """Coefficient plot: estimate with CI per term (and per model/response where given)."""
    labels = [f"{r.get('group', '')} {r['term']}".strip() for _, r in effects.iterrows()]
    fig, ax = plt.subplots(figsize=(6.4, max(2.2, 0.42 * len(labels) + 1.2)), dpi=100)
    ys = np.arange(len(labels))[::-1]
    est = effects["estimate"].to_numpy(dtype=float)
    lo = effects["ci_low"].to_numpy(dtype=float)
    hi = effects["ci_high"].to_numpy(dtype=float)
    ax.errorbar(est, ys, xerr=[est - lo, hi - est], fmt="o", color=PALETTE[0], capsize=3)
    ax.axvline(0, color="grey", linestyle="--", linewidth=1)
    ax.set_yticks(ys)
    ax.set_yticklabels([_short(label, 48) for label in labels], fontsize=8)
    ax.set_xlabel("estimate (difference from the reference level)")
    ax.set_title(title)
    fig.tight_layout()
    return fig


def save_figure(fig: Figure, stem: Path) -> bytes:
    """Write ``stem``.png and ``stem``.svg; return the PNG bytes. Closes the figure."""
    stem.parent.mkdir(parents=True, exist_ok=True)
    buffer = io.BytesIO()
    try:
        fig.savefig(buffer, format="png")
        png = buffer.getvalue()
        stem.with_suffix(".png").write_bytes(png)
        fig.savefig(stem.with_suffix(".svg"), format="svg", metadata={"Date": None})
    finally:
        plt.close(fig)
    return png
