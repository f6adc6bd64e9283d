"""On-disk cache of model answers, keyed by model identity + request content.

SQLite in WAL mode with a busy timeout: many processes (a parallel multirun) and
threads can read and write at once without "database is locked" (lm-eval #796).
Every answer is committed as soon as it arrives, so a killed run resumes where it
stopped and a repeated run costs nothing.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterable
from pathlib import Path

from genspec.config.schema import CacheConfig
from genspec.requests import Response

_SCHEMA = """
CREATE TABLE IF NOT EXISTS responses (
    key TEXT PRIMARY KEY,
    model TEXT NOT NULL,
    response TEXT NOT NULL,
    created REAL NOT NULL
)
"""
_BATCH = 500  # SQLite caps host parameters per statement


class ResponseCache:
    """Read/write answers; ``mode`` may make it read-only, write-only or off."""

    def __init__(self, config: CacheConfig) -> None:
        self.mode = config.mode
        self._lock = threading.Lock()
        self._conn: sqlite3.Connection | None = None
        if self.mode != "off":
            directory = Path(config.dir).expanduser()
            directory.mkdir(parents=True, exist_ok=True)
            self.path = directory / "responses.sqlite"
            self._conn = sqlite3.connect(self.path, timeout=60, check_same_thread=False)
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute("PRAGMA synchronous=NORMAL")
            self._retrying(lambda c: c.execute(_SCHEMA))

    def _retrying(self, action):
        """Run ``action`` on the connection, retrying briefly if another writer holds it."""
        assert self._conn is not None
        for attempt in range(10):
            try:
                with self._lock, self._conn:
                    return action(self._conn)
            except sqlite3.OperationalError as error:
                if "locked" not in str(error) or attempt == 9:
                    raise
                time.sleep(0.05 * (attempt + 1))
        return None

    def get_many(self, keys: Iterable[str]) -> dict[str, Response]:
        """Cached answers for the keys that have one (marked ``cached=True``)."""
        if self._conn is None or self.mode == "writeonly":
            return {}
        keys = list(keys)
        found: dict[str, Response] = {}
        for start in range(0, len(keys), _BATCH):
            chunk = keys[start : start + _BATCH]
            marks = ",".join("?" * len(chunk))
            rows = self._retrying(
                lambda c, chunk=chunk, marks=marks: c.execute(
                    f"SELECT key, response FROM responses WHERE key IN ({marks})", chunk
                ).fetchall()
            )
            for key, raw in rows:
                response = Response.from_json(raw)
                found[key] = Response(**{**response.__dict__, "cached": True})
        return found

    def put(self, key: str, model: str, response: Response) -> None:
        """Store one answer now (answers with an error are not stored: retry next run)."""
        if self._conn is None or self.mode == "readonly" or response.error:
            return
        row = (key, model, response.to_json(), time.time())
        self._retrying(
            lambda c: c.execute("INSERT OR REPLACE INTO responses VALUES (?, ?, ?, ?)", row)
        )

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None
