"""The participant-facing study and the researcher's admin page, as one Starlette ASGI app.

Pages are plain HTML forms (no JavaScript needed) and every POST redirects (303) to ``GET /study``, which
renders whatever stage the session is in: reloading, going back or double-submitting can never skip, repeat
or lose a step. The session is identified by an unguessable token in an HttpOnly cookie (the database
stores only its hash); each form carries the session's CSRF token. The admin token is compared in constant
time and travels only in a POST body or an ``Authorization`` header, never in a URL; wrong tokens are limited
per client; logging in opens a server-side admin session (its random token in a cookie) that logout revokes.
"""

from __future__ import annotations

import hmac
import os
import re
import secrets
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

import anyio
import anyio.to_thread
from starlette.applications import Starlette
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response
from starlette.routing import Route

from proceval.dataset import Dataset
from proceval.humans.admin import AdminHandlers
from proceval.humans.answers import NoAnswer, checked_answer
from proceval.humans.config import StudyConfig
from proceval.humans.database import POSTGRES_POOL_SIZE, ConnectionLost
from proceval.humans.http import (
    PROLIFIC_PARAM,
    SESSION_COOKIE,
    GuardMiddleware,
    HttpError,
    _form_text,
    _TooLarge,
    _urlencoded_form,
)
from proceval.humans.pages import Study
from proceval.humans.pg_async import AsyncHotPath, LoopHandlers
from proceval.humans.storage import AnswerConflict, SessionExists, SessionRow, StudyStore
from proceval.humans.throttle import FailedLogins
from proceval.ids import canonical_json


def create_app(dataset: Dataset | str | os.PathLike[str], config: StudyConfig | None = None,
               db_url: str = "sqlite:///study.db", *, pilot: bool = False) -> Starlette:
    """The web study for ``dataset`` as an ASGI app (serve it with uvicorn, or :func:`proceval.humans.serve`).

    Opens (and creates or migrates) the database at ``db_url`` and checks it belongs to this dataset and
    these lists. With ``pilot=True`` every session is marked as pilot: excluded from list filling, from the
    admin figures and, by default, from exports.
    """
    if not isinstance(dataset, Dataset):
        dataset = Dataset.load(dataset)
    config = config or StudyConfig()
    config.resolved_admin_token()  # a guessable admin token is refused before the database is touched
    store = StudyStore(db_url)
    try:
        study = Study(dataset, config, store, pilot)
    except BaseException:
        store.close()
        raise
    hot = AsyncHotPath(store) if store.is_postgres else None
    handlers = _Handlers(study, hot)
    app = Starlette(routes=[
        Route("/", handlers.start, methods=["GET"]),
        Route("/healthz", handlers.healthz, methods=["GET"]),
        Route("/study", handlers.show, methods=["GET"]),
        Route("/study/{stage}", handlers.submit, methods=["POST"]),
        Route("/admin", handlers.admin, methods=["GET"]),
        Route("/admin/login", handlers.admin_login, methods=["POST"]),
        Route("/admin/logout", handlers.admin_logout, methods=["POST"]),
        Route("/admin/export.{fmt}", handlers.admin_export, methods=["GET"]),
    ], lifespan=_lifespan(store, hot), exception_handlers={ConnectionLost: handlers.database_unavailable})
    app.state.study, app.state.hot = study, hot
    app.add_middleware(GuardMiddleware)
    return app


def _lifespan(store: StudyStore, hot: AsyncHotPath | None) -> Callable[[Starlette], AbstractAsyncContextManager[None]]:
    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        if hot is not None:  # its pool belongs to the loop that serves (without a lifespan, threads do it all)
            await hot.open()
        yield
        if hot is not None:
            await hot.close()
        store.close()

    return lifespan


