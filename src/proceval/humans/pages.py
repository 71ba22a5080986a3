"""What the study shows: the dataset, lists and plans behind it, each trial and its answer widgets, and pages
rendered with Jinja2 (autoescaped: model-generated and participant text is data).
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup, escape
from starlette.responses import HTMLResponse

from proceval.dataset import Dataset, Item
from proceval.humans.assignment import StudyLists, build_lists, make_plan
from proceval.humans.config import AttentionCheck, StudyConfig
from proceval.humans.storage import (
    SessionRow,
    StudyStore,
)
from proceval.ids import canonical_json, content_id

TEMPLATES = Path(__file__).parent / "templates"
FIELDS_CACHE_SIZE = 4096  # rendered answer widgets kept in memory (one per item and option order)


def paragraphs(text: str | None) -> Markup:
    """Escaped text as HTML paragraphs: blank lines separate paragraphs, single newlines become <br>."""
    return _paragraphs(str(text or ""))


@functools.lru_cache(maxsize=4096)
def _paragraphs(text: str) -> Markup:
    # the same few item texts are shown over and over: escape and split each once
    blocks = [b.strip() for b in re.split(r"\n\s*\n", str(text or "")) if b.strip()]
    return Markup("".join(
        "<p>" + str(escape(b)).replace("\n", "<br>\n") + "</p>" for b in blocks))


@dataclass
class Trial:
    position: int
    kind: str  # item | check
    ref: str
    order: list[str] | None
    item: Item | None
    check: AttentionCheck | None


class Study:
    """Everything a request needs: the items, lists, config, store and page templates."""

    def __init__(self, dataset: Dataset, config: StudyConfig, store: StudyStore, pilot: bool) -> None:
        self.dataset = dataset
        self.config = config
        self.store = store
        self.pilot = pilot
        self.items = dataset.item_map()
        self.checks = {c.id: c for c in config.attention_checks}
        # attention checks travel in forms under an opaque id shaped like an item id, so the page source
        # does not give them away
        self.check_refs = {content_id("attention-check", config.seed, c.id): c.id for c in config.attention_checks}
        self.public_refs = {v: k for k, v in self.check_refs.items()}
        self.lists: StudyLists = build_lists(dataset.items, config)
        self.admin_token = config.resolved_admin_token()
        # stored with each admin session: a new admin token ends the sessions the old one opened
        self.admin_key = hmac.new(self.admin_token.encode(), b"proceval-admin-session", hashlib.sha256).hexdigest() \
            if self.admin_token else ""
        self.env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(default=True),
                               trim_blocks=True, lstrip_blocks=True, auto_reload=False)
        self.env.filters["paras"] = paragraphs
        self._fields: dict[tuple[str, str, tuple[str, ...] | None], Markup] = {}
        self._fields_lock = threading.Lock()
        store.bind_study({
            "dataset": dataset.content_hash,
            "lists": content_id("lists", self.lists.lists, sorted(self.checks)),
            "list_items": canonical_json(self.lists.lists),
        })

    # ------------------------------------------------------------------ pages
    def render(self, template: str, status: int = 200, **context: Any) -> HTMLResponse:
        context.setdefault("title", self.config.title)
        context.setdefault("pilot", self.pilot)
        html = self.env.get_template(template).render(**context)
        return HTMLResponse(html, status_code=status)

    def error(self, status: int, message: str) -> HTMLResponse:
        return self.render("error.html", status=status, message=message)

    def plan_for(self, session_key: str) -> Callable[[int], list[dict[str, Any]]]:
        def plan(list_index: int) -> list[dict[str, Any]]:
            items = [self.items[i] for i in self.lists.lists[list_index]]
            return make_plan(items, self.config.attention_checks, self.config, session_key)
        return plan

    def trial(self, session: SessionRow, position: int) -> Trial:
        assert session.plan is not None
        entry = session.plan[position]
        if "check" in entry:
            return Trial(position, "check", entry["check"], entry.get("order"), None, self.checks[entry["check"]])
        return Trial(position, "item", entry["item"], entry.get("order"), self.items[entry["item"]], None)

    def trial_fields(self, trial: Trial) -> Markup:
        """The answer widgets of a trial (question, options or scale), escaped. They depend only on the item
        and its option order, so each is rendered once and reused."""
        cache_key = (trial.kind, trial.ref, tuple(trial.order) if trial.order else None)
        fields = self._fields.get(cache_key)
        if fields is not None:
            return fields
        context: dict[str, Any]
        if trial.check is not None:
            options = {o.key: o.text for o in trial.check.options}
            context = {"kind": "choice", "question": trial.check.question,
                       "options": [(k, options[k]) for k in (trial.order or list(options))]}
        else:
            item = trial.item
            assert item is not None
            context = {"kind": item.response_type, "question": item.question}
            if item.response_type == "choice":
                texts = {o["key"]: o["text"] for o in item.options}
                context["options"] = [(k, texts[k]) for k in (trial.order or list(texts))]
            elif item.response_type == "rating":
                low, high = item.scale
                labels = {str(k): v for k, v in (item.response["scale"].get("labels") or {}).items()}
                context["points"] = [(p, labels.get(str(p), "")) for p in range(low, high + 1)]
        # rendered with autoescape on: the output is safe HTML
        fields = Markup(self.env.get_template("trial_fields.html").render(**context).strip())
        with self._fields_lock:
            if len(self._fields) >= FIELDS_CACHE_SIZE:
                self._fields.pop(next(iter(self._fields)))
            self._fields[cache_key] = fields
        return fields

    def public_ref(self, trial: Trial) -> str:
        """The id a trial's form carries: the item id, or the attention check's opaque id."""
        return self.public_refs[trial.ref] if trial.kind == "check" else trial.ref

    @property
    def after_trials(self) -> str:
        return "demographics" if self.config.demographics else "debrief"
