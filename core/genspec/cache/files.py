"""The many-host answer store: one file per request key, content-addressed.

Why files and not SQLite on a shared folder: SQLite's WAL keeps its index in shared
memory that each host sees alone, and its locks are unreliable over NFS, so two hosts
writing one database can corrupt it. Here there is nothing to lock: a key names its own
file (``answers/ab/abcd….json``), written whole under a temporary name, flushed to disk,
then renamed into place. A rename within a folder is atomic on POSIX filesystems and NFS,
so a reader on any host sees either no file or the whole answer; two hosts that answer
the same key write equal content and the last rename wins. Because the name is the key,
per-host stores merge by copying files (``rsync``, ``cp -n``, ``aws s3 sync``) with no
tool at all, and ``genspec cache merge`` does the same across SQLite and file stores.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import uuid
from collections.abc import Iterable, Iterator
from pathlib import Path

FOLDER = "answers"
_KEY = re.compile(r"[0-9a-f]{64}")  # request_key(): a sha256 in hex


class FileStore:
    """Raw answers (JSON text) by key in ``<dir>/answers/<key[:2]>/<key>.json``."""

    def __init__(self, directory: Path) -> None:
        self.root = directory / FOLDER
        self.root.mkdir(parents=True, exist_ok=True)

    def _path(self, key: str) -> Path:
        if not _KEY.fullmatch(key):  # a key becomes a file name: never a path
            raise ValueError(f"not a cache key: {key!r}")
        return self.root / key[:2] / f"{key}.json"

    def get_many(self, keys: Iterable[str]) -> dict[str, str]:
        found: dict[str, str] = {}
        for key in keys:
            try:
                found[key] = json.loads(self._path(key).read_text())["response"]
            except (FileNotFoundError, ValueError, KeyError):
                continue  # not answered yet (a stray or foreign file is no answer either)
        return found

    def put(self, key: str, model: str, raw: str) -> None:
        """Write aside, flush, rename: the file is whole or absent, on every host."""
        path = self._path(key)
        path.parent.mkdir(exist_ok=True)
        temporary = path.with_name(f".{key}.{uuid.uuid4().hex}.tmp")
        try:
            with open(temporary, "x", encoding="utf-8") as file:
                json.dump({"key": key, "model": model, "response": raw}, file)
                file.flush()
                os.fsync(file.fileno())
            os.replace(temporary, path)
        except BaseException:
            with contextlib.suppress(OSError):
                temporary.unlink()
            raise

    def entries(self) -> Iterator[tuple[str, str, str]]:
        """Every stored (key, model, raw answer), for ``genspec cache merge``."""
        for path in sorted(self.root.glob("*/*.json")):  # never the .tmp of a write
            with contextlib.suppress(ValueError, KeyError, OSError):
                entry = json.loads(path.read_text())
                yield path.stem, entry["model"], entry["response"]

    def close(self) -> None:
        """Nothing is held open between calls."""
