"""The researcher's admin page: token login (limited per client, compared in constant time), server-side
admin sessions, progress, and exports.
"""

from __future__ import annotations

import hmac
import io

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from proceval.humans.config import StudyConfig
from proceval.humans.export import COLUMNS, ExportSummary, export_rows, write_rows
from proceval.humans.pages import Study
from proceval.humans.stats import study_progress
from proceval.humans.storage import StudyStore
from proceval.humans.throttle import FailedLogins

ADMIN_COOKIE = "proceval_admin"
ADMIN_SESSION_HOURS = 12


class AdminHandlers:
    """The admin routes; :class:`proceval.humans.app._Handlers` holds the study, store and login limiter."""

    study: Study
    store: StudyStore
    config: StudyConfig
    failed_logins: FailedLogins

    def _admin_refusal(self, request: Request, login_page: bool) -> Response | None:
        """None if ``request`` comes from the admin (a bearer token or a live admin session cookie); else the
        response that refuses it. A wrong bearer token counts as a failed login."""
        if not self.study.admin_token:
            return self._admin_disabled()
        header = request.headers.get("authorization", "")
        if header.lower().startswith("bearer "):
            return self._token_refusal(request, header[7:].strip(), login_page)
        cookie = request.cookies.get(ADMIN_COOKIE, "")
        if cookie and self.store.admin_session_valid(cookie, self.study.admin_key):
            return None
        if login_page:
            return self.study.render("admin_login.html", status=401, failed=False)
        return self.study.error(401, "Log in on the admin page first.")

    def _token_refusal(self, request: Request, given: object, login_page: bool) -> Response | None:
        """None if ``given`` is the admin token; else the refusal (429 while this client has used up its
        wrong tries, asked before comparing, so a locked-out client learns nothing)."""
        client = request.client.host if request.client else "unknown"
        wait = self.failed_logins.retry_after(client)
        if wait:
            response = self.study.error(429, f"Too many wrong admin tokens from here. Try again in {wait} seconds.")
            response.headers["retry-after"] = str(wait)
            return response
        assert self.study.admin_token is not None
        if isinstance(given, str) and hmac.compare_digest(given.encode(), self.study.admin_token.encode()):
            return None
        self.failed_logins.failed(client)
        if login_page:
            return self.study.render("admin_login.html", status=401, failed=True)
        return self.study.error(401, "That admin token is not right.")

    def _admin_disabled(self) -> Response:
        return self.study.error(403, f"The admin page is disabled: set the environment variable "
                                     f"{self.config.admin_token_env} (or admin_token in the study config).")

    async def admin(self, request: Request) -> Response:
        return await run_in_threadpool(self._admin, request)

    def _admin(self, request: Request) -> Response:
        refused = self._admin_refusal(request, login_page=True)
        if refused is not None:
            return refused
        progress = study_progress(self.store, [len(x) for x in self.study.lists.lists],
                                  self.config.session_timeout_minutes * 60)
        return self.study.render("admin.html", progress=progress, n_lists=len(self.study.lists),
                                 n_items=len(self.study.items), dataset=self.study.dataset.name)

    async def admin_login(self, request: Request) -> Response:
        if not self.study.admin_token:
            return self._admin_disabled()
        try:
            form = await request.form(max_files=0, max_fields=4)
        except Exception:
            return self.study.error(400, "The form could not be read.")
        return await run_in_threadpool(self._admin_login, request, form.get("token"))

    def _admin_login(self, request: Request, given: object) -> Response:
        refused = self._token_refusal(request, given, login_page=True)
        if refused is not None:
            return refused
        token = self.store.create_admin_session(self.study.admin_key, ADMIN_SESSION_HOURS * 3600)
        response = RedirectResponse("/admin", status_code=303)
        response.set_cookie(ADMIN_COOKIE, token, httponly=True, samesite="strict", path="/admin",
                            secure=request.url.scheme == "https", max_age=ADMIN_SESSION_HOURS * 3600)
        return response

    async def admin_logout(self, request: Request) -> Response:
        cookie = request.cookies.get(ADMIN_COOKIE)
        if cookie:
            await run_in_threadpool(self.store.end_admin_session, cookie)
        response = RedirectResponse("/admin", status_code=303)
        response.delete_cookie(ADMIN_COOKIE, path="/admin")
        return response

    async def admin_export(self, request: Request) -> Response:
        refused = await run_in_threadpool(self._admin_refusal, request, False)
        if refused is not None:
            return refused
        fmt = request.path_params["fmt"]
        if fmt not in ("csv", "jsonl"):
            return self.study.error(404, "Export as export.csv or export.jsonl.")
        flags = {name: request.query_params.get(name) == "1" for name in ("pilot", "incomplete", "checks")}

        def body() -> str:
            buffer = io.StringIO()
            write_rows(export_rows(self.store, include_pilot=flags["pilot"], include_incomplete=flags["incomplete"],
                                   include_checks=flags["checks"], summary=ExportSummary(path=None, format=fmt)),
                       buffer, fmt, COLUMNS)
            return buffer.getvalue()

        media = "text/csv" if fmt == "csv" else "application/x-ndjson"
        return Response(await run_in_threadpool(body), media_type=media,
                        headers={"content-disposition": f'attachment; filename="humans.{fmt}"'})
