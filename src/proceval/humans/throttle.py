"""Failed admin logins per client: after a few wrong tokens a client waits before it may try again."""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable


class FailedLogins:
    """At most ``limit`` wrong tokens per client in a window of ``window_s`` seconds, which starts at the
    client's first failure; beyond that the client is refused (right token or not) until the window ends.

    Memory is bounded: at most ``max_clients`` clients are remembered, the one whose last failure is oldest forgotten first.
    Counts are per server process (each worker counts on its own).
    """

    def __init__(self, limit: int = 10, window_s: float = 60.0, max_clients: int = 10_000,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.limit = limit
        self.window_s = window_s
        self.max_clients = max_clients
        self.clock = clock
        self._failures: OrderedDict[str, tuple[float, int]] = OrderedDict()  # client -> (window start, count)
        self._lock = threading.Lock()

    def retry_after(self, client: str) -> int:
        """Whole seconds until ``client`` may try a token again; 0 if it may now."""
        with self._lock:
            entry = self._failures.get(client)
            if entry is None:
                return 0
            start, count = entry
            left = start + self.window_s - self.clock()
            if left <= 0:
                del self._failures[client]
                return 0
            return math.ceil(left) if count >= self.limit else 0

    def failed(self, client: str) -> None:
        """Count a wrong token from ``client``."""
        now = self.clock()
        with self._lock:
            start, count = self._failures.get(client, (now, 0))
            if start + self.window_s <= now:
                start, count = now, 0
            self._failures[client] = (start, count + 1)
            self._failures.move_to_end(client)
            while len(self._failures) > self.max_clients:
                self._failures.popitem(last=False)

    def __len__(self) -> int:
        return len(self._failures)
