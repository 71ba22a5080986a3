"""Storage on SQLite and on a real PostgreSQL server: schema versions, idempotent answers, assignment."""

from __future__ import annotations

import threading
import time

import pytest
from sqlalchemy import update

from proceval.errors import HumansError
from proceval.humans.storage import (
    AnswerConflict,
    StudyStore,
    hash_token,
    sessions_table,
)

PLAN = [{"item": f"item{i}", "order": ["a", "b"]} for i in range(3)]


def started(store: StudyStore, **kwargs: object) -> int:
    """A session in the trials stage with PLAN."""
    _, row = store.create_session(participant=None, study_id=None, prolific_session=None, pilot=False)
    store.advance(row.id, "consent", "instructions")
    assert store.assign(row.id, "instructions", 1, 3600, lambda j: PLAN)
    return row.id


def save(store: StudyStore, session_id: int, position: int, key: str, response: str = "a") -> str:
    return store.save_answer(session_id, position, kind="item", item_id=f"item{position}", response=response,
                             key=key, n_trials=len(PLAN), next_stage="debrief", condition="c", scenario_id="s")


def test_sqlite_runs_in_wal_mode(sqlite_url: str) -> None:
    store = StudyStore(sqlite_url)
    with store.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
    store.close()


def test_bad_database_urls_are_clear_errors(tmp_path) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(HumansError, match="in-memory"):
        StudyStore("sqlite://")
    with pytest.raises(HumansError, match="unsupported database"):
        StudyStore("mysql://u@localhost/db")
    with pytest.raises(HumansError, match="cannot open the database") as info:
        StudyStore("postgresql://nobody:secret-pw@127.0.0.1:1/none")
    assert "secret-pw" not in str(info.value)


def test_a_database_serves_one_study(db_url: str) -> None:
    store = StudyStore(db_url)
    store.bind_study({"dataset": "abc", "lists": "l1"})
    store.bind_study({"dataset": "abc", "lists": "l1"})  # same study restarted
    with pytest.raises(HumansError, match="different dataset"):
        store.bind_study({"dataset": "xyz", "lists": "l1"})
    store.close()


def test_tokens_are_unguessable_and_only_their_hash_is_stored(db_url: str) -> None:
    store = StudyStore(db_url)
    tokens = [store.create_session(participant=None, study_id=None, prolific_session=None, pilot=False)[0]
              for _ in range(20)]
    assert len(set(tokens)) == 20 and all(len(t) >= 40 for t in tokens)
    stored = {s["token_hash"] for s in store.sessions()}
    assert not stored & set(tokens)
    assert stored == {hash_token(t) for t in tokens}
    assert store.session_by_token(tokens[0]) is not None
    assert store.session_by_token(tokens[0] + "x") is None
    store.close()


def test_answers_are_idempotent(db_url: str) -> None:
    store = StudyStore(db_url)
    sid = started(store)
    assert save(store, sid, 0, "k" * 20) == "saved"
    assert save(store, sid, 0, "k" * 20) == "duplicate"  # double click / retried request
    assert save(store, sid, 0, "j" * 20) == "stale"  # the same trial from an older page
    with pytest.raises(AnswerConflict):  # a key reused for a different trial
        save(store, sid, 1, "k" * 20)
    with pytest.raises(AnswerConflict):  # skipping ahead
        save(store, sid, 2, "m" * 20)
    assert store.answered_positions(sid) == [0]
    assert save(store, sid, 1, "n" * 20) == "saved"
    assert save(store, sid, 2, "o" * 20) == "saved"
    sessions = {s["id"]: s for s in store.sessions()}
    assert sessions[sid]["stage"] == "debrief" and sessions[sid]["position"] == 3
    assert store.count_answers() == 3
    store.close()


def test_concurrent_duplicates_store_one_answer(db_url: str) -> None:
    store = StudyStore(db_url)
    sid = started(store)
    results: list[str] = []
    barrier = threading.Barrier(6)

    def submit() -> None:
        barrier.wait()
        results.append(save(store, sid, 0, "same-key-" + "x" * 12))

    threads = [threading.Thread(target=submit) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == ["duplicate"] * 5 + ["saved"]
    assert store.count_answers() == 1
    store.close()


def test_response_time_is_measured_from_when_the_trial_was_shown(db_url: str) -> None:
    store = StudyStore(db_url)
    sid = started(store)
    store.mark_shown(sid, 0)
    with store.engine.begin() as conn:  # pretend the page was shown 1.5 s ago
        conn.execute(update(sessions_table).where(sessions_table.c.id == sid)
                     .values(shown_at=time.time() - 1.5))
    store.mark_shown(sid, 0)  # a reload keeps the first time shown
    save(store, sid, 0, "r" * 20)
    rt = next(store.iter_answers())["rt_ms"]
    assert 1400 <= rt <= 5000
    store.close()


def test_assignment_fills_the_least_filled_list_and_expires_stale_sessions(db_url: str) -> None:
    store = StudyStore(db_url)

    def newcomer(pilot: bool = False) -> int:
        _, row = store.create_session(participant=None, study_id=None, prolific_session=None, pilot=pilot)
        store.advance(row.id, "consent", "instructions")
        assert store.assign(row.id, "instructions", 3, 600, lambda j: PLAN)
        return row.id

    def list_of(sid: int) -> int:
        return next(s["list_index"] for s in store.sessions() if s["id"] == sid)

    first = [newcomer() for _ in range(3)]
    assert [list_of(s) for s in first] == [0, 1, 2]
    assert list_of(newcomer(pilot=True)) == 0  # pilots are placed but not counted
    fourth = newcomer()
    assert list_of(fourth) == 0
    # list 1's participant started long ago and never finished: their place is freed
    with store.engine.begin() as conn:
        conn.execute(update(sessions_table).where(sessions_table.c.id == first[1])
                     .values(assigned_at=time.time() - 3600))
    assert list_of(newcomer()) == 1
    # a completed session keeps counting however old it is
    with store.engine.begin() as conn:
        conn.execute(update(sessions_table).where(sessions_table.c.id == first[2])
                     .values(assigned_at=time.time() - 3600, stage="completed"))
    assert list_of(newcomer()) == 1  # counts now: list0 2, list1 1, list2 1 -> lowest index among the emptiest
    # assignment happens once: a second request for the same session changes nothing
    assert not store.assign(fourth, "instructions", 3, 600, lambda j: PLAN)
    store.close()


def test_concurrent_arrivals_are_spread_over_lists(db_url: str) -> None:
    store = StudyStore(db_url)
    ids = []
    for _ in range(8):
        _, row = store.create_session(participant=None, study_id=None, prolific_session=None, pilot=False)
        store.advance(row.id, "consent", "instructions")
        ids.append(row.id)
    barrier = threading.Barrier(len(ids))

    def arrive(sid: int) -> None:
        barrier.wait()
        store.assign(sid, "instructions", 4, 600, lambda j: PLAN)

    threads = [threading.Thread(target=arrive, args=(sid,)) for sid in ids]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    counts = sorted(s["list_index"] for s in store.sessions())
    assert counts == [0, 0, 1, 1, 2, 2, 3, 3]
    store.close()
