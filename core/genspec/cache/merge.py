"""``genspec cache merge``: fold per-host caches into one, each answer once.

Hosts without a shared folder (cloud machines with local disks) each keep their own
cache during a sweep; afterwards their answers are merged into one store that every
later run reads, so nothing is paid for twice. Keys are content addresses, so an answer
two hosts both hold is kept once and the merge can be repeated safely.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from itertools import islice
from pathlib import Path

from genspec.errors import GenspecError

from . import WRITE_ERRORS, CacheWriteError, Store, open_store, reason
from .files import FOLDER
from .sqlite import FILE_NAME

_CHUNK = 500


@dataclass(frozen=True)
class Merged:
    """What a merge did: answers ``added`` to the target, ``present`` there already."""

    added: int
    present: int


def source_stores(folder: Path) -> list[Store]:
    """The stores found in a cache folder: its SQLite file, its answer files, or both."""
    found = [
        open_store(folder, kind)
        for kind, marker in (("sqlite", FILE_NAME), ("files", FOLDER))
        if (folder / marker).exists()
    ]
    if not found:
        raise GenspecError(
            f"No answer cache in {folder}: expected {FILE_NAME} or an {FOLDER}/ folder there. "
            "Pass the folder a run used as cache.dir."
        )
    return found


def merge(sources: Sequence[Path], into: Path, kind: str = "files") -> Merged:
    """Copy every answer of ``sources`` that ``into`` lacks into a ``kind`` store there."""
    stores = [store for folder in sources for store in source_stores(Path(folder).expanduser())]
    target = open_store(into, kind)
    added = present = 0
    try:
        for store in stores:
            for chunk in _chunks(store.entries()):
                have = target.get_many(key for key, _, _ in chunk)
                for key, model, raw in chunk:
                    if key in have:
                        present += 1
                    else:
                        target.put(key, model, raw)
                        have[key] = raw  # one key in two sources: kept once
                        added += 1
    except WRITE_ERRORS as error:
        raise CacheWriteError(
            f"Could not write to the answer cache at {into} ({reason(error)}) after adding "
            f"{added} answer(s); they are kept. Free space there and merge again."
        ) from None
    finally:
        for store in (*stores, target):
            store.close()
    return Merged(added=added, present=present)


def _chunks(entries: Iterator[tuple[str, str, str]]) -> Iterator[list[tuple[str, str, str]]]:
    while chunk := list(islice(entries, _CHUNK)):
        yield chunk
