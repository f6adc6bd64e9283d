"""Nothing computed is lost when the tracking server is not there.

A run is first written to disk as a *record* (every param, metric, tag, table and
file of the parent run and its nested runs), then uploaded. If the upload fails the
record stays in the outbox (``.genspec/outbox/<id>/``) and ``genspec sync`` uploads
it later. Uploading a record is the only way genspec writes to MLflow, so the path
``genspec sync`` takes is the one every run takes.

Transient errors are retried by MLflow's own HTTP client (urllib3 ``Retry`` on
connection errors and 429/500/502/503/504, exponential backoff with jitter, every
REST call and proxied artifact upload included). genspec only sets bounded defaults
for it (:data:`RETRY_DEFAULTS`): wrapping the high-level calls in a second retry
layer (tenacity) would multiply attempts and repeat non-idempotent calls such as
``create_run`` after the server had applied them. Runs become FINISHED only when all
of their content is uploaded, the report reads FINISHED runs only, and a retried
upload first deletes the runs a failed attempt left behind.

A record is complete or absent: it is written in ``.pending/`` with its index last,
and one that cannot be written whole (a full disk) is removed, with one line saying
so. Its store URI is written with credentials masked; ``genspec sync`` then takes the
full URI from ``--uri`` or ``$MLFLOW_TRACKING_URI``.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import shutil
import socket
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from genspec.errors import StorageError
from genspec.secrets import MASK, mask_url, scrub_text
from genspec.tracking import quiet_mlflow

RECORD = "record.json"
PENDING = ".pending"
# MLflow's defaults wait up to ~4 minutes per call (7 retries, factor 2); a user's own
# MLFLOW_HTTP_* settings win over these.
RETRY_DEFAULTS = {
    "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "5",  # waits 0, 2, 4, 8, 16 s (+ jitter)
    "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1",
    "MLFLOW_HTTP_REQUEST_BACKOFF_JITTER": "1.0",
    "MLFLOW_HTTP_REQUEST_TIMEOUT": "60",
}
_PARAMS_PER_BATCH = 100  # MLflow's log_batch limits
_METRICS_PER_BATCH = 1000

DEFAULT_ARTIFACTS = "mlruns"  # a local SQLite store keeps its artifacts beside it


@dataclass
class _Run:
    """One run of a record: what MLflow will hold, and where its files are."""

    key: str
    name: str
    tags: dict[str, str]
    params: dict[str, str] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)
    tables: list[str] = field(default_factory=list)
    parent: str | None = None
    # what genspec.tracking.extras applies on upload: times, dataset inputs, traces
    extras: dict[str, Any] = field(default_factory=dict)

    @property
    def info(self) -> Any:
        """Lets ``with recorder.start_run() as run: run.info.run_id`` read as with MLflow."""
        return type("Info", (), {"run_id": self.key})()


class Recorder:
    """Records a parent run and nested runs to a folder with the calls of ``mlflow``'s
    fluent API that genspec uses (``start_run``, ``log_params``, ``log_metrics``,
    ``log_dict``, ``log_text``, ``log_artifact``, ``log_table``).

    ``hide`` is applied to every value recorded (names, tags, params, texts, tables,
    extras): one place where text that must not be stored, such as a private
    ``data.dir`` path, is masked, whichever part of genspec logs it.
    """

    def __init__(
        self, folder: Path, experiment: str, uri: str, hide: Callable[[Any], Any] = lambda v: v
    ) -> None:
        self.folder = folder
        self.experiment, self.uri = experiment, uri  # the full URI stays in memory only
        self._hide = hide
        self.started_ms = int(time.time() * 1000)
        self.runs: list[_Run] = []
        self._stack: list[_Run] = []
        self._write(folder, lambda: folder.mkdir(parents=True, exist_ok=True))

    def _write(self, path: Path, action: Any) -> None:
        """Do one write of the record; if it fails (a full or read-only disk), remove the
        record so no half of it is ever uploaded, and say so in one line."""
        try:
            action()
        except OSError as error:
            shutil.rmtree(self.folder, ignore_errors=True)
            raise StorageError(
                f"Could not write the run's record to {self.folder.parent} "
                f"({error.strerror or error} at {path.name}); nothing half-written was "
                "kept. The answers are in the cache: free space (or set tracking.outbox "
                "to a writable folder) and run the same command again, at no cost."
            ) from None

    @contextlib.contextmanager
    def start_run(
        self, run_name: str, tags: dict[str, Any] | None = None, nested: bool = False
    ) -> Iterator[_Run]:
        parent = self._stack[-1].key if nested and self._stack else None
        run = _Run(
            f"run{len(self.runs)}",
            self._hide(run_name),
            self._hide(_strings(tags or {})),
            parent=parent,
        )
        self.runs.append(run)
        self._stack.append(run)
        try:
            yield run
        finally:
            self._stack.pop()

    @property
    def _run(self) -> _Run:
        return self._stack[-1]

    def _file(self, artifact_file: str, kind: str = "files") -> Path:
        """Where an artifact goes: inside this run's folder, whatever its name says."""
        root = self.folder / self._run.key / kind
        path = root / artifact_file
        if Path(artifact_file).is_absolute() or ".." in Path(artifact_file).parts:
            raise StorageError(
                f"Artifact name '{artifact_file}' would be written outside the run's record; "
                "task, model and roster names may use letters, digits and _ . - only."
            )
        self._write(path, lambda: path.parent.mkdir(parents=True, exist_ok=True))
        return path

    def log_params(self, params: dict[str, Any]) -> None:
        self._run.params.update(self._hide(_strings(params)))

    def log_metrics(self, metrics: dict[str, float]) -> None:
        self._run.metrics.update({k: float(v) for k, v in metrics.items()})

    def log_dict(self, dictionary: Any, artifact_file: str) -> None:
        """JSON, or YAML for a ``.yaml``/``.yml`` name (as ``mlflow.log_dict`` does)."""
        if Path(artifact_file).suffix in (".yaml", ".yml"):
            import yaml

            self.log_text(yaml.safe_dump(dictionary, sort_keys=False), artifact_file)
        else:
            self.log_text(json.dumps(dictionary, indent=2, default=str), artifact_file)

    def log_text(self, text: str, artifact_file: str) -> None:
        path = self._file(artifact_file)
        text = self._hide(text)
        self._write(path, lambda: path.write_text(text, encoding="utf-8"))

    def log_artifact(self, local_path: str, artifact_path: str | None = None) -> None:
        name = Path(local_path).name
        path = self._file(f"{artifact_path}/{name}" if artifact_path else name)
        self._write(path, lambda: shutil.copyfile(local_path, path))

    def log_table(self, data: Any, artifact_file: str) -> None:
        """Kept as columns + rows and logged with ``log_table`` on upload (the UI's view)."""
        path = self._file(artifact_file, "tables")
        document = {
            "columns": list(data.columns),
            "data": self._hide(data.to_dict(orient="split")["data"]),
        }
        self._write(path, lambda: path.write_text(json.dumps(document, default=str), "utf-8"))
        self._run.tables.append(artifact_file)

    def log_extra(self, key: str, value: Any) -> None:
        """Keep a JSON-able value that :func:`genspec.tracking.extras.upload_extras` applies."""
        self._run.extras[key] = self._hide(value)

    def seal(self) -> Path:
        """Write the record's index last, so a folder with one is complete."""
        document = {
            "schema": "genspec.record/1",
            "experiment": self.experiment,
            "uri": mask_url(self.uri),
            "started_ms": self.started_ms,
            "host": socket.gethostname(),
            "pid": os.getpid(),
            "runs": [vars(run) for run in self.runs],
            "uploaded": [],
        }
        self._write(self.folder / RECORD, lambda: _write_json(self.folder / RECORD, document))
        return self.folder


