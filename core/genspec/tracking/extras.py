"""A run's *extras*: what the MLflow UI shows beyond params, metrics and artifacts
(measured times, dataset inputs, experiment tags, traces). :mod:`genspec.tracking.ui`
puts them into the run's record; the outbox applies them when it uploads the record.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

# Keys of a run's extras in the outbox record.
TIMES, DATASETS, EXPERIMENT_TAGS, TRACES = "times", "datasets", "experiment_tags", "traces"


def upload_extras(client: Any, experiment_id: str, run_id: str, extras: Mapping[str, Any]) -> None:
    """Apply a run's extras on upload: experiment tags, dataset inputs and traces.

    (Start and end times are passed to ``create_run`` / ``set_terminated`` by the
    uploader: see :func:`run_times`.)
    """
    for key, value in extras.get(EXPERIMENT_TAGS, {}).items():
        client.set_experiment_tag(experiment_id, key, value)
    if extras.get(DATASETS):
        from mlflow.entities import Dataset, DatasetInput, InputTag

        inputs = [
            DatasetInput(Dataset(**d), tags=[InputTag("mlflow.data.context", "test")])
            for d in extras[DATASETS]
        ]
        client.log_inputs(run_id, datasets=inputs)
    if extras.get(TRACES):
        from genspec.tracking.traces import upload

        upload(client.tracking_uri, experiment_id, run_id, extras[TRACES])


def run_times(extras: Mapping[str, Any], default_ms: int) -> tuple[int, int | None]:
    """(start, end) in ms since the epoch: the measured ones, else the record's start."""
    start, end = extras.get(TIMES) or (None, None)
    return int(start or default_ms), int(end) if end else None
