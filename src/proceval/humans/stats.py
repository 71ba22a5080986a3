"""What the admin page shows: progress per list and condition, completion and attention rates, median time."""

from __future__ import annotations

import statistics
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

from proceval.humans.storage import StudyStore


@dataclass
class StudyProgress:
    sessions: int = 0
    stages: dict[str, int] = field(default_factory=dict)
    lists: list[dict[str, Any]] = field(default_factory=list)  # index, items, completed, active, stale
    conditions: list[dict[str, Any]] = field(default_factory=list)  # name, answers, participants
    completion_rate: float | None = None  # completed / assigned
    attention_pass_rate: float | None = None  # check answers correct / check answers
    participants_passing_all_checks: float | None = None
    median_minutes: float | None = None
    answers: int = 0
    pilot_sessions: int = 0


def study_progress(store: StudyStore, list_sizes: list[int], timeout_s: float) -> StudyProgress:
    """Summarise non-pilot sessions and answers (pilot sessions are only counted)."""
    now = time.time()
    progress = StudyProgress()
    sessions = store.sessions()
    real = [s for s in sessions if not s["pilot"]]
    progress.pilot_sessions = len(sessions) - len(real)
    progress.sessions = len(real)
    progress.stages = dict(Counter(s["stage"] for s in real))
    lists = [{"index": j, "items": n, "completed": 0, "active": 0, "stale": 0} for j, n in enumerate(list_sizes)]
    assigned = 0
    durations = []
    for s in real:
        if s["list_index"] is None or not 0 <= s["list_index"] < len(lists):
            continue
        assigned += 1
        entry = lists[s["list_index"]]
        if s["stage"] == "completed":
            entry["completed"] += 1
            if s["completed_at"]:
                durations.append((s["completed_at"] - s["created_at"]) / 60)
        elif s["assigned_at"] and s["assigned_at"] > now - timeout_s:
            entry["active"] += 1
        else:
            entry["stale"] += 1
    progress.lists = lists
    completed = sum(e["completed"] for e in lists)
    progress.completion_rate = completed / assigned if assigned else None
    progress.median_minutes = statistics.median(durations) if durations else None

    per_condition: dict[str, int] = Counter()
    people: dict[str, set[int]] = defaultdict(set)
    checks = correct = 0
    session_ok: dict[int, bool] = {}
    for a in store.iter_answers():
        if a["pilot"]:
            continue
        progress.answers += 1
        if a["kind"] == "check":
            checks += 1
            correct += bool(a["correct"])
            session_ok[a["session_id"]] = session_ok.get(a["session_id"], True) and bool(a["correct"])
        else:
            name = a["condition"] or "(none)"
            per_condition[name] += 1
            people[name].add(a["session_id"])
    progress.conditions = [{"name": n, "answers": per_condition[n], "participants": len(people[n])}
                           for n in sorted(per_condition)]
    progress.attention_pass_rate = correct / checks if checks else None
    progress.participants_passing_all_checks = (
        sum(session_ok.values()) / len(session_ok) if session_ok else None)
    return progress
