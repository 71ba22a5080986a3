"""`proceval serve --workers N`: the worker processes share the port and the load."""

from __future__ import annotations

import os
import pickle
import socket
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from proceval.dataset import Dataset
from proceval.errors import HumansError
from proceval.humans.server import bind, worker_socket

from .conftest import free_port, wait_for_workers, wait_ready

N_CONNECTIONS = 64


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="SO_REUSEPORT balances connections on Linux")
def test_a_worker_socket_handed_to_a_process_becomes_its_own_socket_on_the_address() -> None:
    held = worker_socket(bind("127.0.0.1", 0))
    try:
        own = pickle.loads(pickle.dumps(held))  # what a spawned worker receives
        try:
            assert own.getsockname() == held.getsockname() and own.fileno() != held.fileno()
            assert own.getsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT) == 1
        finally:
            own.close()
    finally:
        held.close()


def _listening(pid: int, port: int) -> set[str]:
    """The sockets (as /proc names them, ``socket:[inode]``) on which the process listens on ``port``."""
    return {os.readlink(f"/proc/{pid}/fd/{c.fd}") for c in psutil.Process(pid).net_connections("tcp")
            if c.status == psutil.CONN_LISTEN and c.laddr.port == port}


def _established(pid: int, port: int) -> int:
    return sum(c.status == psutil.CONN_ESTABLISHED and c.laddr.port == port
               for c in psutil.Process(pid).net_connections("tcp"))


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="SO_REUSEPORT balances connections on Linux")
def test_connections_opened_together_are_spread_over_the_workers(dataset: Dataset, tmp_path: Path) -> None:
    """Each worker listens on a socket of its own, so the kernel shares out new connections: a burst of them
    (participants arriving together, a proxy opening its pool) is not taken by whichever worker wakes first.
    The port stays taken for anyone else."""
    port = free_port()
    log = tmp_path / "server.log"
    with log.open("ab") as out:
        proc = subprocess.Popen([sys.executable, "-m", "proceval", "serve", str(dataset.path), "--db",
                                 f"sqlite:///{tmp_path / 's.db'}", "--port", str(port), "--workers", "2",
                                 "--no-access-log"], stdout=out, stderr=subprocess.STDOUT)
    connections: list[socket.socket] = []
    try:
        wait_ready(port, proc, log, timeout=90)
        workers = wait_for_workers(proc.pid, 2)
        deadline = time.monotonic() + 60
        while not all(_listening(pid, port) for pid in workers):
            assert time.monotonic() < deadline, "the workers did not both listen"
            time.sleep(0.1)
        first, second = (_listening(pid, port) for pid in workers)
        assert len(first) == len(second) == 1 and first != second  # not one socket shared
        connections = [socket.create_connection(("127.0.0.1", port), timeout=10) for _ in range(N_CONNECTIONS)]
        for conn in connections:  # each answered, then kept open
            conn.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        for conn in connections:
            assert conn.recv(4096).startswith(b"HTTP/1.1 200")
        held = [_established(pid, port) for pid in workers]
        assert sum(held) == N_CONNECTIONS
        # evenly, as a fair coin would (fewer than a quarter each: odds about 1 in 30,000)
        assert min(held) >= N_CONNECTIONS // 4, held
        with pytest.raises(HumansError, match=f"port {port} on 127.0.0.1 is already in use"):
            bind("127.0.0.1", port).close()
    finally:
        for conn in connections:
            conn.close()
        proc.terminate()
        assert proc.wait(timeout=30) == 0, log.read_text()[-2000:]