def new_folder(outbox: Path) -> Path:
    """A fresh record folder under ``outbox/.pending`` (moved up only if upload fails)."""
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    return outbox / PENDING / f"{stamp}-{uuid.uuid4().hex[:8]}"


def retry_settings() -> None:
    """Bounded retry defaults for MLflow's HTTP client; the user's settings win."""
    for name, value in RETRY_DEFAULTS.items():
        os.environ.setdefault(name, value)


def reachable(uri: str, attempts: int = 3, timeout_s: float = 2.0) -> str | None:
    """``None`` if the tracking server answers ``/health``, else why not.

    Only HTTP(S) stores are probed: a server that is down is known in seconds here,
    rather than after every retry of the first logging call.
    """
    if not uri.startswith(("http://", "https://")):
        return None
    import requests

    reason = ""
    for attempt in range(attempts):
        try:
            response = requests.get(f"{uri.rstrip('/')}/health", timeout=timeout_s)
            if response.ok:
                return None
            reason = f"HTTP {response.status_code}"
        except requests.RequestException as error:
            reason = type(error).__name__
        time.sleep(0.5 * (attempt + 1))
    return reason


def upload(folder: Path, uri: str | None = None) -> str:
    """Upload one record to MLflow (its own URI unless ``uri`` is given); the parent's id.

    Runs left by an earlier failed attempt are deleted first, so a retried upload never
    leaves two copies.
    """
    from mlflow.tracking import MlflowClient

    from genspec.tracking.extras import run_times, upload_extras

    quiet_mlflow()
    record = json.loads((folder / RECORD).read_text(encoding="utf-8"))
    uri = uri or record["uri"]
    client = MlflowClient(tracking_uri=uri)
    for stale in record["uploaded"]:
        with contextlib.suppress(Exception):  # already gone, or never fully created
            client.delete_run(stale)
    record["uploaded"] = []
    experiment_id = _experiment(client, record["experiment"], uri)
    ids: dict[str, str] = {}
    for run in record["runs"]:
        tags = dict(run["tags"])
        if run["parent"]:
            tags["mlflow.parentRunId"] = ids[run["parent"]]
        start, _ = run_times(run.get("extras", {}), record["started_ms"])
        created = client.create_run(
            experiment_id, start_time=start, tags=tags, run_name=run["name"]
        )
        ids[run["key"]] = created.info.run_id
        record["uploaded"].append(created.info.run_id)
        _write_json(folder / RECORD, record)  # so a later attempt can remove it
        _content(client, created.info.run_id, folder / run["key"], run, record["started_ms"])
        upload_extras(client, experiment_id, created.info.run_id, run.get("extras", {}))
    # finished last, children before the parent: the report reads only FINISHED parents
    for run in reversed(record["runs"]):
        _, end = run_times(run.get("extras", {}), record["started_ms"])
        client.set_terminated(ids[run["key"]], "FINISHED", end_time=end)
    return ids[record["runs"][0]["key"]]


