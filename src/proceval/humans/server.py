"""Run the study app with uvicorn (what ``proceval serve`` calls)."""

from __future__ import annotations

import errno
import os
import socket

from proceval.dataset import Dataset
from proceval.errors import HumansError
from proceval.humans.config import StudyConfig


def bind(host: str, port: int) -> socket.socket:
    """A socket bound to ``host:port`` (uvicorn listens on it), or a one-line :class:`HumansError` when the port
    is taken or the address is not this machine's. Binding first means nothing is created or printed in vain."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn does; a listening port still fails
    try:
        sock.bind((host, port))
    except (OSError, OverflowError) as exc:
        sock.close()
        if isinstance(exc, OSError) and exc.errno == errno.EADDRINUSE:
            raise HumansError(f"port {port} on {host} is already in use: stop the program using it or pass "
                              "another --port", field="--port") from None
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise HumansError(f"cannot listen on {host}:{port}: {reason}", field="--host/--port") from None
    return sock


def serve(dataset: Dataset | str | os.PathLike[str], config: StudyConfig | None = None,
          db_url: str = "sqlite:///study.db", *, host: str = "127.0.0.1", port: int = 8000,
          pilot: bool = False, access_log: bool = True, sock: socket.socket | None = None) -> None:
    """Serve the study until interrupted. Put it behind an HTTPS reverse proxy for real participants.

    ``sock``: a socket from :func:`bind` (else ``host:port`` is bound first, before the database is opened).
    """
    import uvicorn

    from proceval.humans.app import create_app

    sock = sock or bind(host, port)
    try:
        app = create_app(dataset, config, db_url, pilot=pilot)
        # forwarded headers are trusted from loopback only (a reverse proxy on the same machine)
        server = uvicorn.Server(uvicorn.Config(
            app, host=host, port=port, access_log=access_log, proxy_headers=True, forwarded_allow_ips="127.0.0.1",
            log_level="info", timeout_graceful_shutdown=5))
        server.run(sockets=[sock])
    finally:
        sock.close()
