"""On-disk cache of model answers, keyed by model identity + request content.

Every answer is stored as soon as it arrives, so a killed run resumes where it stopped
and a repeated run costs nothing. Two stores (``cache.store``):

- ``sqlite`` (default): one SQLite file in WAL mode, fast, for one host's disk
  (:mod:`.sqlite`);
- ``files``: one file per key, written aside and renamed, safe for many hosts on NFS or
  a shared mount (:mod:`.files`).

A billed answer the store cannot keep (a full disk, a read-only folder) stops the run
with :class:`CacheWriteError` instead of being dropped: the run would otherwise go on
paying for answers it throws away, and report on the few it kept.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Protocol

from genspec.config.schema import CacheConfig
from genspec.errors import GenspecError
from genspec.requests import Response

from .files import FileStore
from .sqlite import SqliteStore

STORES = {"sqlite": SqliteStore, "files": FileStore}
#: what a store raises when it cannot write: the disk, the folder, the database file
WRITE_ERRORS = (OSError, sqlite3.Error)


class Store(Protocol):
    """Raw answers (``Response.to_json()`` text) by request key."""

    def get_many(self, keys: Iterable[str]) -> dict[str, str]: ...
    def put(self, key: str, model: str, raw: str) -> None: ...
    def entries(self) -> Iterator[tuple[str, str, str]]: ...
    def close(self) -> None: ...


class CacheWriteError(GenspecError):
    """The cache cannot keep answers: the run stops before it pays for more."""


def open_store(directory: str | Path, kind: str) -> Store:
    """The store of ``kind`` in ``directory`` (created), or a one-line error naming it."""
    folder = Path(directory).expanduser()
    try:
        folder.mkdir(parents=True, exist_ok=True)
        return STORES[kind](folder)
    except WRITE_ERRORS as error:
        raise CacheWriteError(
            f"The answer cache at {folder} cannot be written ({reason(error)}). "
            "Free space there, or set cache.dir to a writable folder with room."
        ) from None


def reason(error: BaseException) -> str:
    return getattr(error, "strerror", None) or str(error) or type(error).__name__


class ResponseCache:
    """Read/write answers; ``mode`` may make it read-only, write-only or off."""

    def __init__(self, config: CacheConfig) -> None:
        self.mode = config.mode
        self.directory = Path(config.dir).expanduser()
        self.stored = 0  # answers this cache object kept: said when the disk fills up
        self._store = open_store(self.directory, config.store) if self.mode != "off" else None

    def get_many(self, keys: Iterable[str]) -> dict[str, Response]:
        """Cached answers for the keys that have one (marked ``cached=True``)."""
        if self._store is None or self.mode == "writeonly":
            return {}
        found = self._store.get_many(keys)
        return {key: _as_cached(Response.from_json(raw)) for key, raw in found.items()}

    def put(self, key: str, model: str, response: Response) -> None:
        """Store one answer now (answers with an error are not stored: retry next run).

        Raises :class:`CacheWriteError` when the answer cannot be kept, saying how many
        were, so the engine stops sending calls whose answers would be lost.
        """
        if self._store is None or self.mode == "readonly" or response.error:
            return
        try:
            self._store.put(key, model, response.to_json())
        except WRITE_ERRORS as error:
            raise CacheWriteError(
                f"The answer cache at {self.directory} could not store an answer "
                f"({reason(error)}), so the run stopped before paying for more: "
                f"{self.stored} answer(s) of this run are kept there and will not be paid "
                "for again (answers to calls still in flight were not). Free space there "
                "(or set cache.dir to a folder with room) and run the same command to resume."
            ) from None
        self.stored += 1

    def close(self) -> None:
        if self._store is not None:
            self._store.close()
            self._store = None


def _as_cached(response: Response) -> Response:
    return Response(**{**response.__dict__, "cached": True})
