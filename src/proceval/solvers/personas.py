"""Personas: simulated respondents built from a table of people.

A persona table has one row per respondent and any columns (age, country, education, a free-text
biography...). Each row becomes a :class:`Persona` whose ``prompt`` is rendered from a Jinja2 template the
user can replace; ``proceval run --personas FILE`` then gives every item to the model once per persona, as the
subject ``"{model spec}#persona={id}"``.

The table may also be the long human response table itself (columns ``participant, item_id, response``...):
then there is one persona per participant, its attributes are the columns that stay constant within that
participant (demographics; per-answer columns such as ``response`` or ``rt_ms`` are left out) and
``item_order`` keeps the order in which that participant answered, so each human gets a simulated twin.

Sampling ``n`` personas is seeded, so a population is reproducible.
"""

from __future__ import annotations

import csv
import os
import random
from dataclasses import dataclass, field
from pathlib import Path

import jinja2
from jinja2.sandbox import SandboxedEnvironment

from proceval.errors import RunError

DEFAULT_TEMPLATE = """\
You are taking part in a study. Answer every question as the following person would.
{% for name, value in attributes.items() if value %}
- {{ name | replace("_", " ") }}: {{ value }}
{%- endfor %}
"""

ID_COLUMNS = ("id", "persona", "persona_id", "participant", "respondent", "person")
PER_ANSWER_COLUMNS = {"item_id", "response", "rt_ms", "correct", "timestamp", "order", "trial"}


@dataclass
class Persona:
    """One simulated respondent: an id, the attributes it was built from and its system prompt.

    ``item_order`` is set when the persona is a human participant's twin: the item ids in the order that
    participant answered them.
    """

    id: str
    attributes: dict[str, str]
    prompt: str
    item_order: list[str] | None = None
    source: dict[str, object] = field(default_factory=dict)


def _environment() -> SandboxedEnvironment:
    return SandboxedEnvironment(undefined=jinja2.StrictUndefined, autoescape=False, trim_blocks=True,
                                lstrip_blocks=True, keep_trailing_newline=False)


def compile_template(template: str | os.PathLike[str] | None) -> tuple[jinja2.Template, str]:
    """A persona template from text or a file path (``None``: :data:`DEFAULT_TEMPLATE`), and its display name."""
    if template is None:
        text, name = DEFAULT_TEMPLATE, "default persona template"
    elif isinstance(template, os.PathLike) or Path(str(template)).is_file() or _looks_like_path(str(template)):
        path = Path(template)
        if not path.is_file():
            raise RunError("no such persona template file", file=path)
        text, name = path.read_text(encoding="utf-8"), str(path)
    else:
        text, name = str(template), "persona template"
    try:
        return _environment().from_string(text), name
    except jinja2.TemplateSyntaxError as exc:
        raise RunError(f"template syntax error: {exc.message}", file=name, line=exc.lineno) from None


def _looks_like_path(text: str) -> bool:
    """Text without Jinja markers or spaces is meant as a file name (so a typo is an error, not a prompt)."""
    return not any(mark in text for mark in ("{{", "{%", "\n", " "))


def render_prompt(template: jinja2.Template, persona_id: str, attributes: dict[str, str], *,
                  template_name: str = "persona template", where: str | None = None) -> str:
    """Render one persona's prompt. The template sees ``id``, ``attributes`` (a dict) and every attribute
    whose column name is a valid identifier by that name."""
    context: dict[str, object] = {k: v for k, v in attributes.items() if k.isidentifier()}
    context.update(id=persona_id, attributes=attributes)
    try:
        return template.render(**context).strip()
    except jinja2.UndefinedError as exc:
        raise RunError(
            f"{exc.message} (persona {persona_id!r}{', ' + where if where else ''})",
            file=template_name,
            hint=f"the persona table's columns are: {', '.join(attributes) or '(none)'}",
        ) from None
    except jinja2.TemplateError as exc:
        raise RunError(f"cannot render the persona template: {exc}", file=template_name) from None


