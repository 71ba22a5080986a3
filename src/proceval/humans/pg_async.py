"""The web study's two hot requests on PostgreSQL, on the event loop: the session lookup and the one-statement
answer, through asyncpg and its connection pool.

Sending them to worker threads cost more than the statements themselves (the event loop → thread → event
loop hop, and GIL hand-offs between threads); asyncpg then spends about half the client CPU per statement
that psycopg's async API and pool do (``benchmarks/study_load.py``). Everything else (a duplicate or stale
answer, the other stages, admin, export) stays on :class:`~proceval.humans.storage.StudyStore`'s synchronous
connections.
"""

from __future__ import annotations

import itertools
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response

from proceval.humans.database import POSTGRES_POOL_SIZE, ConnectionLost, connection_lost
from proceval.humans.http import SESSION_COOKIE, HttpError
from proceval.humans.pages import Study
from proceval.humans.schema import (
    _RAW_SESSION_BY_HASH,
    PG_SAVE_ANSWER_BY_TOKEN,
    answer_columns,
    pg_save_answer_params,
)
from proceval.humans.storage import SessionRow, StudyStore, token_digest

_log = logging.getLogger(__name__)


def _numbered(sql: str) -> str:
    """``?`` placeholders as asyncpg's ``$1, $2, ...`` (the statements here have no ``?`` in literals)."""
    parts = sql.split("?")
    return "".join(part + (f"${i + 1}" if i < len(parts) - 1 else "") for i, part in enumerate(parts))


_SESSION_SQL = _numbered(_RAW_SESSION_BY_HASH)
_SAVE_BY_TOKEN_SQL = _numbered(PG_SAVE_ANSWER_BY_TOKEN)
KNOWN_SESSIONS = 20_000  # sessions in their trials a server process remembers (about 1 KB each; plans are shared)
FRESH_SECONDS = 5.0  # how long the session an answer left is shown without a lookup (a redirect takes milliseconds)
# what a dropped connection looks like from asyncpg: a server restart, a terminated backend, a reset socket,
# or a protocol left mid-operation by one of these (InternalClientError)
_LOST = (asyncpg.PostgresConnectionError, asyncpg.InterfaceError, asyncpg.exceptions.AdminShutdownError,
         asyncpg.exceptions.InternalClientError, ConnectionError, OSError)


async def _keep(connection: asyncpg.Connection) -> None:
    """Return a connection to the pool as it is: it only ran single autocommit statements, so there is no
    session state to reset (asyncpg's default reset costs a round trip per use)."""


