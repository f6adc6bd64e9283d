"""What the MLflow UI shows about a run, so it answers "who won?" without opening a file.

The parent run carries the verdict as a tag (``genspec.verdict``), as metrics (one set
per comparison, named ``<kind>.<task>.<stat>`` so a comparison's numbers sort together
and the pooled row first) and as its description (``mlflow.note.content``, which the
UI renders as markdown); its name starts with the verdict. Each model run gets a
one-line description. The experiment gets a description and the ``mlflow.experimentKind``
tag that makes MLflow 3's UI open it on its runs (not on an empty GenAI overview), and
each run lists the task data it read (``log_inputs``: the Dataset column).

MLflow holds scores as fractions in [0, 1]; the terminal prints them as percent.

Everything here is plain data put into the run's record (:mod:`genspec.tracking.outbox`)
as *extras*; :func:`genspec.tracking.extras.upload_extras` applies them when the record is uploaded.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from genspec.evidence import GENERALIST_VS_SPECIALIST, POOLED, SPECIALIST_VS_BASE
from genspec.tracking.extras import DATASETS, EXPERIMENT_TAGS, TIMES, TRACES

if TYPE_CHECKING:
    import pandas as pd

    from genspec.config.schema import TrackingConfig
    from genspec.documents import TaskEntry
    from genspec.evidence import Comparison, DomainEvidence
    from genspec.tracking.outbox import Recorder

VERDICT_TAG = "genspec.verdict"
NOTE_TAG = "mlflow.note.content"  # a run's or an experiment's description in the UI
KIND_TAG = "mlflow.experimentKind"
# "Machine learning" in the UI's experiment-type picker: the experiment opens on its
# runs list; its Traces tab and each run's Traces tab stay available.
RUNS_KIND = "custom_model_development"
_KIND_PREFIX = {GENERALIST_VS_SPECIALIST: "gen_vs_spec", SPECIALIST_VS_BASE: "spec_vs_base"}
MAX_NOTE = 8000  # MLflow's longest tag value: a longer description would fail the upload
_CUT = "\n\n… (cut here: the whole verdict is in `verdict.md`)\n"
_STATS = ("difference", "ci_low", "ci_high", "p_value", "p_adjusted", "mde", "n", "tost_p")


def metric_key(text: str) -> str:
    """MLflow metric names allow letters, digits, ``_-./`` and spaces."""
    return re.sub(r"[^\w\-./ ]", "_", text)


def parent_name(evidence: DomainEvidence | None, base: str) -> str:
    """``HOLDS · medical · paper · 2026-12-06 20:30:00``; smoke runs say so."""
    if evidence is None:
        return base
    smoke = " (smoke)" if evidence.smoke else ""
    return f"{evidence.verdict.value.upper()}{smoke} · {base}"


def parent_tags(evidence: DomainEvidence | None, markdown: str) -> dict[str, str]:
    """The verdict tag, and the description: ``markdown``, the verdict as ``verdict.md``
    has it (the verdict, its tables and notes), cut to MLflow's limit on a tag."""
    if evidence is None:
        return {}
    if len(markdown) > MAX_NOTE:
        markdown = markdown[: MAX_NOTE - len(_CUT)] + _CUT
    return {VERDICT_TAG: evidence.verdict.value, NOTE_TAG: markdown}


def verdict_metrics(evidence: DomainEvidence | None) -> dict[str, float]:
    """Difference, CI bounds, p values, MDE and n of every comparison (fractions).

    ``gen_vs_spec.<task>.difference`` for the claim's comparison on each task and
    ``gen_vs_spec.0_pooled.*`` for the domain estimate; ``spec_vs_base.<specialist>.<task>.*``
    for each specialist against its base. The headline's numbers are also ``verdict.*``
    so one column of the runs list answers the question.
    """
    if evidence is None:
        return {}
    metrics: dict[str, float] = {}
    for comparison in [*evidence.pooled, *evidence.comparisons]:
        metrics.update(_comparison_metrics(comparison, _comparison_key(comparison)))
    if evidence.headline is not None:
        metrics.update(_comparison_metrics(evidence.headline, "verdict"))
    return metrics


def _comparison_key(comparison: Comparison) -> str:
    prefix = _KIND_PREFIX.get(comparison.kind, comparison.kind)
    task = "0_pooled" if comparison.task == POOLED else comparison.task
    if comparison.kind == SPECIALIST_VS_BASE:
        return metric_key(f"{prefix}.{comparison.model_a}.{task}")
    return metric_key(f"{prefix}.{task}")