def _read_table(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    if not path.is_file():
        raise RunError("no such persona table", file=path, hint="pass a CSV with one row per respondent")
    delimiter = "\t" if path.suffix.lower() == ".tsv" else ","
    with path.open(newline="", encoding="utf-8-sig") as f:
        reader = csv.reader(f, delimiter=delimiter)
        try:
            header = [h.strip() for h in next(reader)]
        except StopIteration:
            raise RunError("the persona table is empty", file=path) from None
        if len(set(header)) != len(header):
            raise RunError("duplicate column names in the header", file=path, line=1)
        rows = []
        for line, values in enumerate(reader, start=2):
            if not any(v.strip() for v in values):
                continue
            if len(values) != len(header):
                raise RunError(f"{len(values)} fields, the header has {len(header)}", file=path, line=line)
            row = {k: v.strip() for k, v in zip(header, values, strict=True)}
            row["__line__"] = str(line)
            rows.append(row)
    if not rows:
        raise RunError("the persona table has no rows", file=path)
    return header, rows


def _twins(path: Path, header: list[str], rows: list[dict[str, str]], id_column: str
           ) -> list[tuple[str, dict[str, str], list[str], int]]:
    """One (id, constant attributes, item order, first line) per participant of a long human table."""
    groups: dict[str, list[dict[str, str]]] = {}
    for row in rows:
        groups.setdefault(row[id_column], []).append(row)
    candidates = [c for c in header if c != id_column and c not in PER_ANSWER_COLUMNS]
    out = []
    for pid, answers in groups.items():
        attributes = {c: answers[0][c] for c in candidates if all(r[c] == answers[0][c] for r in answers)}
        order = list(dict.fromkeys(r["item_id"] for r in answers))
        out.append((pid, attributes, order, int(answers[0]["__line__"])))
    # a column that varies within any participant is per-answer data, not a trait: drop it for everyone
    varying = {c for c in candidates if any(c not in attrs for _, attrs, _, _ in out)}
    return [(pid, {k: v for k, v in attrs.items() if k not in varying}, order, line)
            for pid, attrs, order, line in out]


def load_personas(
    path: str | os.PathLike[str],
    *,
    template: str | os.PathLike[str] | None = None,
    n: int | None = None,
    seed: int = 0,
    id_column: str | None = None,
) -> list[Persona]:
    """Read a persona table (CSV/TSV) and render one :class:`Persona` per row (or per participant of a long
    human table). ``template`` is Jinja2 text or a file (default :data:`DEFAULT_TEMPLATE`); ``n`` draws that
    many personas without replacement using ``seed`` (kept in table order); ``id_column`` names the id column
    (default: the first of id, persona, persona_id, participant, respondent, person; else the row number).
    """
    file = Path(path)
    header, rows = _read_table(file)
    compiled, template_name = compile_template(template)
    if id_column is not None and id_column not in header:
        raise RunError(f"no column {id_column!r} (columns: {', '.join(header)})", file=file, field="id_column")
    column = id_column or next((c for c in ID_COLUMNS if c in header), None)
    entries: list[tuple[str, dict[str, str], list[str] | None, int]]
    if column is not None and "item_id" in header:
        entries = [(pid, attrs, order, line) for pid, attrs, order, line in _twins(file, header, rows, column)]
        kind = "human table"
    else:
        entries = []
        seen: dict[str, int] = {}
        for row in rows:
            line = int(row["__line__"])
            pid = row[column] if column else str(line - 1)
            if not pid:
                raise RunError("empty persona id", file=file, line=line, field=column)
            if pid in seen:
                raise RunError(f"persona id {pid!r} also on line {seen[pid]}", file=file, line=line, field=column)
            seen[pid] = line
            attributes = {k: v for k, v in row.items() if k not in (column, "__line__")}
            entries.append((pid, attributes, None, line))
        kind = "persona table"
    if n is not None:
        if n < 1:
            raise RunError("n must be at least 1", field="n")
        if n > len(entries):
            raise RunError(
                f"asked for {n} personas but the {kind} has {len(entries)}", file=file, field="n",
                hint="lower --n, or add rows to the table",
            )
        chosen = sorted(random.Random(seed).sample(range(len(entries)), n))
        entries = [entries[i] for i in chosen]
    personas = []
    for pid, attributes, order, line in entries:
        prompt = render_prompt(compiled, pid, attributes, template_name=template_name, where=f"{file}:{line}")
        personas.append(Persona(pid, attributes, prompt, order, {"file": str(file), "line": line, "kind": kind}))
    return personas
