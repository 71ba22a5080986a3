"""Human answers as rows of the response table: each answer of the long human table scored against its item (an
option key or text, a point on the scale), and every unusable row counted by reason."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import pandas as pd

from proceval.analysis.data import HUMAN_SUBJECT, item_columns
from proceval.dataset import Item
from proceval.errors import HumansError
from proceval.humans.data import option_key
from proceval.humans.data import reason_kind as _reason_kind
from proceval.ids import file_sha256


def human_rows(
    table: pd.DataFrame, items: dict[str, Item], factors: list[str], file: Path
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    rows = []
    unknown: Counter[str] = Counter()
    invalid: list[dict[str, Any]] = []
    why: Counter[str] = Counter()  # answers that cannot be used, by reason (the importer's, where it gave one)
    for index, record in enumerate(table.to_dict("records")):
        line = index + 2  # header is line 1
        item = items.get(str(record["item_id"]))
        given = str(record.get("unmatched") or "")
        if item is None:
            unknown[str(record["item_id"])] += 1
            why[_reason_kind(given) if given else "item_id names no item of the dataset"] += 1
            continue
        response = record["response"]
        text = "" if response is None or (isinstance(response, float) and pd.isna(response)) else str(response)
        text = text.strip()
        choice, rating, correct, status = None, None, float("nan"), "ok"
        if item.response_type == "choice":
            choice, _how = option_key(item, text)  # the key, or the option's text or letter (human_data's rule)
            if choice is not None:
                if item.answer is not None:
                    correct = float(choice == item.answer)
            else:
                status = "invalid"
        elif item.response_type == "rating":
            low, high = item.scale
            try:
                value = float(text)
            except ValueError:
                value = float("nan")
            if value == value and low <= value <= high:
                rating = value
            else:
                status = "invalid"
        if status == "invalid":
            invalid.append({"line": line, "participant": str(record["participant"]), "response": text[:80]})
            why[_reason_kind(given) if given else
                "response is not an option" if item.response_type == "choice" else "rating is not on the scale"] += 1
        rt = record.get("rt_ms")
        try:
            rt_ms = float(rt) if rt not in (None, "") else None
        except (TypeError, ValueError):
            rt_ms = None
        row = {
            "subject": HUMAN_SUBJECT,
            "subject_kind": "human",
            "participant": str(record["participant"]),
            "run": HUMAN_SUBJECT,
            "item_id": item.id,
            "strategy": None,
            "scoring": None,
            "choice": choice,
            "correct": correct,
            "status": status,
            "first_shown": None,
            "probs": None,
            "per_order": None,
            "rating": rating,
            "expected_rating": rating,
            "rt_ms": rt_ms,
        }
        row.update(item_columns(item, factors))
        rows.append(row)
    if not rows:
        raise HumansError(
            f"none of the {len(table)} rows names an item of the dataset",
            file=file,
            hint="item_id must be the item's id in the dataset the runs answered",
        )
    stats = {
        "file": str(file),
        "sha256": file_sha256(str(file)),
        "rows": len(table),
        "used": len(rows),
        "unknown_items": sum(unknown.values()),
        "unknown_item_ids": sorted(unknown)[:20],
        "invalid": len(invalid),
        "invalid_examples": invalid[:20],
        "unusable": dict(why.most_common()),
        "participants": len({r["participant"] for r in rows}),
    }
    return rows, stats
