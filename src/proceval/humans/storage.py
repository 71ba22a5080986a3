"""Where the web study keeps sessions and answers: SQLite (WAL) or PostgreSQL through SQLAlchemy Core.

Every state change is one short transaction. Stage changes are conditional updates
(``... WHERE stage = :expected``), so a double-submitted form changes state once; answers carry an
idempotency key and a unique ``(session, position)``, so a retried or duplicated request stores one row.
On SQLite every transaction starts with ``BEGIN IMMEDIATE`` (writers queue on the busy timeout instead of
failing on a stale snapshot); the database runs in WAL mode with ``synchronous=NORMAL``, which keeps every
committed answer through a crash of the server process.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Literal

import psycopg
from psycopg.rows import dict_row
from sqlalchemy import (
    Boolean,
    Column,
    Engine,
    Float,
    ForeignKey,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    create_engine,
    event,
    func,
    select,
    update,
)
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, IntegrityError, OperationalError

from proceval.errors import HumansError

SCHEMA_VERSION = 2

STAGES = ("consent", "instructions", "check", "trials", "demographics", "debrief", "completed",
          "declined", "screened_out")
FINAL_STAGES = ("completed", "declined", "screened_out")
PLAN_CACHE_SIZE = 50_000  # parsed participant plans kept in memory (a plan is fixed once assigned)

metadata = MetaData()

migrations_table = Table(
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
    Column("session_id", Integer, ForeignKey("proceval_sessions.id"), nullable=False, index=True),
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
_SQLITE_PRAGMAS = ("PRAGMA journal_mode=WAL", "PRAGMA synchronous=NORMAL", "PRAGMA foreign_keys=ON",
                   "PRAGMA busy_timeout=30000")


def _migration_1(conn: Connection) -> None:
    metadata.create_all(conn, tables=[study_table, sessions_table, answers_table])


def _migration_2(conn: Connection) -> None:
    metadata.create_all(conn, tables=[admin_sessions_table])


# version -> function applied in one transaction; append new versions, never edit old ones
MIGRATIONS: dict[int, Callable[[Connection], None]] = {1: _migration_1, 2: _migration_2}


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def new_token() -> str:
    """An unguessable session token (256 bits)."""
    return secrets.token_urlsafe(32)


@dataclass
class SessionRow:
    id: int
    public_id: str
    participant: str
    study_id: str | None
    prolific_session: str | None
    pilot: bool
    stage: str
    csrf: str
    list_index: int | None
    plan: list[dict[str, Any]] | None
    position: int
    shown_position: int | None
    shown_at: float | None
    check_attempts: int
    completion_code: str | None
    created_at: float
    completed_at: float | None

    @classmethod
    def from_row(cls, row: Any, plans: dict[int, list[dict[str, Any]]] | None = None) -> SessionRow:
        """A session from a database row; ``plans`` caches parsed plans (a plan never changes once set)."""
        return cls.from_mapping(row._mapping, plans)

    @classmethod
    def from_mapping(cls, m: Any, plans: dict[int, list[dict[str, Any]]] | None = None) -> SessionRow:
        """A session from anything indexable by column name (a row mapping, an ``sqlite3.Row``)."""
        plan = None
        if m["plan"]:
            plan = plans.get(m["id"]) if plans is not None else None
            if plan is None:
                plan = json.loads(m["plan"])
                if plans is not None:
                    if len(plans) >= PLAN_CACHE_SIZE:
                        plans.pop(next(iter(plans)))
                    plans[m["id"]] = plan
        return cls(
            id=m["id"], public_id=m["public_id"], participant=m["participant"], study_id=m["study_id"],
            prolific_session=m["prolific_session"], pilot=bool(m["pilot"]), stage=m["stage"], csrf=m["csrf"],
            list_index=m["list_index"], plan=plan,
            position=m["position"], shown_position=m["shown_position"], shown_at=m["shown_at"],
            check_attempts=m["check_attempts"], completion_code=m["completion_code"],
            created_at=m["created_at"], completed_at=m["completed_at"],
        )


class SessionExists(HumansError):
    """A second session for a Prolific participant who already has one (two tabs opened at once)."""


class ConnectionLost(HumansError):
    """The database server dropped the connection (a restart): the pool is renewed, the request may be retried."""


def connection_lost(exc: BaseException) -> bool:
    """Whether ``exc`` means the database server dropped the connection (the request may be run again)."""
    return isinstance(exc, ConnectionLost) or (isinstance(exc, DBAPIError) and exc.connection_invalidated)


@lru_cache(maxsize=64)
def _postgres_sql(sql: str) -> str:
    return sql.replace("?", "%s")


class AnswerConflict(HumansError):
    """An answer that cannot be stored: the idempotency key belongs to another trial or session."""


SaveResult = Literal["saved", "duplicate", "stale"]


def normalise_url(db_url: str) -> str:
    """Give plain ``postgresql://`` URLs the installed psycopg 3 driver."""
    if db_url.startswith("postgresql://") or db_url.startswith("postgres://"):
        return "postgresql+psycopg://" + db_url.split("://", 1)[1]
    return db_url


