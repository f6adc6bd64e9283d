"""The local places a run writes to, checked before any model is called.

A run that has paid for its answers must be able to keep them: the outbox (where the
record of every run is written first), a local tracking store and the answer cache must
be writable, with room to spare, before the first call. A local SQLite store is created
whole or not at all (built aside, then renamed into place, under a file lock so two
first runs in one folder do not both build it), and a store that a killed run left half
built is named as such with the command that fixes it; it is never "unreachable".
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import sqlite3
import uuid
from collections.abc import Iterator
from pathlib import Path

from genspec.config.schema import RunConfig
from genspec.errors import StorageError
from genspec.tracking import quiet_mlflow

# Below this much free space, a folder is "full": a run's record (tables, plots,
# results) is a few MB, and the answer cache grows with every call.
MIN_FREE_BYTES = 8 * 2**20


def sqlite_path(uri: str) -> Path | None:
    """The database file of a ``sqlite:///`` URI; None for any other store."""
    if not uri.startswith("sqlite:///"):
        return None
    path = uri.removeprefix("sqlite:///").split("?")[0]
    return Path(path) if path and path != ":memory:" else None


def check_writable(config: RunConfig, uri: str) -> None:
    """Fail in one line, before any model call, if a place the run writes to cannot take
    its output: the outbox, a local SQLite store's folder, the answer cache."""
    places = [(Path(config.tracking.outbox).expanduser(), "tracking.outbox")]
    store = sqlite_path(uri)
    if store is not None:
        places.append((store.parent, "tracking.uri (the local MLflow store)"))
    if config.cache.mode not in ("off", "readonly"):
        places.append((Path(config.cache.dir).expanduser(), "cache.dir"))
    for folder, setting in places:
        _check_folder(folder, setting)


def _check_folder(folder: Path, setting: str) -> None:
    fix = f"Free space there, or point {setting} at a writable folder with room."
    probe = folder / f".genspec-probe-{uuid.uuid4().hex[:8]}"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe.write_bytes(b"genspec")
    except OSError as error:
        reason = error.strerror or type(error).__name__
        raise StorageError(f"{folder} cannot be written ({reason}). {fix}") from None
    finally:
        with contextlib.suppress(OSError):
            probe.unlink()
    free = shutil.disk_usage(folder).free
    if free < MIN_FREE_BYTES:
        raise StorageError(
            f"{folder} is nearly full ({free // 1024} KiB free; a run needs at least "
            f"{MIN_FREE_BYTES // 2**20} MiB). {fix}"
        )


def create_store(uri: str) -> None:
    """Make a local SQLite store ready: built aside and renamed into place if new (so a
    killed first run leaves no half-built store), checked if it exists.

    Holds a file lock beside the database meanwhile: two first runs in a new folder (or
    the jobs of a parallel multirun) would otherwise both migrate the same fresh file
    ("Online migration expected to match one row").
    """
    path = sqlite_path(uri)
    if path is None:
        return
    with _locked(path):
        if path.is_file() and path.stat().st_size > 0:
            check_store(path)
            return
        aside = path.with_name(f".{path.name}.creating")
        aside.unlink(missing_ok=True)  # left by a first run killed while building it
        _build(aside)
        os.replace(aside, path)


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_name(f".{path.name}.lock"), "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _build(path: Path) -> None:
    """Create and migrate MLflow's tables in ``path`` (MLflow does it on first open)."""
    from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore

    quiet_mlflow()
    store = SqlAlchemyStore(f"sqlite:///{path}", str(path.parent / "mlruns"))
    store.engine.dispose()


def check_store(path: Path) -> None:
    """Refuse an existing SQLite file that is not a complete store of this MLflow,
    saying how to fix it, without writing to it (MLflow would try to migrate it)."""
    problem = store_problem(path)
    if problem is not None:
        raise StorageError(
            f"The MLflow store {path} is not usable: {problem}. If a first run was stopped "
            f"while creating it, move it aside (mv {path} {path}.broken) and run again: "
            "genspec creates a new store, and `genspec sync` uploads the runs kept in the "
            f"outbox. If an older MLflow made it, upgrade it: mlflow db upgrade sqlite:///{path}"
        )


def store_problem(path: Path) -> str | None:
    """Why ``path`` is not a complete MLflow store at this MLflow's schema; None if it is."""
    from mlflow.store.db.base_sql_model import Base
    from mlflow.store.db.utils import _get_latest_schema_revision

    try:
        with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as db:
            tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master")}
            versions = (
                [row[0] for row in db.execute("SELECT version_num FROM alembic_version")]
                if "alembic_version" in tables
                else []
            )
    except sqlite3.DatabaseError as error:
        return f"not an SQLite database ({error})"
    missing = sorted(set(Base.metadata.tables) - tables)
    if missing:
        return f"half built ({len(missing)} of MLflow's tables missing, e.g. {missing[0]})"
    head = _get_latest_schema_revision()
    if versions != [head]:
        found = versions[0] if versions else "none"
        return f"schema version {found}, not {head} (its migration did not finish)"
    return None