def _comparison_metrics(comparison: Comparison, prefix: str) -> dict[str, float]:
    """The comparison's numbers as ``verdict.json`` names them; a pooled row adds the
    task-level domain estimates (``task_mean.*``: tasks weighted equally;
    ``random_effects.*`` with heterogeneity ``i2`` and ``tau2``)."""
    values = comparison.to_json()
    metrics = {f"{prefix}.{k}": values[k] for k in _STATS if values.get(k) is not None}
    estimate = values.get("estimate") or {}
    random_effects = estimate.get("random_effects") or {}
    parts = {
        "task_mean": estimate.get("equal_weight") or {},
        "random_effects": {**(random_effects.get("pooled") or {}), **random_effects},
    }
    for name, part in parts.items():
        for stat in ("estimate", "ci_low", "ci_high", "p_value", "i2", "tau2"):
            if isinstance(part.get(stat), int | float):
                metrics[f"{prefix}.{name}.{stat}"] = part[stat]
    return {key: float(value) for key, value in metrics.items()}


@dataclass(frozen=True)
class RunFacts:
    """What the UI shows that the run's documents do not keep: when the run and each
    model's work began and ended (s since the epoch), each choice task's chance level,
    and each test item's question with its options (task → item id → text)."""

    started: float
    finished: float
    model_times: Mapping[str, tuple[float, float]]
    chance: Mapping[str, float]
    questions: Mapping[str, Mapping[str, str]]


def _ms(seconds: float) -> int:
    return int(seconds * 1000)


def log_parent(
    recorder: Recorder,
    evidence: DomainEvidence,
    tasks: Sequence[TaskEntry],
    logged: pd.DataFrame,
    tracking: TrackingConfig,
    facts: RunFacts | None,
) -> None:
    """The parent run's verdict metrics, task data, times, experiment description, and
    one review table per task (``items/<task>.json``)."""
    from genspec.tracking.tables import task_tables

    recorder.log_metrics(verdict_metrics(evidence))
    recorder.log_extra(DATASETS, datasets(tasks))
    recorder.log_extra(EXPERIMENT_TAGS, experiment_tags(evidence.domain))
    if facts is not None:
        recorder.log_extra(TIMES, [_ms(facts.started), _ms(facts.finished)])
    questions = facts.questions if facts is not None else {}
    for task, table in task_tables([t.name for t in tasks], questions, logged, tracking.examples):
        recorder.log_table(table, artifact_file=f"items/{task}.json")


def model_tags(role: str, rows: pd.DataFrame, facts: RunFacts | None) -> dict[str, str]:
    """The model run's one-line description."""
    return {NOTE_TAG: model_note(role, rows, facts.chance if facts is not None else {})}


def log_model(
    recorder: Recorder,
    model: str,
    logged: pd.DataFrame,
    tasks: Sequence[TaskEntry],
    tracking: TrackingConfig,
    facts: RunFacts | None,
) -> None:
    """A model run's task data, times and per-item traces (``logged``: the run's rows,
    masked for ``tracking.examples``)."""
    from genspec.tracking.traces import trace_records

    recorder.log_extra(DATASETS, datasets(tasks))
    times = facts.model_times.get(model) if facts is not None else None
    if times is not None:
        recorder.log_extra(TIMES, [_ms(times[0]), _ms(times[1])])
    start = _ms(times[0]) if times is not None else _ms(time.time())
    traces = trace_records(logged, model, tracking.traces, start)
    if traces:
        recorder.log_extra(TRACES, traces)


def model_note(role: str, rows: pd.DataFrame, chance: Mapping[str, float]) -> str:
    """One line for a model run's description: role, pooled test score over the tasks,
    invalid-answer rate, and a flag when a task's score is below chance."""
    test = rows[(rows["split"] == "test") & rows["error"].isna()]
    if test.empty:
        return f"{role} · no answered test items"
    by_task = test.groupby("task")["correct"].mean()
    below = [
        f"{task} {score:.1%} < chance {chance[task]:.0%}"
        for task, score in by_task.items()
        if task in chance and score < chance[task]
    ]
    line = (
        f"{role} · pooled score {test['correct'].mean():.1%} over {len(test)} test items "
        f"({len(by_task)} task{'s' if len(by_task) != 1 else ''}) · "
        f"invalid answers {test['invalid'].mean():.1%}"
    )
    return line + (f" · below chance: {', '.join(below)}" if below else "")


def experiment_tags(domain: str) -> dict[str, str]:
    """The experiment's description, and the kind that opens it on its runs."""
    note = (
        f"genspec runs for the **{domain}** domain: does the best general-purpose LLM beat "
        "the best domain specialist? Each parent run is one `genspec run`: its name starts "
        "with the verdict, its description holds the verdict and comparison tables, and its "
        "`items/` tables show every model's answer per item. Each nested run is one model; "
        "its Traces tab has one trace per test item with the gold answer and whether the "
        "model was correct. Scores in MLflow are fractions (0.25 = 25%)."
    )
    return {NOTE_TAG: note, KIND_TAG: RUNS_KIND}


def datasets(tasks: Sequence[TaskEntry]) -> list[dict[str, Any]]:
    """Each task's test data as an MLflow dataset input (digest = genspec's fingerprint)."""
    return [
        {
            "name": t.name,
            "digest": t.fingerprint,
            "source_type": "hugging_face" if t.origin.startswith("hub") else "local",
            "source": json.dumps({"origin": t.origin}),
            "profile": json.dumps({"num_rows": t.n}),
        }
        for t in tasks
    ]