class AsyncHotPath:
    """Async connections (each statement outside a transaction block is its own transaction, as on the sync
    path) for the session lookup and the usual answer. Opened and closed by the app's lifespan, on the loop that
    serves; statements are prepared once per connection (asyncpg's statement cache)."""

    def __init__(self, store: StudyStore) -> None:
        self.store = store
        self.dsn = store.engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
        self.pool: asyncpg.Pool | None = None
        self.statements = 0  # statements run (tests check the hot requests came this way)
        # sessions in their trials that this process looked up, by token hash. What an answer is checked
        # against (the session's id, CSRF token and plan) never changes once the trials start, so an answer
        # from a known session is stored without looking the session up first; its statement checks the rest
        # (the token, the stage, the position) in the database, and anything else goes the long way.
        self.known: dict[str, SessionRow] = {}
        # the session as this process's answer statement left it, by token hash, with the query of the redirect
        # that answer sent and when: the GET following exactly that redirect (milliseconds later, on the
        # browser's connection to this process) shows the page from it without a lookup, once
        self.fresh: dict[str, tuple[bytes, float, SessionRow]] = {}
        self._answers = itertools.count(1)  # numbers the redirects of the answers stored here

    @property
    def opened(self) -> bool:
        return self.pool is not None

    async def open(self) -> None:
        # timeout bounds connecting and command_timeout each statement: a database that stops answering fails
        # the request within seconds; acquiring then needs no timeout of its own (a timer per request)
        self.pool = await asyncpg.create_pool(self.dsn, min_size=2, max_size=POSTGRES_POOL_SIZE, reset=_keep,
                                              timeout=10, command_timeout=10)

    async def close(self) -> None:
        pool, self.pool = self.pool, None
        if pool is not None:
            await pool.close()

    async def _one(self, sql: str, params: tuple[Any, ...]) -> Any:
        """The first row of one statement, or None. A connection the server dropped (a restart) makes the pool
        check its idle connections, and :class:`ConnectionLost` tells the caller to try once more."""
        assert self.pool is not None
        self.statements += 1
        try:
            async with self.pool.acquire() as conn:
                return await conn.fetchrow(sql, *params)
        except asyncpg.IntegrityConstraintViolationError:
            return None  # a unique key taken: the caller's synchronous path tells which
        except _LOST as exc:
            await self.pool.expire_connections()  # the idle ones went with the server: replace them on next use
            raise ConnectionLost("the database connection was lost; try again") from exc

    async def session_by_digest(self, digest: str | None, *, query: bytes | None = None) -> SessionRow | None:
        """The session of the token with this hash. ``query``: a page's, which is shown from the session an
        answer just left when it is that answer's redirect."""
        if digest is None:
            return None
        fresh = self.fresh.pop(digest, None)
        if fresh is not None and fresh[0] == query and time.monotonic() - fresh[1] < FRESH_SECONDS:
            return fresh[2]
        row = await self._one(_SESSION_SQL, (digest,))
        if row is None:
            self.known.pop(digest, None)
            return None
        session = SessionRow.from_mapping(row, self.store._plans)
        if session.stage == "trials" and session.plan is not None:
            if digest not in self.known and len(self.known) >= KNOWN_SESSIONS:
                self.known.pop(next(iter(self.known)))  # the longest known
            self.known[digest] = session
        else:
            self.known.pop(digest, None)
        return session

    def known_session(self, digest: str | None) -> SessionRow | None:
        """The token's session as last looked up by this process, if it was in its trials."""
        return None if digest is None else self.known.get(digest)

    async def save_answer(self, session_id: int, position: int, *, kind: str, item_id: str, response: str,
                          key: str, n_trials: int, next_stage: str, condition: str | None = None,
                          scenario_id: str | None = None, correct: bool | None = None, comment: str | None = None,
                          option_order: list[str] | None = None, pilot: bool = False, token_hash: str) -> str | None:
        """Store the usual answer (the session is at this trial, the key is new) in one statement, the one
        :meth:`StudyStore.save_answer` runs first, and only while ``token_hash`` is the session's token; the
        session as the statement left it is kept to show the next page from (:attr:`fresh`). Returns where to
        send the browser, or None: not stored; the caller looks the session up and runs
        ``StudyStore.save_answer``, which tells a duplicate from a stale or conflicting answer."""
        now = time.time()
        correct_value, order, stage = answer_columns(position, n_trials, next_stage, correct, option_order)
        params = pg_save_answer_params(session_id, position, kind, item_id, condition, scenario_id, response,
                                       correct_value, comment, order, key, pilot, now, stage, token_hash)
        row = await self._one(_SAVE_BY_TOKEN_SQL, params)
        if row is None:
            return None
        if len(self.fresh) >= KNOWN_SESSIONS:  # pages never asked for (a closed browser): drop the oldest
            self.fresh.pop(next(iter(self.fresh)))
        after = SessionRow.from_mapping(row, self.store._plans)
        query = f"answer={next(self._answers)}"
        self.fresh[token_hash] = (query.encode(), time.monotonic(), after)
        if after.stage != "trials":
            self.known.pop(token_hash, None)
        return f"/study?{query}"


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

    async def database_unavailable(self, request: Request, exc: Exception) -> Response:
        """PostgreSQL could not be reached, even on the request's second try: say so (503), not a bare 500.
        Nothing of the request was stored; what was acknowledged before is kept."""
        _log.warning("database unavailable for %s %s: %s", request.method, request.url.path, exc)
        return self.study.error(503, "The study cannot reach its database just now. Please wait a minute and "
                                     "reload the page; your answers so far are saved.")

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

    @staticmethod
    def _token_hash(request: Request) -> str | None:
        """The hash of the request's session cookie (what sessions are found by), computed once per request."""
        if "proceval.token_hash" not in request.scope:
            request.scope["proceval.token_hash"] = token_digest(request.cookies.get(SESSION_COOKIE))
        return request.scope["proceval.token_hash"]  # type: ignore[no-any-return]

    async def _on_loop(self, request: Request, fn: Callable[..., Awaitable[Response]], *args: Any,
                       page: bool = False) -> Response:
        """PostgreSQL: look the session up on the event loop (async connections), then ``fn``. ``page``: a GET of
        the study page, which the answer just stored may have sent (see :meth:`AsyncHotPath.session_by_digest`)."""
        assert self.hot is not None
        try:
            digest = self._token_hash(request)
            query = request.scope.get("query_string") if page else None
            request.scope["proceval.session"] = await self._retrying(self.hot.session_by_digest, digest, query=query)
            return await fn(request, *args)
        except HttpError as exc:
            return self.study.error(exc.status, exc.message)

    async def _show_on_loop(self, request: Request) -> Response:
        session = self._session(request)
        if session is not None and session.stage == "trials" and session.shown_position != session.position:
            return await self._run(self._show, request)  # records when the trial was first shown: a write
        return self._show(request)  # rendering only

    async def _answer_known(self, request: Request, form: FormData) -> Response:
        """PostgreSQL: an answer from a session this process knows is stored in one statement, without looking
        the session up first (half the round trips). Anything unusual (an unknown session, a refused or empty
        answer, a statement that stores nothing) goes the long way, which looks the session up afresh: the
        answer is judged on the database's state, never on what was remembered."""
        assert self.hot is not None
        digest = self._token_hash(request)
        session = self.hot.known_session(digest)
        if session is not None:
            request.scope["proceval.session"] = session
            try:
                args = self._answer_args(request, self._checked_session(request, form), form)
            except HttpError:
                args = None  # told the long way, on the session as it is now
            if isinstance(args, dict):
                target = await self._retrying(self.hot.save_answer, **args, token_hash=digest)
                if target is not None:
                    return self._see(target)
        return await self._on_loop(request, self._answer_on_loop, form)

    async def _answer_on_loop(self, request: Request, form: FormData) -> Response:
        """PostgreSQL: the usual answer in one statement on the event loop; the rest (a duplicate, a stale
        page, a conflict) in a worker thread, on the synchronous path."""
        assert self.hot is not None
        args = self._answer_args(request, self._checked_session(request, form), form)
        if isinstance(args, Response):
            return args
        digest = self._token_hash(request)
        assert digest is not None  # the session was found by it
        target = await self._retrying(self.hot.save_answer, **args, token_hash=digest)
        if target is not None:
            return self._see(target)
        return await self._run(self._save, args)