def _content(client: Any, run_id: str, folder: Path, run: dict[str, Any], stamp: int) -> None:
    import pandas as pd
    from mlflow.entities import Metric, Param

    params = [Param(k, v) for k, v in run["params"].items()]
    metrics = [Metric(k, v, stamp, 0) for k, v in run["metrics"].items()]
    for start in range(0, len(params), _PARAMS_PER_BATCH):
        client.log_batch(run_id, params=params[start : start + _PARAMS_PER_BATCH])
    for start in range(0, len(metrics), _METRICS_PER_BATCH):
        client.log_batch(run_id, metrics=metrics[start : start + _METRICS_PER_BATCH])
    files = folder / "files"
    for path in sorted(p for p in files.rglob("*") if p.is_file()):
        directory = path.parent.relative_to(files).as_posix()
        client.log_artifact(run_id, str(path), None if directory == "." else directory)
    for artifact_file in run["tables"]:
        document = json.loads((folder / "tables" / artifact_file).read_text(encoding="utf-8"))
        table = pd.DataFrame(document["data"], columns=document["columns"])
        client.log_table(run_id, table, artifact_file)


def _experiment(client: Any, name: str, uri: str) -> str:
    """The experiment's id, created if needed; parallel workers may race to create it.

    A local SQLite store keeps its artifacts beside the database (``./mlruns``).
    """
    found = client.get_experiment_by_name(name)
    if found is not None:
        return found.experiment_id
    location = None
    if uri.startswith("sqlite:///"):
        root = Path(uri.removeprefix("sqlite:///")).parent / DEFAULT_ARTIFACTS
        location = root.resolve().as_uri()
    try:
        return client.create_experiment(name, artifact_location=location)
    except Exception:
        found = client.get_experiment_by_name(name)  # another worker created it first
        if found is None:
            raise
        return found.experiment_id