POSTGRES_POOL_SIZE = 16  # connections kept open to PostgreSQL: the app runs at most this many requests at once


def make_engine(db_url: str) -> Engine:
    """An engine for ``sqlite:///FILE`` (WAL, immediate transactions) or ``postgresql://...``."""
    url_text = normalise_url(db_url)
    try:
        url = make_url(url_text)
    except ArgumentError:
        raise HumansError(f"not a database URL: {db_url!r}", field="--db",
                          hint="use sqlite:///study.db or postgresql://user@host/dbname") from None
    backend = url.get_backend_name()
    if backend == "sqlite":
        if not url.database or url.database == ":memory:":
            raise HumansError("an in-memory SQLite database would lose every answer on exit", field="--db",
                              hint="give a file: sqlite:///study.db")
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30},
                               pool_size=8, max_overflow=8)

        @event.listens_for(engine, "connect")
        def _sqlite_connect(dbapi_conn: Any, _record: Any) -> None:
            dbapi_conn.isolation_level = None  # we issue BEGIN ourselves
            cur = dbapi_conn.cursor()
            for pragma in _SQLITE_PRAGMAS:
                cur.execute(pragma)
            cur.close()

        @event.listens_for(engine, "begin")
        def _sqlite_begin(conn: Connection) -> None:
            # readers take a deferred (shared) transaction; writers queue up front for the write lock
            conn.exec_driver_sql("BEGIN" if conn.get_execution_options().get("proceval_read") else "BEGIN IMMEDIATE")

        return engine
    if backend == "postgresql":
        # every concurrent request keeps a pooled connection: an overflow connection would be opened (with
        # its password exchange) and closed again per request. No ping per checkout (a round trip each):
        # a connection the server dropped fails once, SQLAlchemy then recycles the whole pool and the app
        # retries the request (see app._Handlers._run)
        return create_engine(url, pool_size=POSTGRES_POOL_SIZE, max_overflow=4, pool_recycle=3600)
    raise HumansError(f"unsupported database {backend!r}", field="--db",
                      hint="use sqlite:///study.db or postgresql://user@host/dbname")


