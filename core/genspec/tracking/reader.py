"""Read genspec runs back from any MLflow tracking store (for ``genspec report``).

Only FINISHED parent runs count: a run still uploading, or one an interrupted upload
left behind, is never read. The shards of one run (``shard=I/N``) are read as one run,
merged by :func:`genspec.shards.merge`.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from genspec.documents import ResultsDocument, RowsDocument
from genspec.errors import GenspecError
from genspec.evidence import DomainEvidence


@dataclass(frozen=True)
class StoredRun:
    """A parent genspec run as logged: its ids, tags and the verdict/results documents
    (None when the run has none, e.g. an older or failed run)."""

    run_id: str
    experiment: str
    domain: str
    started: dt.datetime
    verdict: DomainEvidence | None
    results: ResultsDocument | None
    shards: tuple[str, ...] = ()  # the shard runs merged into this one, if any


def _artifact_json(client: Any, run_id: str, path: str) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        try:
            local = client.download_artifacts(run_id, path, tmp)
        except Exception:  # artifact missing (e.g. an older or failed run)
            return {}
        return json.loads(Path(local).read_text())


def find_runs(
    uri: str,
    *,
    experiments: list[str] | None = None,
    domains: list[str] | None = None,
    run_ids: list[str] | None = None,
    since: dt.date | None = None,
    latest_per_domain: bool = True,
) -> list[StoredRun]:
    """Parent genspec runs matching the filters, newest first.

    With ``latest_per_domain`` only the newest run of each domain is kept unless run ids
    are given: a report compares domains, not repeats.
    """
    client, found = _open_store(uri)
    chosen = [e for e in found if not experiments or e.name in experiments]
    if not chosen:
        return []
    filters = ["tags.`genspec.domain` != ''", "attributes.status = 'FINISHED'"]
    if since:
        start_ms = int(dt.datetime.combine(since, dt.time()).timestamp() * 1000)
        filters.append(f"attributes.start_time >= {start_ms}")
    runs = client.search_runs(
        [e.experiment_id for e in chosen],
        filter_string=" and ".join(filters),
        order_by=["attributes.start_time DESC"],
        max_results=5000,
    )
    names = {e.experiment_id: e.name for e in chosen}
    parents = [r for r in runs if "mlflow.parentRunId" not in r.data.tags]
    stored: list[StoredRun] = []
    seen_domains: set[str] = set()
    seen_groups: set[str] = set()
    for run in parents:
        tags = run.data.tags
        domain = tags.get("genspec.domain", "")
        group = tags.get("genspec.shard_group")
        if (domains and domain not in domains) or group in seen_groups:
            continue
        if run_ids and run.info.run_id not in run_ids:
            continue
        if latest_per_domain and not run_ids and domain in seen_domains:
            continue
        seen_domains.add(domain)
        experiment = names[run.info.experiment_id]
        if group is None:
            stored.append(_stored(client, run, experiment))
        else:
            seen_groups.add(group)
            stored.append(_merged(client, [r for r in parents if _group(r) == group], experiment))
    return stored


def _open_store(uri: str) -> tuple[Any, list[Any]]:
    """A client on an existing store and its experiments, or one line saying why not.

    Reading never creates a store: MLflow would make an empty SQLite file at a mistyped
    path, and retry an unreachable server for minutes before failing.
    """
    # Artifact download bars would land in the middle of JSON/CSV output.
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    fix = "Pass --uri (or set MLFLOW_TRACKING_URI) to the store `genspec run` logged to."
    if uri.startswith("sqlite:///"):
        path = Path(uri.removeprefix("sqlite:///").split("?")[0])
        if not path.is_file():
            raise GenspecError(
                f"No genspec runs: no MLflow store at {uri} ({path} does not exist). "
                f"Run `genspec run` first. {fix}"
            )
        if path.stat().st_size == 0:  # MLflow would build its tables in it, and say so
            raise GenspecError(
                f"No genspec runs: {path} is an empty file, not an MLflow store yet. "
                f"Run `genspec run` first (it creates the store there). {fix}"
            )
        from genspec.tracking.store import check_store

        check_store(path)  # a half-built store is named with its fix, never migrated here
    from genspec.tracking.outbox import reachable

    reason = reachable(uri)
    if reason:
        raise GenspecError(f"Cannot reach the MLflow server at {uri} ({reason}). {fix}")
    from mlflow.tracking import MlflowClient

    try:
        client = MlflowClient(tracking_uri=uri)
        return client, client.search_experiments()
    except Exception as error:  # an unknown scheme, a file store, a corrupt database
        text = str(error).strip() or type(error).__name__
        first = text.splitlines()[0].split(". ")[0].rstrip(".")  # MLflow's are paragraphs
        raise GenspecError(f"Cannot read the MLflow store at {uri}: {first}. {fix}") from None


def _group(run: Any) -> str | None:
    return run.data.tags.get("genspec.shard_group")


def _stored(client: Any, run: Any, experiment: str) -> StoredRun:
    verdict = _artifact_json(client, run.info.run_id, "verdict.json")
    results = _artifact_json(client, run.info.run_id, "results.json")
    return StoredRun(
        run_id=run.info.run_id,
        experiment=experiment,
        domain=run.data.tags["genspec.domain"],
        started=dt.datetime.fromtimestamp(run.info.start_time / 1000),
        verdict=DomainEvidence.from_json(verdict) if verdict else None,
        results=ResultsDocument.from_json(results) if results else None,
    )


def _merged(client: Any, members: list[Any], experiment: str) -> StoredRun:
    """One run from the newest run of each shard of a group (newest first in ``members``).

    A missing shard is an error, not a smaller sample: the report would otherwise
    present part of the items as the whole.
    """
    from genspec.config.shard import Shard
    from genspec.shards import merge

    newest: dict[int, Any] = {}
    count = 0
    for run in members:
        shard = Shard.parse(run.data.tags["genspec.shard"])
        count = max(count, shard.count)
        newest.setdefault(shard.index, run)
    missing = [f"{i}/{count}" for i in range(1, count + 1) if i not in newest]
    domain = members[0].data.tags["genspec.domain"]
    if missing:
        raise GenspecError(
            f"Domain '{domain}': shard(s) {', '.join(missing)} of a sharded run are not in the "
            "store yet. Run them (or `genspec sync` kept runs), or pick runs with --run-id."
        )
    runs = [newest[i] for i in range(1, count + 1)]
    first = _stored(client, runs[0], experiment)
    documents = [_artifact_json(client, r.info.run_id, "rows.json") for r in runs]
    if first.results is None or first.verdict is None or not all(documents):
        raise GenspecError(
            f"Domain '{domain}': a shard run has no readable results.json, verdict.json or "
            "rows.json; re-run that shard."
        )
    rows = [RowsDocument.from_json(d) for d in documents]
    results, verdict = merge(rows, first.results, first.verdict)
    return StoredRun(
        run_id="+".join(r.info.run_id for r in runs),
        experiment=experiment,
        domain=domain,
        started=max(dt.datetime.fromtimestamp(r.info.start_time / 1000) for r in runs),
        verdict=verdict,
        results=results,
        shards=tuple(r.info.run_id for r in runs),
    )
