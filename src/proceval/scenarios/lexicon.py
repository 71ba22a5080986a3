"""Fill a template offline: each scenario picks one entry from every lexicon list the fills use."""

from __future__ import annotations

import math
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from jinja2 import UndefinedError
from jinja2.exceptions import SecurityError

from proceval.dataset import Scenario, SkippedRow
from proceval.errors import SourceError
from proceval.templates import Template
from proceval.templates.syntax import ENV, _names_in, sandbox_error
from proceval.templates.yamlio import read_yaml


def load_lexicon(template: Template) -> dict[str, list[Any]]:
    """The template's lexicon lists (inline, or from the file it names beside the template)."""
    raw = template.spec.lexicon
    where = f"template {template.name!r}"
    if raw is None:
        raise SourceError(
            f"{where} has no lexicon, so it cannot be filled offline",
            hint="import filled rows with --from FILE, use an LLM writer with --writer, or add a lexicon",
        )
    if isinstance(raw, str):
        base = template.path.parent if template.path else Path.cwd()
        path = base / raw
        if not path.is_file():
            raise SourceError("lexicon file not found", file=path, field="lexicon")
        data, _ = read_yaml(path, SourceError)
        if not isinstance(data, dict):
            raise SourceError("a lexicon file is a mapping of list name → entries", file=path)
        raw, where = data, str(path)
    lists: dict[str, list[Any]] = {}
    for name, entries in raw.items():
        if isinstance(entries, dict) and set(entries) == {"range"}:
            lo, hi = entries["range"]
            entries = list(range(int(lo), int(hi) + 1))
        if not isinstance(entries, list) or not entries:
            raise SourceError(f"lexicon list {name!r} must be a non-empty list (or {{range: [lo, hi]}})",
                              file=where, field=f"lexicon.{name}")
        lists[name] = entries
    return lists


def lexicon_scenarios(template: Template, n: int, seed: int = 0) -> Iterator[Scenario | SkippedRow]:
    """``n`` distinct scenarios, deterministic in ``seed``; an error if the lexicon has fewer to give."""
    lists = load_lexicon(template)
    fills = {name: v.fill for name, v in template.variables.items() if v.fill is not None}
    unfilled = sorted(template.used_variables - set(fills))
    if unfilled:
        raise SourceError(
            f"template {template.name!r} cannot be filled offline: no `fill` for {', '.join(unfilled)}",
            hint="give these variables a `fill:` text over the lexicon lists",
        )
    used: set[str] = set()
    for name, text in fills.items():
        unknown = _names_in(text) - set(lists) - set(template.variables)
        if unknown:
            raise SourceError(f"fill of {name!r} uses unknown lexicon list(s) {', '.join(sorted(unknown))}",
                              field=f"variables.{name}.fill", hint=f"lexicon lists: {', '.join(lists)}")
        used |= _names_in(text) & set(lists)
    order = [name for name in lists if name in used]
    sizes = [len(lists[name]) for name in order]
    total = math.prod(sizes)
    if n > total:
        raise SourceError(
            f"the lexicon of {template.name!r} has only {total} distinct scenarios "
            f"({' × '.join(f'{len(lists[k])} {k}' for k in order)}), fewer than the {n} requested",
            hint="ask for fewer with --n, or add entries to the lexicon",
        )
    compiled = {name: ENV.from_string(text) for name, text in fills.items()}
    rng = random.Random(seed)
    # Sampling indices of the product without replacement gives distinct choices without enumerating it.
    draw = rng.sample(range(total), min(total, n + n // 10 + 16))
    seen: set[str] = set()
    accepted = 0
    for index in draw:
        if accepted == n:
            return
        choice: dict[str, Any] = {}
        picks: dict[str, int] = {}
        for name, size in zip(reversed(order), reversed(sizes), strict=True):
            index, pick = divmod(index, size)
            choice[name] = lists[name][pick]
            picks[name] = pick
        try:
            values = {name: _render_twice(t, choice) for name, t in compiled.items()}
        except UndefinedError as exc:
            raise SourceError(f"lexicon entry lacks a field the fills use: {exc.message}",
                              hint=f"entries picked: {picks}") from None
        except SecurityError as exc:
            raise sandbox_error(exc, "variables (fill)") from None
        scenario = Scenario.of(template.name, values, {"kind": "lexicon", "picks": picks})
        if scenario.id in seen:
            yield SkippedRow(reason=f"duplicate scenario from lexicon picks {picks}")
            continue
        problems = template.check_scenario(values)
        if problems:
            yield SkippedRow(reason=f"lexicon picks {picks}: " + "; ".join(problems))
            continue
        seen.add(scenario.id)
        accepted += 1
        yield scenario
    if accepted < n:
        raise SourceError(f"the lexicon of {template.name!r} gave only {accepted} valid distinct scenarios "
                          f"of the {n} requested", hint="ask for fewer with --n, or add entries to the lexicon")


def _render_twice(compiled: Any, context: dict[str, Any]) -> str:
    """Render a fill; lexicon entries may themselves contain {{ ... }} over other lists."""
    text = str(compiled.render(context)).strip()
    if "{{" in text:
        text = str(ENV.from_string(text).render(context)).strip()
    return text  # as written: a text that shows it capitalises where its sentence starts
