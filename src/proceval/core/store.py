"""The one SQLite file cache proceval keeps (model calls, embeddings): opened in WAL mode so that threads and
processes can share it, its table created on first use, and a file that is not a database one clear error
naming it."""

from __future__ import annotations

import os
import sqlite3
import threading
from pathlib import Path

from proceval.errors import ProcevalError


class SqliteStore:
    """A SQLite file holding one cache table; subclasses add the reads and writes (under :attr:`lock`)."""

    def __init__(self, path: str | os.PathLike[str], schema: str, *, error: type[ProcevalError], what: str,
                 hint: str, timeout: float = 30.0) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._db = sqlite3.connect(self.path, check_same_thread=False, timeout=timeout)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute(schema)
            self._db.commit()
        except sqlite3.DatabaseError as exc:
            raise error(f"cannot open the {what}: {exc}", file=self.path, hint=hint) from None
        self.lock = threading.Lock()

    def close(self) -> None:
        with self.lock:
            self._db.close()