@dataclass(frozen=True)
class Delivery:
    """Where a run went: MLflow (``run_id``) or the outbox (``kept`` folder, ``reason``)."""

    run_id: str | None
    kept: Path | None = None
    reason: str = ""


def deliver(recorder: Recorder) -> Delivery:
    """Upload a sealed record; if that fails, keep it in the outbox for ``genspec sync``."""
    folder = recorder.seal()
    retry_settings()
    reason = reachable(recorder.uri)
    if reason is None:
        try:
            run_id = upload(folder, recorder.uri)
        except Exception as error:  # any failure of the store: keep the record
            reason = _why(error)
        else:
            shutil.rmtree(folder, ignore_errors=True)
            return Delivery(run_id)
    kept = folder.parent.parent / folder.name
    folder.rename(kept)
    return Delivery(None, kept, reason)


def _why(error: Exception) -> str:
    """One line on a failed upload, with any credentials in it masked."""
    first = str(error).splitlines()[0][:200] if str(error) else ""
    return scrub_text(f"{type(error).__name__}: {first}")


def _target(record_uri: str, uri: str | None) -> str | None:
    """The store to upload a record to: ``uri`` if given, else the record's own URI; a
    URI written with masked credentials is taken whole from ``$MLFLOW_TRACKING_URI``
    when that is the same store. None when the full URI is not known here."""
    if uri or MASK not in record_uri:
        return uri or record_uri
    environment = os.environ.get("MLFLOW_TRACKING_URI", "")
    return environment if environment and mask_url(environment) == record_uri else None


def waiting(outbox: Path) -> list[Path]:
    """Records to upload: failed ones, and pending ones whose writer is gone."""
    if not outbox.is_dir():
        return []
    found = [p for p in sorted(outbox.iterdir()) if (p / RECORD).is_file()]
    pending = outbox / PENDING
    if pending.is_dir():
        found += [p for p in sorted(pending.iterdir()) if (p / RECORD).is_file() and _orphan(p)]
    return found


def _orphan(folder: Path) -> bool:
    """A pending record whose process ended before it could upload or keep it."""
    record = json.loads((folder / RECORD).read_text(encoding="utf-8"))
    if record.get("host") != socket.gethostname():
        return False
    try:
        os.kill(int(record["pid"]), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def _strings(values: dict[str, Any]) -> dict[str, str]:
    return {str(k): str(v) for k, v in values.items()}


def _write_json(path: Path, document: dict[str, Any]) -> None:
    """Atomic: a reader sees the old file or the new one, never half of one."""
    partial = path.with_suffix(".tmp")
    partial.write_text(json.dumps(document, indent=1), encoding="utf-8")
    partial.replace(path)


def sync(
    outbox: Path, uri: str | None = None
) -> tuple[list[tuple[Path, str]], list[tuple[Path, str]]]:
    """Upload every waiting record; returns (folder, run id) uploaded and (folder, why) not.

    An uploaded record is deleted; one that fails stays for the next ``genspec sync``.
    A local store that is half built stops the sync in one line saying how to fix it.
    """
    from genspec.tracking.store import create_store

    retry_settings()
    uploaded, failed = [], []
    for folder in waiting(outbox):
        recorded = json.loads((folder / RECORD).read_text(encoding="utf-8"))["uri"]
        target = _target(recorded, uri)
        if target is None:
            failed.append(
                (folder, f"{recorded} needs its credentials: pass --uri or set MLFLOW_TRACKING_URI")
            )
            continue
        create_store(target)  # a local store: built whole if new, else checked
        reason = reachable(target)
        if reason is None:
            try:
                uploaded.append((folder, upload(folder, target)))
            except Exception as error:  # keep it; say why
                failed.append((folder, _why(error)))
            else:
                shutil.rmtree(folder, ignore_errors=True)
        else:
            failed.append((folder, f"{mask_url(target)} unreachable ({reason})"))
    return uploaded, failed