class _Handlers(AdminHandlers, LoopHandlers):
    def __init__(self, study: Study, hot: AsyncHotPath | None = None) -> None:
        self.study = study
        self.hot = hot
        self.store = study.store
        self.config = study.config
        self._limiter = anyio.CapacityLimiter(POSTGRES_POOL_SIZE)
        self.failed_logins = FailedLogins()

    # ------------------------------------------------------------ plumbing
    def _cookie(self, response: Response, request: Request, token: str) -> Response:
        response.set_cookie(SESSION_COOKIE, token, httponly=True, samesite="lax", path="/",
                            secure=request.url.scheme == "https", max_age=7 * 24 * 3600)
        return response

    def _session(self, request: Request) -> SessionRow | None:
        if "proceval.session" in request.scope:  # looked up on the event loop already (see _on_loop)
            return request.scope["proceval.session"]  # type: ignore[no-any-return]
        token = request.cookies.get(SESSION_COOKIE)
        return self.store.session_by_token(token) if token else None

    async def _run(self, fn: Callable[..., Response], *args: Any) -> Response:
        """Run a request's (blocking) work. SQLite: inline on the event loop (each transaction takes well under
        a millisecond, one writer at a time is all SQLite allows; threads would queue on the write lock and
        hand the GIL back and forth). PostgreSQL (the requests not run by LoopHandlers): in worker threads."""
        try:
            if self.store.is_postgres:
                return await self._retrying(anyio.to_thread.run_sync, lambda: fn(*args), limiter=self._limiter)  # type: ignore[no-any-return]
            return fn(*args)
        except HttpError as exc:
            return self.study.error(exc.status, exc.message)
        except AnswerConflict as exc:
            return self.study.error(409, exc.message)

    @staticmethod
    def _see(path: str = "/study") -> RedirectResponse:
        return RedirectResponse(path, status_code=303)

    async def healthz(self, request: Request) -> Response:
        return PlainTextResponse("ok")

    # ------------------------------------------------------------- start
    async def start(self, request: Request) -> Response:
        return await self._run(self._start, request)

    def _start(self, request: Request, retried: bool = False) -> Response:
        params = {}
        for name in ("PROLIFIC_PID", "STUDY_ID", "SESSION_ID"):
            value = request.query_params.get(name)
            if value is not None and value != "" and not PROLIFIC_PARAM.match(value):
                raise HttpError(400, f"The link's {name} is not valid. Please open the study from Prolific again.")
            params[name] = value or None
        pid, study_id, prolific_session = params["PROLIFIC_PID"], params["STUDY_ID"], params["SESSION_ID"]
        current = self._session(request)
        if pid is not None and not self.study.pilot:
            existing = self.store.session_by_participant(study_id, pid)
            if existing is not None:
                if existing.stage == "completed":
                    return self.study.render("message.html", heading="Already completed",
                                             text="You have already completed this study. Thank you! "
                                                  "You cannot take part a second time.")
                if current is not None and current.id == existing.id:
                    return self._see()
                if prolific_session is not None and prolific_session == existing.prolific_session:
                    return self._cookie(self._see(), request, self.store.rotate_token(existing.id))
                return self.study.error(409, "This Prolific ID already has a study session from another "
                                             "Prolific attempt. Please continue in the browser where you started, "
                                             "or contact the researcher.")
        elif current is not None and current.stage != "declined":
            return self._see()  # screened out stays screened out: the session's stage is kept on the server
        try:
            token, _ = self.store.create_session(participant=pid, study_id=study_id,
                                                 prolific_session=prolific_session, pilot=self.study.pilot)
        except SessionExists:
            if retried:
                raise HttpError(409, "This Prolific ID already has a study session.") from None
            return self._start(request, retried=True)  # the link was opened twice at once: join that session
        return self._cookie(self._see(), request, token)

    # ------------------------------------------------------------- pages
    async def show(self, request: Request) -> Response:
        if self.hot is not None and self.hot.opened:
            return await self._on_loop(request, self._show_on_loop, page=True)
        return await self._run(self._show, request)

    def _show(self, request: Request, notice: str | None = None, status: int = 200) -> Response:
        session = self._session(request)
        if session is None:
            return self.study.error(403, "There is no study session in this browser. Please open the study "
                                         "link again (cookies must be allowed).")
        stage = session.stage
        common = {"csrf": session.csrf, "notice": notice}
        cfg = self.config
        if stage == "consent":
            return self.study.render("consent.html", status, consent=cfg.consent, **common)
        if stage == "instructions":
            retry = None
            if session.check_attempts:
                left = cfg.comprehension_attempts - session.check_attempts
                retry = (f"Some answers to the check questions were not correct. Please read the instructions "
                         f"again. You have {left} more {'try' if left == 1 else 'tries'}.")
            return self.study.render("instructions.html", status, instructions=cfg.instructions, retry=retry,
                                     has_check=bool(cfg.comprehension), **common)
        if stage == "check":
            return self.study.render("check.html", status, questions=cfg.comprehension, **common)
        if stage == "trials":
            assert session.plan is not None
            if session.position >= len(session.plan):  # defensive: a plan with no trials left
                return self._see()
            if session.shown_position != session.position:
                self.store.mark_shown(session.id, session.position)
            return self._trial_page(session, common, status)
        if stage == "demographics":
            return self.study.render("demographics.html", status, fields=cfg.demographics, **common)
        if stage == "debrief":
            return self.study.render("debrief.html", status, debrief=cfg.debrief, **common)
        if stage == "completed":
            code = session.completion_code or ""
            url = cfg.completion_url(code)
            return self.study.render("done.html", status, code=code, url=url, seconds=cfg.redirect_seconds)
        if stage == "declined":
            return self.study.render("message.html", status, heading="Thank you", text=cfg.declined)
        return self.study.render("message.html", status, heading="Thank you", text=cfg.screened_out)

    def _trial_page(self, session: SessionRow, common: dict[str, Any], status: int) -> Response:
        assert session.plan is not None
        trial = self.study.trial(session, session.position)
        story = trial.check.text if trial.check is not None else trial.item.text if trial.item is not None else None
        context: dict[str, Any] = {"position": trial.position, "n_trials": len(session.plan), "ref": self.study.public_ref(trial),
                                   "key": secrets.token_urlsafe(18), "comments": self.config.comments,
                                   "max_comment": self.config.max_comment_chars,
                                   "story": story,
                                   "fields": self.study.trial_fields(trial), **common}
        return self.study.render("trial.html", status, **context)

    # ------------------------------------------------------------ submits
    async def submit(self, request: Request) -> Response:
        try:
            content_type = request.headers.get("content-type", "").partition(";")[0].strip().lower()
            if content_type == "application/x-www-form-urlencoded":  # what every study page posts
                form = _urlencoded_form(await request.body(), max_fields=64)
            else:
                form = await request.form(max_files=0, max_fields=64)
        except _TooLarge:
            raise
        except Exception:
            return self.study.error(400, "The form could not be read.")
        if self.hot is not None and self.hot.opened and request.path_params["stage"] == "trial":
            return await self._answer_known(request, form)
        return await self._run(self._submit, request, form)

    def _submit(self, request: Request, form: FormData) -> Response:
        session = self._checked_session(request, form)
        stage = request.path_params["stage"]
        handler = {"consent": self._consent, "instructions": self._instructions, "check": self._check,
                   "trial": self._answer, "demographics": self._demographics, "debrief": self._debrief}.get(stage)
        if handler is None:
            raise HttpError(404, "There is no such page.")
        return handler(request, session, form)

    def _checked_session(self, request: Request, form: FormData) -> SessionRow:
        session = self._session(request)
        if session is None:
            raise HttpError(403, "There is no study session in this browser. Please open the study link again.")
        token = form.get("csrf")
        if not isinstance(token, str) or not hmac.compare_digest(token.encode(), session.csrf.encode()):
            raise HttpError(403, "This form has expired or did not come from the study page. Please reload the page.")
        return session

    def _consent(self, request: Request, session: SessionRow, form: FormData) -> Response:
        choice = _form_text(form, "consent", max_len=16)
        if choice not in ("agree", "decline"):
            raise HttpError(400, "Please choose whether you agree to take part.")
        self.store.advance(session.id, "consent", "instructions" if choice == "agree" else "declined")
        return self._see()

    def _start_trials(self, session: SessionRow, expected: str) -> None:
        self.store.assign(session.id, expected, len(self.study.lists), self.config.session_timeout_minutes * 60,
                          self.study.plan_for(session.public_id))

    def _instructions(self, request: Request, session: SessionRow, form: FormData) -> Response:
        if session.stage == "instructions":
            if self.config.comprehension:
                self.store.advance(session.id, "instructions", "check")
            else:
                self._start_trials(session, "instructions")
        return self._see()

    def _check(self, request: Request, session: SessionRow, form: FormData) -> Response:
        if session.stage != "check":
            return self._see()
        right = True
        for i, question in enumerate(self.config.comprehension):
            answer = form.get(f"q{i}")
            if answer is None or answer == "":
                return self._show(request, notice="Please answer every question.", status=400)
            if not isinstance(answer, str) or answer not in {o.key for o in question.options}:
                raise HttpError(400, f"Question {i + 1}: that option is not on offer.")
            right &= answer == question.answer
        if right:
            self._start_trials(session, "check")
        else:
            self.store.failed_check(session.id, self.config.comprehension_attempts)
        return self._see()

    def _answer(self, request: Request, session: SessionRow, form: FormData) -> Response:
        args = self._answer_args(request, session, form)
        return args if isinstance(args, Response) else self._save(args)

    def _save(self, args: dict[str, Any]) -> Response:
        self.store.save_answer(**args)
        return self._see()

    def _answer_args(self, request: Request, session: SessionRow, form: FormData) -> dict[str, Any] | Response:
        """The checked answer as ``StudyStore.save_answer``'s arguments, or the page to show instead."""
        try:
            return checked_answer(self.study, session, form)
        except NoAnswer as missing:
            if session.stage == "trials" and session.position == missing.position:
                return self._show(request, notice="Please answer the question before continuing.", status=400)
            return self._see()

    def _demographics(self, request: Request, session: SessionRow, form: FormData) -> Response:
        if session.stage != "demographics":
            return self._see()
        known = {f.name for f in self.config.demographics} | {"csrf"}
        unknown = sorted(set(form.keys()) - known)
        if unknown:
            raise HttpError(400, f"Unknown field '{unknown[0]}'.")
        values: dict[str, Any] = {}
        for spec in self.config.demographics:
            raw = _form_text(form, spec.name, max_len=200, required=False).strip()
            if not raw:
                continue  # every demographic question is optional
            if spec.type == "number":
                if not re.fullmatch(r"-?\d{1,6}", raw):
                    raise HttpError(400, f"'{spec.label}' must be a whole number.")
                number = int(raw)
                if (spec.min is not None and number < spec.min) or (spec.max is not None and number > spec.max):
                    raise HttpError(400, f"'{spec.label}' must be between {spec.min} and {spec.max}.")
                values[spec.name] = number
            elif spec.type == "choice":
                if raw not in spec.options:
                    raise HttpError(400, f"'{spec.label}': that option is not on offer.")
                values[spec.name] = raw
            else:
                values[spec.name] = raw
        self.store.advance(session.id, "demographics", "debrief", demographics=canonical_json(values))
        return self._see()

    def _debrief(self, request: Request, session: SessionRow, form: FormData) -> Response:
        if session.stage == "debrief":
            code = self.config.completion_code or session.public_id.upper()
            self.store.advance(session.id, "debrief", "completed", completion_code=code)
        return self._see()
