"""The web study's two hot requests on PostgreSQL, on the event loop: the session lookup and the one-statement
answer, through psycopg's async API and an async connection pool.

Sending them to worker threads cost more than the statements themselves (the event loop → thread → event
loop hop, and GIL hand-offs between threads). Everything else (a duplicate or stale answer, the other stages,
admin, export) stays on :class:`~proceval.humans.storage.StudyStore`'s synchronous connections.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any

import psycopg
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response

from proceval.humans.database import POSTGRES_POOL_SIZE, ConnectionLost, _postgres_sql, connection_lost
from proceval.humans.http import SESSION_COOKIE, HttpError
from proceval.humans.pages import Study
from proceval.humans.schema import _RAW_SESSION_BY_HASH, PG_SAVE_ANSWER, answer_columns, pg_save_answer_params
from proceval.humans.storage import SessionRow, StudyStore, hash_token

_SESSION_SQL = _postgres_sql(_RAW_SESSION_BY_HASH)
_SAVE_SQL = _postgres_sql(PG_SAVE_ANSWER)


class AsyncHotPath:
    """Async connections (autocommit, so each statement is its own transaction, as on the sync path) for the
    session lookup and the usual answer. Opened and closed by the app's lifespan, on the loop that serves."""

    def __init__(self, store: StudyStore) -> None:
        self.store = store
        args, kwargs = store.engine.dialect.create_connect_args(store.engine.url)
        conninfo = args[0] if args else ""
        self.pool: AsyncConnectionPool[psycopg.AsyncConnection[Any]] = AsyncConnectionPool(
            conninfo, kwargs={**kwargs, "autocommit": True, "row_factory": dict_row},
            min_size=2, max_size=POSTGRES_POOL_SIZE, open=False, timeout=10)
        self.opened = False

    async def open(self) -> None:
        await self.pool.open()
        self.opened = True

    async def close(self) -> None:
        self.opened = False
        await self.pool.close()

    async def _one(self, sql: str, params: tuple[Any, ...]) -> Any:
        """The first row of one statement, or None. A connection the server dropped (a restart) makes the pool
        check its idle connections, and :class:`ConnectionLost` tells the caller to try once more."""
        try:
            async with self.pool.connection() as conn:
                cursor = await conn.execute(sql, params, prepare=True)
                return await cursor.fetchone()
        except psycopg.IntegrityError:
            return None  # a unique key taken: the caller's synchronous path tells which
        except psycopg.OperationalError as exc:
            await self.pool.check()  # drop the idle connections that went with the server
            raise ConnectionLost("the database connection was lost; try again") from exc

    async def session_by_token(self, token: str) -> SessionRow | None:
        if not token or len(token) > 128:
            return None
        row = await self._one(_SESSION_SQL, (hash_token(token),))
        return SessionRow.from_mapping(row, self.store._plans) if row is not None else None

    async def save_answer(self, session_id: int, position: int, *, kind: str, item_id: str, response: str,
                          key: str, n_trials: int, next_stage: str, condition: str | None = None,
                          scenario_id: str | None = None, correct: bool | None = None, comment: str | None = None,
                          option_order: list[str] | None = None, pilot: bool = False) -> bool:
        """Store the usual answer (the session is at this trial, the key is new) in one statement, the same one
        :meth:`StudyStore.save_answer` runs first. False: not stored; the caller runs ``StudyStore.save_answer``,
        which tells a duplicate from a stale or conflicting answer."""
        now = time.time()
        correct_value, order, stage = answer_columns(position, n_trials, next_stage, correct, option_order)
        row = await self._one(_SAVE_SQL, pg_save_answer_params(session_id, position, kind, item_id, condition,
                                                               scenario_id, response, correct_value, comment, order,
                                                               key, pilot, now, stage))
        return row is not None


class LoopHandlers:
    """The app's handlers for the hot requests on PostgreSQL (mixed into ``proceval.humans.app._Handlers``)."""

    hot: AsyncHotPath | None
    study: Study
    _run: Callable[..., Awaitable[Response]]
    _show: Callable[..., Response]
    _session: Callable[[Request], SessionRow | None]
    _checked_session: Callable[[Request, FormData], SessionRow]
    _answer_args: Callable[[Request, SessionRow, FormData], dict[str, Any] | Response]
    _save: Callable[[dict[str, Any]], Response]
    _see: Callable[..., Response]

    @staticmethod
    async def _retrying(fn: Callable[..., Awaitable[Any]], *args: Any, **kwargs: Any) -> Any:
        try:
            return await fn(*args, **kwargs)
        except Exception as exc:
            if not connection_lost(exc):
                raise
            # the server dropped a pooled connection (a restart): the pool is renewed, try once more
            # (a transaction that failed stored nothing; answers carry idempotency keys)
            return await fn(*args, **kwargs)

    async def _on_loop(self, request: Request, fn: Callable[..., Awaitable[Response]], *args: Any) -> Response:
        """PostgreSQL: look the session up on the event loop (async connections), then ``fn``."""
        assert self.hot is not None
        try:
            token = request.cookies.get(SESSION_COOKIE) or ""
            request.scope["proceval.session"] = await self._retrying(self.hot.session_by_token, token)
            return await fn(request, *args)
        except HttpError as exc:
            return self.study.error(exc.status, exc.message)

    async def _show_on_loop(self, request: Request) -> Response:
        session = self._session(request)
        if session is not None and session.stage == "trials" and session.shown_position != session.position:
            return await self._run(self._show, request)  # records when the trial was first shown: a write
        return self._show(request)  # rendering only

    async def _answer_on_loop(self, request: Request, form: FormData) -> Response:
        """PostgreSQL: the usual answer in one statement on the event loop; the rest (a duplicate, a stale
        page, a conflict) in a worker thread, on the synchronous path."""
        assert self.hot is not None
        args = self._answer_args(request, self._checked_session(request, form), form)
        if isinstance(args, Response):
            return args
        if await self._retrying(self.hot.save_answer, **args):
            return self._see()
        return await self._run(self._save, args)
