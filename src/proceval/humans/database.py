"""Opening a study database (SQLite in WAL mode, or PostgreSQL) and running its transactions: the engine,
connection errors, and the raw per-thread SQLite connections of the hot path.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import lru_cache
from typing import Any

import psycopg
from psycopg.rows import dict_row
from sqlalchemy import (
    Engine,
    create_engine,
    event,
)
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError

from proceval.errors import HumansError
from proceval.humans.schema import _SQLITE_PRAGMAS


class ConnectionLost(HumansError):
    """The database server dropped the connection (a restart): the pool is renewed, the request may be retried."""


def connection_lost(exc: BaseException) -> bool:
    """Whether ``exc`` means the database server dropped the connection (the request may be run again)."""
    return isinstance(exc, ConnectionLost) or (isinstance(exc, DBAPIError) and exc.connection_invalidated)


@lru_cache(maxsize=64)
def _postgres_sql(sql: str) -> str:
    return sql.replace("?", "%s")


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
        # for the less frequent statements (the per-request ones have connections of their own: see
        # Database._hot). No ping per checkout (a round trip each): a connection the server dropped fails
        # once, SQLAlchemy then recycles the whole pool and the app retries the request (app._Handlers._run)
        return create_engine(url, pool_size=8, max_overflow=4, pool_recycle=3600)
    raise HumansError(f"unsupported database {backend!r}", field="--db",
                      hint="use sqlite:///study.db or postgresql://user@host/dbname")


class Database:
    """One study database (SQLite file or PostgreSQL): the engine, its connections and transactions.

    SQLite: writers serialise on a lock and ``BEGIN IMMEDIATE``; hot statements run on one raw driver
    connection per thread. PostgreSQL: hot statements on driver connections of their own (at most
    ``POSTGRES_POOL_SIZE``), the rest through SQLAlchemy's pool.
    """

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
        # SQLite: one driver connection per thread for the per-request statements (see _raw)
        self._sqlite_path = None if self.is_postgres else self.engine.url.database
        self._raw_local = threading.local()
        self._raw_conns: list[sqlite3.Connection] = []
        self._raw_guard = threading.Lock()
        # PostgreSQL: idle driver connections for the per-request statements (see _hot), last in first out
        self._pg_idle: list[psycopg.Connection[Any]] = []

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
        # PostgreSQL: a driver connection of our own in autocommit mode. SQLAlchemy's pool cost four times
        # the CPU of the statement itself per checkout (events, a rollback on return, autocommit switches).
        # list.pop and append are atomic, so threads share the idle list without a lock; it holds at most as
        # many connections as requests ever ran at once (the app's limiter: POSTGRES_POOL_SIZE).
        try:
            pg = self._pg_idle.pop()
        except IndexError:
            pg = self._pg_connect()
        cursor = pg.cursor()

        def run(sql: str, params: tuple[Any, ...]) -> Any:
            cursor.execute(_postgres_sql(sql), params)
            # only a query has rows (asking the cursor builds a description of every column)
            return cursor.fetchone() if sql.startswith(("SELECT", "WITH")) else None

        try:
            if write:
                with pg.transaction():
                    yield run
            else:
                yield run
        except BaseException as exc:
            if pg.broken or pg.closed:
                pg.close()
                idle, self._pg_idle = self._pg_idle, []
                for other in idle:  # they went with the server
                    other.close()
                self.engine.dispose()
                raise ConnectionLost("the database connection was lost; try again") from exc
            raise
        finally:
            if not pg.closed:
                self._pg_idle.append(pg)

    def _pg_connect(self) -> psycopg.Connection[Any]:
        args, kwargs = self.engine.dialect.create_connect_args(self.engine.url)
        try:
            return psycopg.connect(*args, **kwargs, autocommit=True, row_factory=dict_row)
        except psycopg.OperationalError as exc:  # the server is down or restarting: the request may be retried
            raise ConnectionLost("cannot connect to the database; try again") from exc

    @contextmanager
    def _reading(self) -> Iterator[Connection]:
        """A read-only transaction (deferred on SQLite, so it never waits for or blocks writers)."""
        with self.engine.connect() as conn:
            conn.execution_options(proceval_read=True)
            with conn.begin():
                yield conn

    def _first(self, statement: Any, params: dict[str, Any] | None = None) -> Any:
        """The first row of one read statement. On PostgreSQL it runs in autocommit mode: one round trip
        instead of three (BEGIN, the statement, COMMIT), and a single statement sees one snapshot anyway."""
        if self.is_postgres:
            with self._autocommit.connect() as conn:
                return conn.execute(statement, params).first()
        with self._reading() as conn:
            return conn.execute(statement, params).first()

    def close(self) -> None:
        with self._raw_guard:
            conns, self._raw_conns = self._raw_conns, []
        for conn in conns:
            conn.close()
        self._raw_local = threading.local()
        idle, self._pg_idle = self._pg_idle, []
        for pg in idle:
            pg.close()
        self.engine.dispose()
