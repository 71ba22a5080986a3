"""The study database's tables (what the Alembic migrations in ``migrations/`` build) and the raw SQL of the
per-request hot path.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    Boolean,
    Column,
    Float,
    ForeignKey,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

STAGES = ("consent", "instructions", "check", "trials", "demographics", "debrief", "completed",
          "declined", "screened_out")
FINAL_STAGES = ("completed", "declined", "screened_out")
PLAN_CACHE_SIZE = 50_000  # parsed participant plans kept in memory (a plan is fixed once assigned)

metadata = MetaData()

# the hand-rolled migrations' version table: Alembic's revision v3 leaves version 3 in it, so that proceval
# releases from before Alembic refuse the database (see migrations/versions/v3_alembic.py)
legacy_versions_table = Table(
    "proceval_migrations", metadata,
    Column("version", Integer, primary_key=True, autoincrement=False),
    Column("applied_at", Float, nullable=False),
)

study_table = Table(
    "proceval_study", metadata,
    Column("key", String(64), primary_key=True),
    Column("value", Text, nullable=False),
)

sessions_table = Table(
    "proceval_sessions", metadata,
    Column("id", Integer, primary_key=True),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("public_id", String(32), nullable=False, unique=True),
    Column("participant", String(128), nullable=False),
    Column("participant_key", String(200), unique=True),  # study_id + Prolific PID; NULL when anonymous
    Column("study_id", String(64)),
    Column("prolific_session", String(64)),
    Column("pilot", Boolean, nullable=False, default=False),
    Column("stage", String(16), nullable=False),
    Column("csrf", String(64), nullable=False),
    Column("list_index", Integer, index=True),
    Column("plan", Text),
    Column("position", Integer, nullable=False, default=0),
    Column("shown_position", Integer),
    Column("shown_at", Float),
    Column("check_attempts", Integer, nullable=False, default=0),
    Column("demographics", Text),
    Column("completion_code", String(64)),
    Column("created_at", Float, nullable=False),
    Column("assigned_at", Float),
    Column("updated_at", Float, nullable=False),
    Column("completed_at", Float),
)

answers_table = Table(
    "proceval_answers", metadata,
    Column("id", Integer, primary_key=True),
    # found by session through the unique key below, which starts with it (no index of its own: see migration v4)
    Column("session_id", Integer, ForeignKey("proceval_sessions.id"), nullable=False),
    Column("position", Integer, nullable=False),
    Column("kind", String(8), nullable=False),  # item | check
    Column("item_id", String(128), nullable=False),
    Column("condition", String(200)),
    Column("scenario_id", String(128)),
    Column("response", Text, nullable=False),
    Column("correct", Boolean),
    Column("rt_ms", Integer),
    Column("comment", Text),
    Column("option_order", Text),
    Column("idempotency_key", String(64), nullable=False, unique=True),
    Column("pilot", Boolean, nullable=False, default=False),
    Column("created_at", Float, nullable=False),
    UniqueConstraint("session_id", "position", name="uq_proceval_answer_position"),
)

# researchers logged in on /admin: the cookie holds a random token, this table its hash and expiry, so that
# logging out revokes it and every worker process sees the same sessions
admin_sessions_table = Table(
    "proceval_admin_sessions", metadata,
    Column("token_hash", String(64), primary_key=True),
    Column("admin_key", String(64), nullable=False),  # derived from the admin token: a new token ends old sessions
    Column("created_at", Float, nullable=False),
    Column("expires_at", Float, nullable=False, index=True),
)


# The per-request statements (session lookup, answer save) as raw SQL with ``?`` placeholders, run on the
# driver's connection directly on both backends: SQLAlchemy's per-statement work (events, compiled-cache
# lookups, result objects) cost more than the database itself. PostgreSQL gets ``%s`` (see _postgres_sql).
_SESSION_COLUMNS = ", ".join(c.name for c in sessions_table.columns)
_RAW_SESSION_BY_HASH = f"SELECT {_SESSION_COLUMNS} FROM proceval_sessions WHERE token_hash = ?"
_RAW_SESSION_STATE = "SELECT position, stage, shown_position, shown_at FROM proceval_sessions WHERE id = ?"
# PostgreSQL: lock the session row first, so a concurrent request with the same key then sees it stored
_RAW_SESSION_STATE_LOCKED = _RAW_SESSION_STATE + " FOR UPDATE"
_RAW_PRIOR_BY_KEY = "SELECT session_id, position FROM proceval_answers WHERE idempotency_key = ?"
_RAW_ANSWERED = "SELECT id FROM proceval_answers WHERE session_id = ? AND position = ?"
_RAW_INSERT_ANSWER = (
    "INSERT INTO proceval_answers (session_id, position, kind, item_id, condition, scenario_id, response, "
    "correct, rt_ms, comment, option_order, idempotency_key, pilot, created_at) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
_RAW_ADVANCE_TRIAL = ("UPDATE proceval_sessions SET position = ?, shown_position = ?, shown_at = ?, updated_at = ?, "
                      "stage = ? WHERE id = ? AND position = ?")


# the session as the answer left it (the server shows the next page from it: see pg_async.AsyncHotPath.fresh)
_SESSION_COLUMNS_AFTER = ", ".join(f"proceval_sessions.{c.name}" for c in sessions_table.columns)


def _pg_save_answer(check_token: bool) -> str:
    token = "token_hash = ? AND " if check_token else ""
    return (
        "WITH s AS (SELECT id, shown_position, shown_at FROM proceval_sessions "
        f"WHERE id = ? AND {token}stage = 'trials' AND position = ? FOR UPDATE), "
        "ins AS (INSERT INTO proceval_answers (session_id, position, kind, item_id, condition, scenario_id, response, "
        "correct, rt_ms, comment, option_order, idempotency_key, pilot, created_at) "
        "SELECT s.id, ?, ?, ?, ?, ?, ?, ?, "
        "CASE WHEN s.shown_position = ? THEN round((?::float8 - s.shown_at) * 1000)::int END, ?, ?, ?, ?, ? FROM s "
        "ON CONFLICT DO NOTHING RETURNING session_id) "
        "UPDATE proceval_sessions SET position = ?, shown_position = ?, shown_at = ?, updated_at = ?, stage = ? "
        f"FROM ins WHERE proceval_sessions.id = ins.session_id RETURNING {_SESSION_COLUMNS_AFTER}")


# PostgreSQL: the usual answer in one statement, one round trip, its own transaction (instead of five: BEGIN,
# lock the session, insert, advance, COMMIT). It stores nothing (no row back) when the session is not at this
# trial or the key or trial is taken; storage then finds out which, the long way. Stored, it returns the session
# as the answer left it.
PG_SAVE_ANSWER = _pg_save_answer(check_token=False)
# The same for a session the server process knew from an earlier request, so the answer needs no lookup first:
# the statement checks the token still belongs to the session (a rotated token stores nothing).
PG_SAVE_ANSWER_BY_TOKEN = _pg_save_answer(check_token=True)


def answer_columns(position: int, n_trials: int, next_stage: str, correct: bool | None,
                   option_order: list[str] | None) -> tuple[bool | None, str | None, str]:
    """An answer's stored correctness and option order, and the stage its session moves to (both save paths)."""
    return (None if correct is None else bool(correct), " ".join(option_order) if option_order else None,
            next_stage if position + 1 >= n_trials else "trials")


def pg_save_answer_params(session_id: int, position: int, kind: str, item_id: str, condition: str | None,
                          scenario_id: str | None, response: str, correct: bool | None, comment: str | None,
                          order: str | None, key: str, pilot: bool, now: float, stage: str,
                          token_hash: str | None = None) -> tuple[Any, ...]:
    """PG_SAVE_ANSWER's parameters in its order (the sync and the async path both run it); with ``token_hash``,
    PG_SAVE_ANSWER_BY_TOKEN's."""
    session = (session_id,) if token_hash is None else (session_id, token_hash)
    return (*session, position, position, kind, item_id, condition, scenario_id, response, correct, position,
            now, comment, order, key, bool(pilot), now, position + 1, position + 1, now, now, stage)


_SQLITE_PRAGMAS = ("PRAGMA journal_mode=WAL", "PRAGMA synchronous=NORMAL", "PRAGMA foreign_keys=ON",
                   "PRAGMA busy_timeout=30000")
