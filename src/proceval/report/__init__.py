"""The report: one self-contained ``report.html`` (figures inline, no network), ``summary.json`` with the same
numbers for machines (schema in docs/summary-schema.md), ``tables/*.csv`` and ``figures/*.png|svg``."""

from __future__ import annotations

import base64
import json
import math
import platform
import shutil
import tempfile
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup, escape

from proceval import __version__
from proceval.dataset import replace_dir
from proceval.errors import AnalysisError, describe_error

if TYPE_CHECKING:
    from proceval.analysis.base import AnalysisContext, AnalysisResult
    from proceval.analysis.data import ResponseData

SCHEMA_VERSION = 1
HTML_ROW_LIMIT = 300
REPORT_FILE = "report.html"
SUMMARY_FILE = "summary.json"


def json_safe(value: Any) -> Any:
    """Plain JSON values: NaN/inf → None, numpy scalars → Python, frames → records, tuples → lists."""
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    if isinstance(value, pd.DataFrame):
        return [json_safe(r) for r in value.to_dict("records")]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if value is None or isinstance(value, str | int | bool):
        return value
    if value is pd.NA or value is pd.NaT:
        return None
    return str(value)


def _format(value: Any) -> tuple[str, bool]:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "", False
    if isinstance(value, bool | np.bool_):
        return str(bool(value)), False
    if isinstance(value, int | np.integer):
        return str(int(value)), True
    if isinstance(value, float | np.floating):
        v = float(value)
        if v != 0 and abs(v) < 0.001:
            return f"{v:.2e}", True
        return f"{v:.3f}", True
    return str(value), False


def table_view(name: str, frame: pd.DataFrame, csv: str = "") -> dict[str, Any]:
    rows = [[_format(v) for v in record] for record in frame.head(HTML_ROW_LIMIT).itertuples(index=False)]
    return {"name": name, "columns": [str(c) for c in frame.columns], "rows": rows, "csv": csv,
            "truncated": max(0, len(frame) - HTML_ROW_LIMIT)}


def table_html(view: dict[str, Any]) -> Markup:
    """An HTML table of already formatted cells; every cell and header is escaped."""
    parts = ["<table><thead><tr>"]
    parts += [f"<th>{escape(c)}</th>" for c in view["columns"]]
    parts.append("</tr></thead><tbody>")
    for row in view["rows"]:
        parts.append("<tr>")
        parts += [f'<td class="num">{escape(text)}</td>' if numeric else f"<td>{escape(text)}</td>"
                  for text, numeric in row]
        parts.append("</tr>")
    parts.append("</tbody></table>")
    if view.get("truncated"):
        parts.append(f'<p class="note">{view["truncated"]} more rows in {escape(view["csv"])}.</p>')
    return Markup("".join(parts))


def _versions() -> dict[str, str]:
    out = {"proceval": __version__, "python": platform.python_version()}
    for package in ("numpy", "pandas", "scipy", "statsmodels", "matplotlib", "llama_cpp_python"):
        try:
            out[package] = version(package.replace("_", "-"))
        except PackageNotFoundError:
            continue
    return out


def _run_summary(run: Any, label: str, coverage: dict[str, Any]) -> dict[str, Any]:
    info = run.info
    counts = info.get("counts") or {}
    return {
        "run": run.name,
        "path": str(run.path),
        "subject": label,
        "subject_kind": (run.responses[0].get("subject_kind") if run.responses else None) or "model",
        "strategy": info.get("strategy") or (run.responses[0].get("strategy") if run.responses else None),
        "scoring": info.get("scoring") or (run.responses[0].get("scoring") if run.responses else None),
        "seed": info.get("seed"),
        "model": info.get("model"),
        "prompts": info.get("prompts"),
        "proceval_version": info.get("proceval_version"),
        "counts": counts,
        "n_responses": len(run.responses),
        "status": coverage["status"],
        "items_answered": coverage["items_answered"],
        "complete": coverage["complete"],
    }


# the headline columns: analysis → (column, key in its numbers, value field)
LEAD_FIGURES = ("belief_accuracy", "rating_grid", "agreement_by_inference", "joint", "accuracy", "ratings", "humans")
BASELINE = "humans (leave-one-out, inter-participant baseline)"


