"""Who answers a run: the model itself, or one subject per persona, each in its own order and, optionally,
with a bounded memory of its own earlier answers (docs/irt.md, "Order and memory")."""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Any

from proceval.dataset import Item
from proceval.errors import RunError
from proceval.models.base import Message
from proceval.solvers.prompts import PromptBuilder
from proceval.solvers.scoring import seeded_order

PERSONA_ORDERS = ("dataset", "human", "shuffled")


@dataclass
class Subject:
    id: str
    kind: str  # "model" | "persona"
    system: str | None
    persona: str | None = None
    item_order: list[str] | None = None  # a human twin's own order of item ids


@dataclass
class Memory:
    """What a persona's prompt recalls of its earlier items: the chat turns, the item ids they come from
    (oldest first) and the ids of the window it left out because it gave no usable answer to them."""

    turns: list[Message] = field(default_factory=list)
    items: list[str] = field(default_factory=list)
    left_out: list[str] = field(default_factory=list)


def make_subjects(spec: str, system: str | None, personas: list[Any] | None) -> list[Subject]:
    if not personas:
        return [Subject(spec, "model", system)]
    subjects = []
    seen: set[str] = set()
    for persona in personas:
        pid = str(persona.id)
        if pid in seen:
            raise RunError(f"two personas share the id {pid!r}", field="personas")
        seen.add(pid)
        prompt = str(persona.prompt)
        full = prompt + ("\n\n" + system if system else "")
        subjects.append(Subject(f"{spec}#persona={pid}", "persona", full, pid, getattr(persona, "item_order", None)))
    return subjects


def check_persona_options(order: str, memory: int, personas: list[Any] | None) -> None:
    if order not in PERSONA_ORDERS:
        raise RunError(f"unknown persona order {order!r}; choose one of {', '.join(PERSONA_ORDERS)}",
                       field="persona_order")
    if memory < 0:
        raise RunError("persona_memory must be zero or more", field="persona_memory")
    if not personas and (order != "dataset" or memory):
        raise RunError("only personas have an order and a memory of their own",
                       field="persona_order" if order != "dataset" else "persona_memory",
                       hint="pass personas (--personas FILE)")
    for persona in personas or []:
        if order == "human" and getattr(persona, "item_order", None) is None:
            raise RunError(f"persona {persona.id!r} has no order of its own (it is not a human's twin)",
                           field="persona_order",
                           hint="draw the personas from a long human table (participant, item_id, ...), "
                                "or use --persona-order shuffled")


def answer_order(items: list[Item], how: str, subject: Subject, seed: int) -> list[Item]:
    """The items in the order ``subject`` answers them. ``dataset``: as given; ``human``: the twin's own
    order first (ids not among ``items`` skipped), then the rest as given; ``shuffled``: a permutation seeded
    by (seed, persona id)."""
    by_id = {item.id: item for item in items}
    if how == "shuffled":
        return [by_id[i] for i in seeded_order(list(by_id), seed, "persona", subject.persona)]
    if how == "human":
        first = [by_id[i] for i in dict.fromkeys(subject.item_order or []) if i in by_id]
        seen = {item.id for item in first}
        return first + [item for item in items if item.id not in seen]
    return list(items)


def recall(builder: PromptBuilder, earlier: list[tuple[Item, dict[str, Any]]]) -> Memory:
    """Earlier (item, record) pairs as chat turns: each item asked as the persona first saw it (the first
    option order) and answered as the persona did. An item without a usable answer is left out."""
    memory = Memory()
    for item, record in earlier:
        if record["status"] != "ok":
            memory.left_out.append(item.id)
            continue
        if item.response_type == "choice":
            order, answer = record["orders"][0], str(record["choice"])
        else:
            order, answer = None, str(record["rating"] if item.response_type == "rating" else record["raw"])
        memory.turns += builder.exchange(item, order, answer, template=builder.item_template)
        memory.items.append(item.id)
    return memory


def unknown_items(subjects: list[Subject], known: set[str]) -> dict[str, Any]:
    """Item ids of the twins' own orders that the dataset lacks: skipped, and counted here and in a warning."""
    by_persona = {str(s.persona): n for s in subjects
                  if (n := sum(i not in known for i in dict.fromkeys(s.item_order or [])))}
    total = sum(by_persona.values())
    if total:
        warnings.warn(f"{total} item ids of the human order are not in the dataset and were skipped "
                      f"({len(by_persona)} personas; see human_order in run.json)", stacklevel=3)
    return {"unknown_item_ids": total, "by_persona": by_persona}
