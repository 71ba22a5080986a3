"""Run the study app with uvicorn (what ``proceval serve`` calls)."""

from __future__ import annotations

import errno
import gc
import os
import socket
import sys
from typing import TYPE_CHECKING, Any

from proceval.dataset import Dataset
from proceval.errors import HumansError
from proceval.humans.config import StudyConfig

if TYPE_CHECKING:
    from starlette.applications import Starlette

GC_YOUNG_THRESHOLD = 20_000  # allocations between collections of the youngest generation in a server process


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


class WorkerSocket(socket.socket):
    """The address ``serve --workers N`` listens on, on Linux: the supervisor holds it bound (never listening, so
    no connection waits on it), and each worker process it is handed to gets a socket of its own on the same
    address (``SO_REUSEPORT``), so the kernel spreads new connections evenly over the workers. While they
    listen, a plain :func:`bind` of the port (another ``proceval serve``) fails: the port stays taken.

    One socket shared by all workers goes to whichever wakes first, and it accepts every connection waiting at
    once: 2 workers held 43 and 157 of 200 participants' connections (``benchmarks/study_load.py``), and the busy
    one fell behind while the other idled. A dying worker's unaccepted connections are reset; browsers retry."""

    def __reduce__(self) -> tuple[Any, ...]:
        return (_reuse_port_socket, (self.family, self.getsockname()))


def _reuse_port_socket(family: int, address: Any, kind: type[socket.socket] = socket.socket) -> socket.socket:
    sock = kind(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind(address)
    return sock


def worker_socket(sock: socket.socket) -> socket.socket:
    """``sock`` (bound by :func:`bind`, so the port was free) as a :class:`WorkerSocket` on the same address, where
    the kernel balances connections over sockets (Linux); elsewhere ``sock`` itself, shared by the workers."""
    if not sys.platform.startswith("linux") or isinstance(sock, WorkerSocket):
        return sock
    family, address = sock.family, sock.getsockname()
    sock.close()
    try:
        return _reuse_port_socket(family, address, WorkerSocket)
    except OSError as exc:  # another program took the port in the meantime
        raise HumansError(f"cannot listen on {address[0]}:{address[1]}: {exc.strerror or exc}",
                          field="--host/--port") from None


class AppFactory:
    """Builds the study app in a worker process. Picklable (a dataset path, a config, a URL), so uvicorn's
    supervisor can hand it to the processes it spawns; each opens its own database pool."""

    def __init__(self, dataset: str, config: StudyConfig | None, db_url: str, pilot: bool) -> None:
        self.dataset, self.config, self.db_url, self.pilot = dataset, config, db_url, pilot

    def __call__(self) -> Starlette:
        from proceval.humans.app import create_app

        app = create_app(self.dataset, self.config, self.db_url, pilot=self.pilot)
        # the dataset and templates live as long as the process: keep the garbage collector from scanning them
        # again and again under load (a full collection walks every object it tracks)
        gc.freeze()
        # a request allocates a few thousand objects, nearly all freed by reference counting: collecting the
        # young generation every 700 allocations (the default) cost about a tenth of the CPU per answer
        # (benchmarks/study_load.py, paired runs); cycles are still collected, 28 times less often
        gc.set_threshold(GC_YOUNG_THRESHOLD, 20, 100)
        return app


def serve(dataset: Dataset | str | os.PathLike[str], config: StudyConfig | None = None,
          db_url: str = "sqlite:///study.db", *, host: str = "127.0.0.1", port: int = 8000,
          pilot: bool = False, access_log: bool = True, sock: socket.socket | None = None, workers: int = 1) -> None:
    """Serve the study until interrupted. Put it behind an HTTPS reverse proxy for real participants.

    ``sock``: a socket from :func:`bind` (else ``host:port`` is bound first, before the database is opened).
    ``workers`` > 1: that many server processes share the socket and the database, under uvicorn's supervisor,
    which replaces a worker that dies and, on SIGINT or SIGTERM, lets each finish its requests (5 s at most).
    """
    import uvicorn

    if workers < 1:
        raise HumansError(f"--workers must be at least 1, not {workers}", field="--workers")
    sock = sock or bind(host, port)
    try:
        factory = AppFactory(str(dataset.path if isinstance(dataset, Dataset) else dataset), config, db_url, pilot)
        # built here first: bad input fails once, clearly, and the schema is current before workers start
        app = factory()
        # forwarded headers are trusted from loopback only (a reverse proxy on the same machine)
        options: dict[str, Any] = dict(host=host, port=port, access_log=access_log, proxy_headers=True,
                                       forwarded_allow_ips="127.0.0.1", log_level="info",
                                       timeout_graceful_shutdown=5)
        if workers == 1:
            uvicorn.Server(uvicorn.Config(app, **options)).run(sockets=[sock])
            return
        app.state.study.store.close()
        from uvicorn.supervisors import Multiprocess

        # a worker answers the supervisor's health checks once it has started: allow for a slow start on a busy
        # machine (uvicorn's default, 5 s, has it kill and respawn workers that are merely importing)
        supervised = uvicorn.Config(factory, factory=True, workers=workers, timeout_worker_healthcheck=30, **options)
        sock = worker_socket(sock)
        Multiprocess(supervised, sockets=[sock]).run()
    finally:
        sock.close()