def _with_ci(value: Any, ci: Any, digits: int = 2) -> str:
    if value is None:
        return "–"
    low, high = (ci or [None, None])[:2]
    interval = f" [{low:.{digits}f}, {high:.{digits}f}]" if low is not None and high is not None else ""
    return f"{value:.{digits}f}{interval}"


def headline_table(summary: dict[str, Any]) -> pd.DataFrame:
    """One row per subject (models and personas first, people last): answers and the headline number of each
    analysis that ran, with its interval. Built from ``summary.json`` alone."""
    analyses = summary["analyses"]

    def numbers(name: str) -> dict[str, Any]:
        entry = analyses.get(name) or {}
        return entry.get("numbers") or {} if entry.get("status") == "ok" else {}

    rows: dict[str, dict[str, str]] = {}
    for s in summary["subjects"]:
        answered = f"{s['items_answered']} of {summary['dataset']['n_items']} items"
        if not s["complete"]:
            answered += " (incomplete)"
        rows.setdefault(s["subject"], {"subject": s["subject"], "kind": s["subject_kind"], "answered": answered})
    humans = summary.get("humans")
    if humans:
        rows["humans"] = {"subject": "humans", "kind": "human",
                          "answered": f"{humans['used']} answers from {humans['participants']} participants"}
    for subject, r in (numbers("accuracy").get("overall") or {}).items():
        if subject in rows:
            chance = f" (chance {r['chance']:.2f})" if r.get("chance") is not None else ""
            rows[subject]["accuracy"] = _with_ci(r["accuracy"], r["ci"]) + chance
    for subject, r in (numbers("joint").get("overall") or {}).items():
        if subject in rows:
            rows[subject]["joint (both versions right)"] = _with_ci(r["joint"], r["ci"])
    for subject, questions in numbers("effects").items():
        if subject not in rows:
            continue
        for question, terms in questions.items():
            rows[subject][f"effects on {question}"] = "; ".join(
                f"{term.split(' vs ')[0]}: {_with_ci(t['estimate'], t['ci'])}" for term, t in terms.items())
    for subject, r in (numbers("humans").get("agreement") or {}).items():
        key = "humans" if subject == BASELINE else subject
        if key in rows:
            rows[key]["agreement with people"] = _with_ci(r["agreement"], r["ci"]) + (
                " (leave-one-out baseline)" if subject == BASELINE else "")
    ordered = sorted(rows.values(), key=lambda r: r["kind"] == "human")
    frame = pd.DataFrame.from_records(ordered).fillna("–")
    return frame


def _not_computed(summary: dict[str, Any]) -> list[dict[str, str]]:
    """Analyses and parts that failed or do not apply, for the first screen (failed first)."""
    out = []
    for status in ("failed", "skipped"):
        for name, entry in summary["analyses"].items():
            if entry["status"] == status:
                out.append({"name": name, "title": entry["title"], "status": status, "reason": entry["reason"] or "",
                            "requested": entry["requested"]})
    for name, entry in summary["analyses"].items():
        for part, reason in (entry.get("failures") or {}).items():  # the reason names the part
            out.insert(0, {"name": name, "title": entry["title"], "status": "failed", "part": part,
                           "reason": reason, "requested": False})
    return out


def _sample_items(data: ResponseData) -> list[dict[str, Any]]:
    seen: set[tuple[str, str]] = set()
    samples = []
    for item in data.dataset.items:
        key = (item.condition_name, item.question_name)
        if key in seen:
            continue
        seen.add(key)
        samples.append({"id": item.id, "condition_name": item.condition_name, "question_name": item.question_name,
                        "text": item.text, "question": item.question, "options": item.options,
                        "answer": item.answer,
                        "scale": f"{item.scale[0]}–{item.scale[1]}" if item.response_type == "rating" else None})
    return samples


