"""Per-item review in MLflow's GenAI evaluation model: one trace per (model, test item).

A trace's inputs are the prompt and its outputs the raw answer; assessments carry the
gold answer (an *expectation*, ``expected_answer``) and the scores (*feedback*:
``correct``, ``valid`` and the task's own per-item metrics such as ``top1``). Each trace
is tied to its model's run (``run_id``), so a model run's Traces tab lists its items,
wrong answers can be filtered by ``correct``, and the evaluation view's "compare to
baseline run" puts two models' answers to the same item side by side.

A trace with its assessments costs 0.1-0.2 s to write to a local store (164 ms on two
busy cores), so each task logs at most ``tracking.traces`` items, the same for every
model: the items some model got wrong first, then the others; 0 turns traces off. The
full per-item tables are always logged.
Under ``tracking.examples=none`` a trace holds no text: ``task/item id`` as input and
the parsed answer as output. The rows given here are already masked for the mode.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

SOURCE_ID = "genspec"


def trace_records(
    logged: pd.DataFrame, model: str, cap: int, start_ms: int
) -> list[dict[str, Any]]:
    """Plain records of one model's traces, for the items :func:`traced_items` picks from
    every model's rows (``logged``). ``start_ms`` is when the model's run began (items
    carry no clock time; each trace lasts the item's measured latency)."""
    if cap <= 0:
        return []
    chosen = traced_items(logged, cap)
    rows = logged[(logged["model"] == model) & (logged["split"] == "test")]
    return [
        _record(row, start_ms)
        for _, row in rows.iterrows()
        if (row["task"], str(row["example_id"])) in chosen
    ]


def traced_items(logged: pd.DataFrame, cap: int) -> set[tuple[str, str]]:
    """(task, item id) of up to ``cap`` test items per task, the same for every model:
    first the items some model got wrong (or left unanswered), then the others, each
    in file order. So the cap keeps the wrong answers a reviewer looks for."""
    test = logged[logged["split"] == "test"]
    missed = (test["correct"] < 1) | test["invalid"].astype(bool) | test["error"].notna()
    chosen: set[tuple[str, str]] = set()
    for task, rows in test.assign(missed=missed).groupby("task", sort=False):
        order = list(dict.fromkeys(str(i) for i in rows["example_id"]))
        wrong = {str(i) for i in rows.loc[rows["missed"], "example_id"]}
        ranked = [i for i in order if i in wrong] + [i for i in order if i not in wrong]
        chosen.update((str(task), item) for item in ranked[:cap])
    return chosen


def _record(row: Any, start_ms: int) -> dict[str, Any]:
    # the prompt alone: the evaluation view pairs two runs' traces of the same inputs
    if "prompt" in row.index:
        inputs = {"prompt": row["prompt"]}
        outputs = {"answer": row["raw_output"], "prediction": row["prediction"]}
    else:
        inputs = {"item": f"{row['task']}/{row['example_id']}"}
        outputs = {"prediction": row["prediction"]}
    feedback: dict[str, Any] = {"valid": not bool(row["invalid"])}
    correct = float(row["correct"])
    feedback["correct"] = bool(correct) if correct in (0.0, 1.0) else correct
    feedback.update({k: float(v) for k, v in (row.get("metrics") or {}).items()})
    return {
        "name": f"{row['task']} · {row['example_id']}",
        "inputs": inputs,
        "outputs": outputs,
        "tags": {
            "genspec.task": str(row["task"]),
            "genspec.item": str(row["example_id"]),
            "genspec.model": str(row["model"]),
            "genspec.correct": str(feedback["correct"]).lower(),
        },
        "start_ms": start_ms,
        "duration_ms": max(1, int(float(row["latency_s"] or 0) * 1000)),
        "error": row["error"] if isinstance(row["error"], str) else None,
        "expected_answer": row["gold"],
        "feedback": feedback,
    }


ASYNC = "MLFLOW_ENABLE_ASYNC_TRACE_LOGGING"


@contextlib.contextmanager
def _tracing_to(uri: str) -> Iterator[None]:
    """Point MLflow's tracer at ``uri`` for a while, writing each trace at once.

    The tracer writes to the global tracking URI (``set_tracking_uri`` also sets
    ``$MLFLOW_TRACKING_URI``), so both come back after. Its default background queue
    makes every flush wait on worker threads (about half the cost of a few traces), and
    an assessment needs its trace stored first: synchronous export is faster here.
    """
    import mlflow
    from mlflow.tracking._tracking_service import utils

    from genspec.tracking import quiet_mlflow

    quiet_mlflow()
    saved = {name: os.environ.get(name) for name in ("MLFLOW_TRACKING_URI", ASYNC)}
    previous = utils._tracking_uri
    os.environ[ASYNC] = "false"  # read when the tracer is set up again, just below
    mlflow.set_tracking_uri(uri)
    try:
        yield
    finally:
        mlflow.set_tracking_uri(previous)  # None: unset, as it was
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def upload(uri: str, experiment_id: str, run_id: str, records: Sequence[dict[str, Any]]) -> None:
    """Write each trace, then its assessments."""
    import mlflow
    from mlflow import MlflowClient
    from mlflow.entities import AssessmentSource

    code = AssessmentSource(source_type="CODE", source_id=SOURCE_ID)
    gold = AssessmentSource(source_type="HUMAN", source_id="gold label")
    with _tracing_to(uri):
        client = MlflowClient(uri)
        for record in records:
            start_ns = record["start_ms"] * 1_000_000
            span = client.start_trace(
                record["name"],
                inputs=record["inputs"],
                tags=record["tags"],
                experiment_id=experiment_id,
                run_id=run_id,
                start_time_ns=start_ns,
            )
            failed = record["error"] is not None
            client.end_trace(
                span.trace_id,
                outputs={"error": record["error"]} if failed else record["outputs"],
                status="ERROR" if failed else "OK",
                end_time_ns=start_ns + record["duration_ms"] * 1_000_000,
            )
            mlflow.log_expectation(
                trace_id=span.trace_id,
                name="expected_answer",
                value=record["expected_answer"],
                source=gold,
            )
            for name, value in record["feedback"].items():
                mlflow.log_feedback(trace_id=span.trace_id, name=name, value=value, source=code)
