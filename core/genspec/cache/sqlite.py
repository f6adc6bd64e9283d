"""The one-host answer store: one SQLite file in WAL mode.

WAL with a busy timeout lets many processes and threads of one machine (a parallel
joblib multirun) read and write at once without "database is locked" (lm-eval #796).
WAL keeps its index in shared memory that only one host can see, so this store is for
one machine's disk; hosts that share a folder use :mod:`genspec.cache.files`.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import TypeVar

FILE_NAME = "responses.sqlite"
_SCHEMA = """
CREATE TABLE IF NOT EXISTS responses (
    key TEXT PRIMARY KEY,
    model TEXT NOT NULL,
    response TEXT NOT NULL,
    created REAL NOT NULL
)
"""
_BATCH = 500  # SQLite caps host parameters per statement
_T = TypeVar("_T")


class SqliteStore:
    """Raw answers (JSON text) by key in ``<dir>/responses.sqlite``."""

    def __init__(self, directory: Path) -> None:
        self.path = directory / FILE_NAME
        self._lock = threading.Lock()
        self._conn = sqlite3.connect(self.path, timeout=60, check_same_thread=False)
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=NORMAL")
        self._retrying(lambda c: c.execute(_SCHEMA))

    def _retrying(self, action: Callable[[sqlite3.Connection], _T]) -> _T:
        """Run ``action`` in a transaction, retrying briefly if another writer holds it."""
        for attempt in range(10):
            try:
                with self._lock, self._conn:
                    return action(self._conn)
            except sqlite3.OperationalError as error:
                if "locked" not in str(error) or attempt == 9:
                    raise
                time.sleep(0.05 * (attempt + 1))
        raise AssertionError("unreachable")

    def get_many(self, keys: Iterable[str]) -> dict[str, str]:
        keys = list(keys)
        found: dict[str, str] = {}
        for start in range(0, len(keys), _BATCH):
            chunk = keys[start : start + _BATCH]
            marks = ",".join("?" * len(chunk))
            rows = self._retrying(
                lambda c, chunk=chunk, marks=marks: c.execute(
                    f"SELECT key, response FROM responses WHERE key IN ({marks})", chunk
                ).fetchall()
            )
            found.update(rows)
        return found

    def put(self, key: str, model: str, raw: str) -> None:
        row = (key, model, raw, time.time())
        self._retrying(
            lambda c: c.execute("INSERT OR REPLACE INTO responses VALUES (?, ?, ?, ?)", row)
        )

    def entries(self) -> Iterator[tuple[str, str, str]]:
        """Every stored (key, model, raw answer), for ``genspec cache merge``."""
        rows = self._retrying(
            lambda c: c.execute("SELECT key, model, response FROM responses").fetchall()
        )
        yield from rows

    def close(self) -> None:
        self._conn.close()