def build_summary(
    data: ResponseData, results: dict[str, AnalysisResult], ctx: AnalysisContext, *, title: str,
    requested: list[str], figure_files: dict[str, list[dict[str, str]]], table_files: dict[str, dict[str, str]],
) -> dict[str, Any]:
    manifest = data.dataset.manifest
    return json_safe({
        "schema_version": SCHEMA_VERSION,
        "proceval_version": __version__,
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "title": title,
        "dataset": {
            "path": str(data.dataset.path),
            "template": data.dataset.template_name,
            "template_hash": manifest.template.get("hash"),
            "content_hash": data.dataset.content_hash,
            "source": manifest.source,
            "seed": manifest.seed,
            "factors": manifest.factors,
            "conditions": manifest.conditions,
            "n_scenarios": manifest.n_scenarios,
            "n_items": manifest.n_items,
            "counts_per_condition": manifest.counts_per_condition,
            "skipped": len(manifest.skipped),
        },
        "subjects": [_run_summary(run, data.run_labels.get(run.name, run.subject), c)
                     for run, c in zip(data.runs, data.coverage(), strict=True)],
        "warnings": data.coverage_warnings(),
        "humans": {k: v for k, v in data.human_stats.items() if k != "invalid_examples"} or None,
        "settings": {"seed": ctx.seed, "n_boot": ctx.n_boot, "level": ctx.level, "requested": requested,
                     "options": ctx.options},
        "environment": _versions(),
        "analyses": {
            name: {
                "title": r.title,
                "status": r.status,
                "reason": r.reason,
                "failures": r.failures,
                "requested": name in requested,
                "numbers": r.numbers,
                "notes": r.notes,
                "tables": {t: {"csv": table_files.get(name, {}).get(t), "rows": frame}
                           for t, frame in r.tables.items()},
                "figures": figure_files.get(name, []),
            }
            for name, r in results.items()
        },
    })


