"""The SAMI evaluation report: ``report.html`` (self-contained, figures inline, model text escaped),
``summary.json`` with the same numbers, ``tables/proxies.csv`` and ``figures/*.png|svg``."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pandas as pd
from jinja2 import Environment, PackageLoader, select_autoescape

from proceval.figures import bar_ci_figure, save_figure
from proceval.report import json_safe
from proceval.train.sami.constitutions import ConstitutionSet
from proceval.train.sami.generate import Row

EXAMPLES = 3  # held-out queries shown with every model's responses


def _figures(summary: dict[str, Any], out: Path) -> dict[str, str]:
    figures: dict[str, str] = {}
    info = pd.DataFrame([{"model": label, "measure": name, **values}
                         for label, measures in summary["information"].items() for name, values in measures.items()])
    acc = info[info["measure"] == "identification"]
    chance = 1 / max(1, len(summary["constitutions"]))
    png = save_figure(bar_ci_figure(acc, x="model", y="mean", low="low", high="high", chance=chance,
                                    ylabel="accuracy", title="Constitution identification (held out)"),
                      out / "figures" / "identification")
    figures["identification"] = base64.b64encode(png).decode()
    proxies: pd.DataFrame = summary["proxies"]
    for (principle, proxy), table in proxies.groupby(["principle", "proxy"], sort=False):
        table = table.assign(version=table["version"].map({"+": f"{principle}+", "-": f"{principle}-"}))
        png = save_figure(bar_ci_figure(table, x="version", y="mean", low="low", high="high", hue="model", ylim=None,
                                        ylabel=str(proxy), title=f"{principle}: {proxy} by version"),
                          out / "figures" / f"proxy-{principle}")
        figures[f"proxy-{principle}"] = base64.b64encode(png).decode()
    return figures


def write_report(summary: dict[str, Any], rows: dict[str, list[Row]], constitutions: ConstitutionSet,
                 out: Path) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    (out / "tables").mkdir(exist_ok=True)
    summary["proxies"].to_csv(out / "tables" / "proxies.csv", index=False)
    plain = json_safe(summary)
    (out / "summary.json").write_text(json.dumps(plain, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    examples = [{"query": rows["base"][q].query,
                 "answers": [{"constitution": c.label, **{label: rows[label][q].responses[i] for label in rows}}
                             for i, c in enumerate(constitutions.constitutions)]}
                for q in range(min(EXAMPLES, len(rows["base"])))]
    env = Environment(loader=PackageLoader("proceval.train.sami", "templates"), autoescape=select_autoescape())
    html = env.get_template("report.html.j2").render(s=plain, figures=_figures(summary, out), examples=examples,
                                                     pairs=constitutions.pairs)
    (out / "report.html").write_text(html, encoding="utf-8")
    return out / "report.html"


__all__ = ["write_report"]