class StudyStore:
    """Sessions and answers of one study in one database. Creates or migrates the schema on open."""

    def __init__(self, db_url: str, *, create: bool = True) -> None:
        self.db_url = db_url
        if not create:
            url = make_url(normalise_url(db_url)) if "://" in db_url else None
            if url is not None and url.get_backend_name() == "sqlite" and url.database \
                    and url.database != ":memory:" and not os.path.exists(url.database):
                raise HumansError("no such study database", file=url.database, field="--db",
                                  hint="pass the --db that `proceval serve` used")
        self.engine = make_engine(db_url)
        self.is_postgres = self.engine.dialect.name == "postgresql"
        self._autocommit = self.engine.execution_options(isolation_level="AUTOCOMMIT")  # the same pool
        self._write_lock = None if self.is_postgres else threading.Lock()
        self._plans: dict[int, list[dict[str, Any]]] = {}
        # SQLite: one driver connection per thread for the per-request statements (see _raw)
        self._sqlite_path = None if self.is_postgres else self.engine.url.database
        self._raw_local = threading.local()
        self._raw_conns: list[sqlite3.Connection] = []
        self._raw_guard = threading.Lock()
        try:
            self.migrate()
        except OperationalError as exc:
            shown = make_url(normalise_url(db_url)).render_as_string(hide_password=True)
            raise HumansError(f"cannot open the database {shown}: {exc.orig}", field="--db",
                              hint="check that the server runs and the URL, user and database are right") from None

    @contextmanager
    def _writing(self) -> Iterator[Connection]:
        """A write transaction. On SQLite, writers of this process queue on a lock first: far cheaper than
        SQLite's busy-wait sleeps (other processes still wait on the busy timeout)."""
        if self._write_lock is None:
            with self.engine.begin() as conn:
                yield conn
        else:
            with self._write_lock, self.engine.begin() as conn:
                yield conn

    def _raw(self) -> sqlite3.Connection:
        """This thread's own SQLite driver connection (autocommit mode: transactions are begun explicitly),
        with the same pragmas as the engine's connections."""
        conn: sqlite3.Connection | None = getattr(self._raw_local, "conn", None)
        if conn is None:
            assert self._sqlite_path is not None
            conn = sqlite3.connect(self._sqlite_path, timeout=30, isolation_level=None, check_same_thread=False)
            for pragma in _SQLITE_PRAGMAS:
                conn.execute(pragma)
            conn.row_factory = sqlite3.Row
            self._raw_local.conn = conn
            with self._raw_guard:
                self._raw_conns.append(conn)
        return conn

    @contextmanager
    def _raw_writing(self) -> Iterator[sqlite3.Connection]:
        """An immediate write transaction on this thread's driver connection, behind the process's write lock."""
        assert self._write_lock is not None
        with self._write_lock:
            conn = self._raw()
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")

    @contextmanager
    def _hot(self, *, write: bool) -> Iterator[Callable[[str, tuple[Any, ...]], Any]]:
        """The per-request statements on a driver connection: yields ``run(sql, params)`` → first row (a
        mapping) or None. ``write``: one transaction (committed at the end, rolled back on error); else each
        statement on its own (autocommit). A PostgreSQL connection found broken (a server restart) is
        dropped with the whole pool, and :class:`ConnectionLost` tells the caller to try again."""
        if self._sqlite_path is not None:
            if write:
                with self._raw_writing() as conn:
                    yield lambda sql, params: conn.execute(sql, params).fetchone()
            else:
                conn = self._raw()
                yield lambda sql, params: conn.execute(sql, params).fetchone()
            return
        proxy = self.engine.raw_connection()
        driver: Any = proxy.driver_connection
        cursor = driver.cursor(row_factory=dict_row)

        def run(sql: str, params: tuple[Any, ...]) -> Any:
            cursor.execute(_postgres_sql(sql), params)
            # only a SELECT has rows (asking the cursor builds a description of every column)
            return cursor.fetchone() if sql.startswith("SELECT") else None

        try:
            driver.autocommit = not write
            yield run
            if write:
                driver.commit()
        except BaseException as exc:
            if driver.broken or driver.closed:
                proxy.invalidate(exc)
                self.engine.dispose()  # its other connections went with the server
                raise ConnectionLost("the database connection was lost; try again") from exc
            if write:
                driver.rollback()
            raise
        finally:
            if not (driver.broken or driver.closed):
                driver.autocommit = False  # as the pool hands it out
            proxy.close()

    @contextmanager
    def _reading(self) -> Iterator[Connection]:
        """A read-only transaction (deferred on SQLite, so it never waits for or blocks writers)."""
        with self.engine.connect() as conn:
            conn.execution_options(proceval_read=True)
            with conn.begin():
                yield conn

    # ----------------------------------------------------------------- schema
    def _first(self, statement: Any, params: dict[str, Any] | None = None) -> Any:
        """The first row of one read statement. On PostgreSQL it runs in autocommit mode: one round trip
        instead of three (BEGIN, the statement, COMMIT), and a single statement sees one snapshot anyway."""
        if self.is_postgres:
            with self._autocommit.connect() as conn:
                return conn.execute(statement, params).first()
        with self._reading() as conn:
            return conn.execute(statement, params).first()

    def schema_version(self) -> int:
        with self.engine.begin() as conn:
            return self._version(conn)

    def _version(self, conn: Connection) -> int:
        migrations_table.create(conn, checkfirst=True)
        current = conn.execute(select(func.max(migrations_table.c.version))).scalar()
        return int(current or 0)

    def migrate(self) -> int:
        """Apply every migration newer than the database's version; returns the version reached."""
        with self._writing() as conn:
            if self.is_postgres:  # one migrator at a time across processes
                conn.exec_driver_sql("SELECT pg_advisory_xact_lock(4242017)")
            current = self._version(conn)
            if current > SCHEMA_VERSION:
                raise HumansError(
                    f"the database has schema version {current}, newer than this proceval ({SCHEMA_VERSION})",
                    field="--db", hint="upgrade proceval")
            for version in sorted(v for v in MIGRATIONS if v > current):
                MIGRATIONS[version](conn)
                conn.execute(migrations_table.insert().values(version=version, applied_at=time.time()))
            return max(current, SCHEMA_VERSION)

    def close(self) -> None:
        with self._raw_guard:
            conns, self._raw_conns = self._raw_conns, []
        for conn in conns:
            conn.close()
        self._raw_local = threading.local()
        self.engine.dispose()

    # ------------------------------------------------------------------ study
    def bind_study(self, values: dict[str, str]) -> None:
        """Record what this database serves (dataset hash, lists) or check it serves the same.

        A database holds one study: answers from a different dataset or different lists would not be
        comparable, so a mismatch is an error, not a silent mix.
        """
        with self._writing() as conn:
            stored = dict(conn.execute(select(study_table.c.key, study_table.c.value)).all())
            for key, value in values.items():
                if key not in stored:
                    conn.execute(study_table.insert().values(key=key, value=value))
                elif stored[key] != value:
                    raise HumansError(
                        f"this database already holds a study with a different {key.replace('_', ' ')}",
                        field="--db",
                        hint="serve the same dataset and study config as before, or use a new database file",
                    )

    # --------------------------------------------------------------- sessions
    def create_session(self, *, participant: str | None, study_id: str | None,
                       prolific_session: str | None, pilot: bool) -> tuple[str, SessionRow]:
        """A new session in the consent stage; returns its secret token and row."""
        token = new_token()
        public_id = secrets.token_hex(8)
        now = time.time()
        name = participant or (("pilot-" if pilot else "anon-") + public_id)
        key = f"{study_id or ''}:{participant}" if participant and not pilot else None
        try:
            return token, self._insert_session(token, public_id, name, key, study_id, prolific_session, pilot, now)
        except IntegrityError:
            raise SessionExists("this participant already has a session", field="PROLIFIC_PID") from None

    def _insert_session(self, token: str, public_id: str, name: str, key: str | None, study_id: str | None,
                        prolific_session: str | None, pilot: bool, now: float) -> SessionRow:
        with self._writing() as conn:
            result = conn.execute(sessions_table.insert().values(
                token_hash=hash_token(token), public_id=public_id, participant=name, participant_key=key,
                study_id=study_id, prolific_session=prolific_session, pilot=pilot, stage="consent",
                csrf=secrets.token_urlsafe(24), position=0, check_attempts=0, created_at=now, updated_at=now,
            ))
            assert result.inserted_primary_key is not None
            session_id = int(result.inserted_primary_key[0])
            row = conn.execute(select(sessions_table).where(sessions_table.c.id == session_id)).one()
        return SessionRow.from_row(row)

    def session_by_token(self, token: str) -> SessionRow | None:
        if not token or len(token) > 128:
            return None
        with self._hot(write=False) as run:  # one statement in autocommit mode: its own snapshot
            row = run(_RAW_SESSION_BY_HASH, (hash_token(token),))
        return SessionRow.from_mapping(row, self._plans) if row is not None else None

    def session_by_participant(self, study_id: str | None, participant: str) -> SessionRow | None:
        row = self._first(select(sessions_table).where(
            sessions_table.c.participant_key == f"{study_id or ''}:{participant}"))
        return SessionRow.from_row(row) if row else None

    def rotate_token(self, session_id: int) -> str:
        """A new token for a session (the participant returned in another browser); the old one stops working."""
        token = new_token()
        with self._writing() as conn:
            conn.execute(update(sessions_table).where(sessions_table.c.id == session_id).values(
                token_hash=hash_token(token), updated_at=time.time()))
        return token

    def advance(self, session_id: int, expected: str, stage: str, **values: Any) -> bool:
        """Move a session from ``expected`` to ``stage``; False (nothing changed) if it was not in ``expected``."""
        now = time.time()
        if stage == "completed":
            values.setdefault("completed_at", now)
        with self._writing() as conn:
            result = conn.execute(update(sessions_table).where(
                sessions_table.c.id == session_id, sessions_table.c.stage == expected,
            ).values(stage=stage, updated_at=now, **values))
            return bool(result.rowcount)

    def failed_check(self, session_id: int, max_attempts: int) -> str:
        """Count a failed comprehension check; back to the instructions, or screened out at the limit."""
        with self._writing() as conn:
            row = conn.execute(self._lock(select(sessions_table.c.stage, sessions_table.c.check_attempts)
                                          .where(sessions_table.c.id == session_id))).one()
            if row.stage != "check":
                return str(row.stage)
            attempts = row.check_attempts + 1
            stage = "screened_out" if attempts >= max_attempts else "instructions"
            conn.execute(update(sessions_table).where(sessions_table.c.id == session_id).values(
                check_attempts=attempts, stage=stage, updated_at=time.time()))
            return stage

    def _lock(self, stmt: Any) -> Any:
        return stmt.with_for_update() if self.is_postgres else stmt

    def assign(self, session_id: int, expected: str, n_lists: int, timeout_s: float,
               plan_for: Callable[[int], list[dict[str, Any]]]) -> bool:
        """Put the session in the least-filled list and start its trials.

        Fill counts completed sessions and sessions assigned less than ``timeout_s`` ago (pilot sessions
        do not count). One assignment at a time: an immediate transaction on SQLite, an advisory lock on
        PostgreSQL.
        """
        from proceval.humans.assignment import least_filled

        now = time.time()
        with self._writing() as conn:
            if self.is_postgres:  # serialise assignments (released at commit)
                conn.exec_driver_sql("SELECT pg_advisory_xact_lock(4242018)")
            row = conn.execute(self._lock(select(sessions_table.c.stage, sessions_table.c.pilot)
                                          .where(sessions_table.c.id == session_id))).one()
            if row.stage != expected:
                return False
            s = sessions_table.c
            filled = conn.execute(
                select(s.list_index, func.count()).where(
                    s.list_index.is_not(None), s.pilot.is_(False),
                    (s.stage == "completed") | ((s.assigned_at > now - timeout_s) & (s.stage != "screened_out")),
                ).group_by(s.list_index)
            ).all()
            counts = [0] * n_lists
            for index, count in filled:
                if 0 <= index < n_lists:
                    counts[index] = count
            chosen = least_filled(counts)
            conn.execute(update(sessions_table).where(sessions_table.c.id == session_id).values(
                list_index=chosen, plan=json.dumps(plan_for(chosen)), position=0, stage="trials",
                assigned_at=now, updated_at=now, shown_position=None, shown_at=None))
            return True

    def mark_shown(self, session_id: int, position: int) -> None:
        """Record when a trial was first shown (response times are measured from here, server-side)."""
        with self._writing() as conn:
            conn.execute(update(sessions_table).where(
                sessions_table.c.id == session_id, sessions_table.c.position == position,
                (sessions_table.c.shown_position.is_(None)) | (sessions_table.c.shown_position != position),
            ).values(shown_position=position, shown_at=time.time()))

    # ----------------------------------------------------------- admin sessions
    def create_admin_session(self, admin_key: str, lifetime_s: float) -> str:
        """A new admin session valid for ``lifetime_s``; returns its secret token (only its hash is stored).
        Expired sessions are deleted on the way."""
        token = new_token()
        now = time.time()
        with self._writing() as conn:
            conn.execute(admin_sessions_table.delete().where(admin_sessions_table.c.expires_at <= now))
            conn.execute(admin_sessions_table.insert().values(
                token_hash=hash_token(token), admin_key=admin_key, created_at=now, expires_at=now + lifetime_s))
        return token

    def admin_session_valid(self, token: str, admin_key: str) -> bool:
        """Whether ``token`` is an unexpired admin session opened with the admin token ``admin_key`` derives from."""
        if not token or len(token) > 128:
            return False
        t = admin_sessions_table.c
        return self._first(select(t.token_hash).where(
            t.token_hash == hash_token(token), t.admin_key == admin_key, t.expires_at > time.time())) is not None

    def end_admin_session(self, token: str) -> None:
        """Revoke an admin session (logging out): its cookie stops working everywhere."""
        with self._writing() as conn:
            conn.execute(admin_sessions_table.delete().where(admin_sessions_table.c.token_hash == hash_token(token)))

    # ---------------------------------------------------------------- answers
    def save_answer(self, session_id: int, position: int, *, kind: str, item_id: str, response: str,
                    key: str, n_trials: int, next_stage: str, condition: str | None = None,
                    scenario_id: str | None = None, correct: bool | None = None, comment: str | None = None,
                    option_order: list[str] | None = None, pilot: bool = False) -> SaveResult:
        """Store the answer to trial ``position`` once.

        Returns ``saved`` (stored now), ``duplicate`` (this idempotency key was stored before: a retry or a
        double click) or ``stale`` (the trial was already answered from another page). After the last trial
        the session moves to ``next_stage``.
        """
        for _attempt in range(3):
            try:
                return self._save_answer(session_id, position, kind, item_id, response, key, n_trials,
                                         next_stage, condition, scenario_id, correct, comment, option_order, pilot)
            except (IntegrityError, sqlite3.IntegrityError, psycopg.IntegrityError):
                # the key is taken (a key reused for another trial), or a concurrent request for this trial
                # won the race: look again
                with self._reading() as conn:
                    prior = conn.execute(select(answers_table.c.session_id, answers_table.c.position)
                                         .where(answers_table.c.idempotency_key == key)).first()
                if prior is not None and (prior.session_id != session_id or prior.position != position):
                    raise AnswerConflict("this form was already used for another answer", field="key") from None
        raise AnswerConflict("the answer could not be stored; please submit again")

    def _save_answer(self, session_id: int, position: int, kind: str, item_id: str, response: str, key: str,
                     n_trials: int, next_stage: str, condition: str | None, scenario_id: str | None,
                     correct: bool | None, comment: str | None, option_order: list[str] | None,
                     pilot: bool) -> SaveResult:
        now = time.time()
        with self._hot(write=True) as run:
            row = run(_RAW_SESSION_STATE_LOCKED if self.is_postgres else _RAW_SESSION_STATE, (session_id,))
            if row is None:
                raise AnswerConflict("there is no such session", field="session")
            if row["stage"] != "trials" or row["position"] != position:
                prior = run(_RAW_PRIOR_BY_KEY, (key,))
                if prior is not None:
                    if prior["session_id"] != session_id or prior["position"] != position:
                        raise AnswerConflict("this form was already used for another answer", field="key")
                    return "duplicate"
                if run(_RAW_ANSWERED, (session_id, position)) is not None:
                    return "stale"
                raise AnswerConflict("this trial is not the one the study is at; reload the page", field="position")
            shown_at = row["shown_at"]
            rt_ms = round((now - shown_at) * 1000) if row["shown_position"] == position and shown_at is not None else None
            run(_RAW_INSERT_ANSWER, (
                session_id, position, kind, item_id, condition, scenario_id, response,
                None if correct is None else bool(correct), rt_ms, comment,
                " ".join(option_order) if option_order else None, key, bool(pilot), now))
            stage = next_stage if position + 1 >= n_trials else "trials"
            # the next trial is shown by the redirect that answers this request: its clock starts now
            run(_RAW_ADVANCE_TRIAL, (position + 1, position + 1, now, now, stage, session_id, position))
            return "saved"

    def answered_positions(self, session_id: int) -> list[int]:
        with self._reading() as conn:
            return [int(p) for p in conn.execute(select(answers_table.c.position).where(
                answers_table.c.session_id == session_id).order_by(answers_table.c.position)).scalars()]

    # ----------------------------------------------------------------- reading
    def iter_answers(self) -> Iterator[dict[str, Any]]:
        """Every answer joined with its session, in session then position order."""
        a, s = answers_table.c, sessions_table.c
        stmt = (select(a.session_id, a.position, a.kind, a.item_id, a.condition, a.scenario_id, a.response,
                       a.correct, a.rt_ms, a.comment, a.option_order, a.pilot, a.created_at, s.participant,
                       s.public_id, s.study_id, s.prolific_session, s.list_index, s.stage)
                .join(sessions_table, a.session_id == s.id).order_by(a.session_id, a.position))
        with self._reading() as conn:
            for row in conn.execute(stmt):
                yield dict(row._mapping)

    def sessions(self) -> list[dict[str, Any]]:
        with self._reading() as conn:
            return [dict(r._mapping) for r in conn.execute(select(sessions_table).order_by(sessions_table.c.id))]

    def count_answers(self) -> int:
        with self._reading() as conn:
            return int(conn.execute(select(func.count()).select_from(answers_table)).scalar() or 0)