def write_report(
    data: ResponseData,
    results: dict[str, AnalysisResult],
    ctx: AnalysisContext,
    out: Path,
    *,
    title: str | None = None,
    requested: list[str] | None = None,
) -> tuple[Path, Path, dict[str, Any]]:
    """Write report.html, summary.json, tables/*.csv and figures/*; return (html path, summary path, summary).

    The files are written to a temporary sibling of ``out`` that replaces ``out`` at the end, so nothing of
    an earlier report (a table that no longer exists) survives beside the new one, and a failure leaves the
    earlier report whole. An existing ``out`` that is not a report (nor empty) is refused."""
    check_report_dir(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent))
    tmp.chmod(0o755)  # mkdtemp's private 0700 would make the published report unreadable to others
    try:
        summary = _write_files(data, results, ctx, tmp, title=title, requested=requested or [])
        replace_dir(tmp, out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return out / REPORT_FILE, out / SUMMARY_FILE, summary


def check_report_dir(out: Path) -> None:
    """``out`` may be new, empty or an earlier report; anything else is the user's and is never replaced."""
    if out.exists() and not out.is_dir():
        raise AnalysisError("the report directory is a file", file=out, hint="choose another --out")
    if out.is_dir() and any(out.iterdir()) and not (out / SUMMARY_FILE).is_file():
        raise AnalysisError("this directory holds files that are not a proceval report; a report replaces its "
                            "whole directory", file=out, hint="choose a new or empty --out")


def write_results(results: dict[str, AnalysisResult], out: Path, requested: list[str]
                  ) -> tuple[list[dict[str, Any]], dict[str, list[dict[str, str]]], dict[str, dict[str, str]]]:
    """Write each result's tables (``tables/NAME__TABLE.csv``) and figures (``figures/NAME.png|svg``) under
    ``out``; return the views a template shows and the files written, per analysis."""
    from proceval.figures import save_figure

    (out / "tables").mkdir(exist_ok=True)
    (out / "figures").mkdir(exist_ok=True)
    figure_files: dict[str, list[dict[str, str]]] = {}
    table_files: dict[str, dict[str, str]] = {}
    views = []
    for name, result in results.items():
        view: dict[str, Any] = {"name": name, "title": result.title, "status": result.status,
                                "reason": result.reason, "notes": result.notes, "figures": [], "tables": [],
                                "requested": name in requested, "failures": result.failures}
        for table_name, frame in result.tables.items():
            csv = f"tables/{name}__{table_name}.csv"
            frame.to_csv(out / csv, index=False)
            table_files.setdefault(name, {})[table_name] = csv
            view["tables"].append(table_view(table_name, frame, csv))
        for spec in result.figures:
            stem = out / "figures" / spec.name
            try:
                png = save_figure(spec.draw(), stem)
            except Exception as exc:  # a figure that cannot be drawn must not cost the rest of the report
                result.failures[f"figure {spec.name}"] = f"could not be drawn: {describe_error(exc)}"
                continue
            files = {"name": spec.name, "title": spec.title, "png": f"figures/{spec.name}.png",
                     "svg": f"figures/{spec.name}.svg"}
            figure_files.setdefault(name, []).append(files)
            view["figures"].append({**files, "caption": spec.caption,
                                    "png_base64": base64.b64encode(png).decode("ascii")})
        views.append(view)
    return views, figure_files, table_files


def _write_files(data: ResponseData, results: dict[str, AnalysisResult], ctx: AnalysisContext, out: Path, *,
                 title: str | None, requested: list[str]) -> dict[str, Any]:
    title = title or f"proceval report: {data.dataset.template_name or data.dataset.name}"
    views, figure_files, table_files = write_results(results, out, requested)
    summary = build_summary(data, results, ctx, title=title, requested=requested, figure_files=figure_files,
                            table_files=table_files)
    summary_path = out / SUMMARY_FILE
    summary_path.write_text(json.dumps(summary, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")

    manifest = data.dataset.manifest
    conditions = pd.DataFrame.from_records([
        {"condition": name, **{k: v for k, v in levels.items()},
         "items": manifest.counts_per_condition.get(name, 0)}
        for name, levels in manifest.conditions.items()])
    subjects = pd.DataFrame.from_records([
        {"run": s["run"], "subject": s["subject"], "kind": s["subject_kind"], "strategy": s["strategy"],
         "scoring": s["scoring"], "seed": s["seed"], "status": s["status"], "responses": s["n_responses"],
         "items answered": s["items_answered"],
         "model": json.dumps(s["model"], ensure_ascii=False) if s["model"] else ""}
        for s in summary["subjects"]])
    # the first figure of each leading analysis (the family's paper figure first) opens the figures, at most 3
    lead = [v["figures"][0] for name in LEAD_FIGURES for v in views if v["name"] == name and v["figures"]][:3]
    env = Environment(loader=PackageLoader("proceval.report", "templates"), autoescape=select_autoescape(["j2", "html"]))
    env.globals["table_html"] = table_html
    source = manifest.source or {}
    html = env.get_template("report.html.j2").render(
        title=title,
        version=__version__,
        created_at=summary["created_at"],
        settings=summary["settings"],
        dataset={"template": data.dataset.template_name, "template_hash": str(manifest.template.get("hash") or ""),
                 "path": str(data.dataset.path), "seed": manifest.seed, "n_scenarios": manifest.n_scenarios,
                 "n_items": manifest.n_items, "skipped": len(manifest.skipped),
                 "source_text": ", ".join(f"{k}={v}" for k, v in source.items())},
        conditions_table=table_view("conditions", conditions),
        samples=_sample_items(data),
        subjects_table=table_view("subjects", subjects),
        runs=[{"run": s["run"], "subject": s["subject"],
               "prompts": json.dumps(s["prompts"], indent=2, ensure_ascii=False) if s["prompts"] else ""}
              for s in summary["subjects"]],
        humans=summary["humans"],
        analyses=views,
        headline=table_view("headline", headline_table(summary)),
        not_computed=_not_computed(summary),
        warnings=summary["warnings"],
        lead_figures=lead,
        lead_names={f["name"] for f in lead},
        skipped=[v for v in views if v["status"] == "skipped"],
        failed=[v for v in views if v["status"] == "failed"],
        environment_table=table_view("environment", pd.DataFrame(
            [{"package": k, "version": v} for k, v in summary["environment"].items()])),
    )
    (out / REPORT_FILE).write_text(html, encoding="utf-8")
    return summary


def open_report(path: str | Path) -> Path:
    """Open a report (its directory or report.html) in the user's web browser (``$BROWSER`` if set).

    Returns the file opened; a missing report or no browser to start is an :class:`AnalysisError`."""
    import webbrowser

    target = Path(path)
    if target.is_dir():
        target = target / REPORT_FILE
    if not target.is_file():
        raise AnalysisError("no report here", file=target, hint="pass a report directory written by `proceval analyze`")
    if not webbrowser.open(target.resolve().as_uri()):
        raise AnalysisError("no web browser could be started", file=target,
                            hint="open the file yourself, or set BROWSER to a browser command")
    return target
