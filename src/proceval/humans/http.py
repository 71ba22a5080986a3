"""Request plumbing of the web study: body-size guard, bounded form parsing, HTTP errors shown as pages.
"""

from __future__ import annotations

import re
from urllib.parse import unquote_plus

from starlette.datastructures import FormData, UploadFile
from starlette.types import ASGIApp, Message, Receive, Scope, Send

MAX_BODY_BYTES = 64 * 1024
MAX_FREE_TEXT = 5000
PROLIFIC_PARAM = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
IDEMPOTENCY_KEY = re.compile(r"^[A-Za-z0-9_-]{16,64}$")

SESSION_COOKIE = "proceval_session"  # the participant's session token (HttpOnly)


def _urlencoded_form(body: bytes, max_fields: int) -> FormData:
    """An ``application/x-www-form-urlencoded`` body as form data, decoded as Starlette's parser does
    (``&``-separated, ``+`` and percent escapes, UTF-8), without its per-byte callbacks."""
    items: list[tuple[str, str | UploadFile]] = []
    for part in body.split(b"&"):
        if not part:
            continue
        if len(items) >= max_fields:
            raise ValueError("too many fields")
        name, _, value = part.partition(b"=")
        items.append((unquote_plus(name.decode("latin-1")), unquote_plus(value.decode("latin-1"))))
    return FormData(items)


class HttpError(Exception):
    """A request that is refused with ``status`` and a message the participant can read."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class _TooLarge(Exception):
    pass


class GuardMiddleware:
    """Refuses request bodies over ``limit`` bytes (413) and adds security headers to every response."""

    HEADERS = [
        (b"x-content-type-options", b"nosniff"),
        (b"x-frame-options", b"DENY"),
        (b"referrer-policy", b"no-referrer"),
        (b"content-security-policy",
         b"default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; form-action 'self'; "
         b"frame-ancestors 'none'; base-uri 'none'"),
        (b"cache-control", b"no-store"),
    ]

    def __init__(self, app: ASGIApp, limit: int = MAX_BODY_BYTES) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope.get("headers", []):
            if name == b"content-length" and value.isdigit() and int(value) > self.limit:
                await self._too_large(send)
                return
        received = 0
        started = False

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.limit:
                    raise _TooLarge
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                message["headers"] = list(message.get("headers", [])) + self.HEADERS
            await send(message)

        try:
            await self.app(scope, limited_receive, guarded_send)
        except _TooLarge:
            if not started:
                await self._too_large(send)

    async def _too_large(self, send: Send) -> None:
        body = b"The submitted form is too large."
        await send({"type": "http.response.start", "status": 413,
                    "headers": [(b"content-type", b"text/plain; charset=utf-8"),
                                (b"content-length", str(len(body)).encode()), *self.HEADERS]})
        await send({"type": "http.response.body", "body": body})


def _form_text(form: FormData, name: str, *, max_len: int = 200, required: bool = True) -> str:
    value = form.get(name)
    if value is None or not isinstance(value, str):
        if required:
            raise HttpError(400, f"The form is missing the field '{name}'.")
        return ""
    if len(value) > max_len:
        raise HttpError(400, f"The field '{name}' is too long ({len(value)} characters; at most {max_len}).")
    return value


def _form_int(form: FormData, name: str) -> int:
    text = _form_text(form, name, max_len=12)
    try:
        return int(text)
    except ValueError:
        raise HttpError(400, f"The field '{name}' must be a whole number.") from None
