"""``genspec drift``: ask an earlier run's items again and measure whether answers changed.

A plain rerun cannot show that the model behind an API name changed: with the cache
on, it replays the old answers and their old fingerprint. Drift re-asks a seeded sample
of the earlier run's test items with the cache off (its answers never enter the cache,
so the earlier run still replays as it was), pairs each model's new answers with its
old ones, and reports per model the share of changed answers, McNemar's exact test and
the accuracy difference with its interval, beside both runs' fingerprints and dates.
The drift run is logged to MLflow in the earlier run's experiment, tagged with its id.
"""

from __future__ import annotations

import datetime as dt
import json
import random
import tempfile
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import yaml

from genspec import engine
from genspec.config.schema import CacheConfig, RunConfig
from genspec.errors import GenspecError
from genspec.results import ExampleResult

DRIFT_SCHEMA = "genspec.drift/1"
Item = tuple[str, int]  # (task, position in the task's test file), as rows.json keys items


@dataclass(frozen=True)
class OldAnswer:
    """One model's recorded answer to one item (from the earlier run's rows.json)."""

    template: str
    prediction: str
    correct: float
    failed: bool


@dataclass(frozen=True)
class Original:
    """What the earlier run recorded: its config, test answers, fingerprints and date."""

    run_id: str
    experiment_id: str
    date: str
    plain_config: dict[str, Any]
    answers: dict[str, dict[Item, OldAnswer]]  # model → item → answer
    fingerprints: dict[str, list[str]]  # model → system fingerprints (and served model ids)


@dataclass(frozen=True)
class ModelDrift:
    """One model, old against new on the same items (``difference = new − old``)."""

    model: str
    n: int
    changed: int
    old_accuracy: float
    new_accuracy: float
    difference: float
    ci_low: float
    ci_high: float
    p_value: float  # McNemar's exact test on the items right once and wrong once
    failed: int  # items left out: a failed call, then or now
    old_fingerprints: list[str]
    new_fingerprints: list[str]

    @property
    def changed_share(self) -> float:
        return self.changed / self.n if self.n else 0.0

    def status(self, alpha: float = 0.05) -> str:
        """ "unchanged", "answers changed" or "accuracy changed" (at level ``alpha``)."""
        if self.n and self.p_value < alpha:
            return "accuracy changed"
        return "answers changed" if self.changed else "unchanged"


@dataclass(frozen=True)
class DriftReport:
    original_run: str
    original_date: str
    date: str
    sample: int
    seed: int
    models: tuple[ModelDrift, ...]

    def to_dict(self) -> dict[str, Any]:
        models = [
            {**asdict(m), "changed_share": m.changed_share, "status": m.status()}
            for m in self.models
        ]
        return {"schema": DRIFT_SCHEMA, **asdict(self), "models": models}


def read_original(uri: str, run_id: str) -> Original:
    """The earlier parent run ``run_id`` from the store at ``uri``, or one line why not."""
    from genspec.tracking.reader import find_runs

    found = find_runs(uri, run_ids=[run_id], latest_per_domain=False)
    if not found:
        raise GenspecError(
            f"No finished genspec run '{run_id}' in the MLflow store at {uri}. Pass the parent "
            "run's id (MLflow UI, or `genspec report`) and --uri of the store it was logged to."
        )
    if found[0].shards:
        raise GenspecError(
            f"Run '{run_id}' is one shard of a sharded run; drift re-asks whole runs only. "
            "Run it unsharded, or pass --run of an unsharded run."
        )
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=uri)
    run = client.get_run(run_id)
    with tempfile.TemporaryDirectory() as tmp:
        rows = json.loads(Path(client.download_artifacts(run_id, "rows.json", tmp)).read_text())
        logged = Path(client.download_artifacts(run_id, "config.yaml", tmp)).read_text()
        config = yaml.safe_load(logged)
        results = json.loads(
            Path(client.download_artifacts(run_id, "results.json", tmp)).read_text()
        )
    answers: dict[str, dict[Item, OldAnswer]] = defaultdict(dict)
    for values in rows["data"]:
        row = dict(zip(rows["columns"], values, strict=True))
        if row["split"] == "test":
            answers[row["model"]][row["task"], int(row["item"])] = OldAnswer(
                row["template"], str(row["prediction"]), float(row["correct"]), bool(row["failed"])
            )
    fingerprints = {
        m["name"]: sorted({*m.get("system_fingerprints", []), *m.get("provider_models", [])})
        for m in results.get("models", [])
    }
    date = run.data.params.get("run_date") or found[0].started.isoformat(timespec="seconds")
    return Original(run_id, run.info.experiment_id, date, config, dict(answers), fingerprints)


def sample_items(original: Original, n: int, seed: int) -> list[Item]:
    """A seeded sample of ``n`` test items that the earlier run asked (all if fewer)."""
    items = sorted({item for answers in original.answers.values() for item in answers})
    return sorted(random.Random(seed).sample(items, min(n, len(items))))


def reask(
    config: RunConfig,
    prepared: engine.Prepared,
    items: Sequence[Item],
    original: Original,
    progress: engine.Progress,
) -> tuple[list[ExampleResult], list[str]]:
    """Each model's answers to ``items`` now, with the template it used then (cache off in
    ``config``), and the problems met (a model that failed)."""
    wanted: dict[str, list[int]] = defaultdict(list)
    for task, position in items:
        wanted[task].append(position)
    rows: list[ExampleResult] = []
    problems: list[str] = []
    for task in prepared.tasks:
        name = task.task.name
        examples = tuple(task.data.test[i] for i in wanted.get(name, []))
        by_template: dict[str, list[Any]] = defaultdict(list)
        for model in prepared.models:
            asked = [original.answers.get(model.name, {}).get((name, i)) for i in wanted[name]]
            templates = {a.template for a in asked if a is not None}
            if examples and templates:
                by_template[min(templates)].append(model)  # one template per model on test
        for template, group in by_template.items():
            one = replace(
                task,
                examples=examples,
                templates={template: task.task.prompts[template]},
                dev=(),
            )
            result = engine.run(config, progress, prepared._replace(tasks=[one], models=group))
            rows += result.rows
            problems += result.problems
    return rows, problems


def compare(
    original: Original,
    items: Sequence[Item],
    rows: Sequence[ExampleResult],
    positions: Mapping[tuple[str, str], int],
) -> list[ModelDrift]:
    """Old against new per model, paired on the items both runs answered."""
    from genspec.stats.difference import paired_difference
    from genspec.stats.paired import mcnemar_exact

    new: dict[str, dict[Item, ExampleResult]] = defaultdict(dict)
    for row in rows:
        new[row.model][row.task, positions[row.task, row.example_id]] = row
    drifts = []
    for model, answers in new.items():
        old = original.answers.get(model, {})
        paired = [
            (old[item], answers[item])
            for item in items
            if item in answers and item in old and not old[item].failed and not answers[item].error
        ]
        failed = sum(1 for item in items if item in answers) - len(paired)
        a = [then.correct for then, _ in paired]
        b = [now.correct for _, now in paired]
        difference = paired_difference(b, a) if paired else None
        drifts.append(
            ModelDrift(
                model=model,
                n=len(paired),
                changed=sum(then.prediction != now.prediction for then, now in paired),
                old_accuracy=sum(a) / len(a) if a else 0.0,
                new_accuracy=sum(b) / len(b) if b else 0.0,
                difference=difference.difference if difference else 0.0,
                ci_low=difference.ci_low if difference else 0.0,
                ci_high=difference.ci_high if difference else 0.0,
                p_value=mcnemar_exact(b, a).p_value if paired else 1.0,
                failed=failed,
                old_fingerprints=original.fingerprints.get(model, []),
                new_fingerprints=sorted(
                    {
                        v
                        for r in answers.values()
                        for v in (r.system_fingerprint, r.provider_model)
                        if v
                    }
                ),
            )
        )
    return drifts


def drift(
    uri: str, run_id: str, n: int, seed: int, progress: engine.Progress
) -> tuple[DriftReport, list[str]]:
    """Re-ask ``n`` seeded items of run ``run_id``, compare, and log the drift run.

    Returns the report and the problems met (models that failed to answer)."""
    from genspec.config.compose import validate

    original = read_original(uri, run_id)
    stored = validate(original.plain_config)
    config = stored.model_copy(update={"cache": CacheConfig(mode="off"), "limit": None})
    items = sample_items(original, n, seed)
    if not items:
        raise GenspecError(f"Run '{run_id}' recorded no test answers to ask again.")
    prepared = engine.prepare(config)
    rows, problems = reask(config, prepared, items, original, progress)
    positions = {
        (p.task.name, ex.id): i for p in prepared.tasks for i, ex in enumerate(p.data.test)
    }
    report = DriftReport(
        original_run=run_id,
        original_date=original.date,
        date=dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        sample=len(items),
        seed=seed,
        models=tuple(compare(original, items, rows, positions)),
    )
    log_drift(uri, original, report, rows, positions, config.tracking.examples)
    return report, problems


def log_drift(
    uri: str,
    original: Original,
    report: DriftReport,
    rows: Sequence[ExampleResult],
    positions: Mapping[tuple[str, str], int],
    examples: str,
) -> str:
    """One MLflow run in the earlier run's experiment, tagged ``genspec.drift_of``; the new
    answers are its artifact ``drift_rows.json``, apart from the earlier run's answers.

    It carries no ``genspec.domain`` tag, so ``genspec report`` never reads it as a run.
    Like rows.json, the answers are keyed by item position and hold no prompt; the
    predicted label passes the run's ``tracking.examples`` redaction."""
    import mlflow

    from genspec.tracking import quiet_mlflow
    from genspec.tracking.redact import clean

    quiet_mlflow()
    mlflow.set_tracking_uri(uri)
    tags = {"genspec.drift_of": original.run_id, "genspec.kind": "drift"}
    name = f"drift of {original.run_id[:8]} · {report.date}"
    with mlflow.start_run(experiment_id=original.experiment_id, run_name=name, tags=tags) as run:
        mlflow.log_params(
            {
                "drift_of": original.run_id,
                "original_date": report.original_date,
                "sample": report.sample,
                "seed": report.seed,
            }
        )
        for m in report.models:
            mlflow.log_metrics(
                {
                    f"{m.model}.changed_share": m.changed_share,
                    f"{m.model}.difference": m.difference,
                    f"{m.model}.mcnemar_p": m.p_value,
                    f"{m.model}.n": m.n,
                }
            )
        mlflow.log_dict(report.to_dict(), "drift.json")
        columns = ["task", "item", "model", "template", "prediction", "correct", "failed"]
        data = [
            [r.task, positions[r.task, r.example_id], r.model, r.template,
             clean(r.prediction, examples), r.correct, r.error is not None]
            for r in rows
        ]  # fmt: skip
        mlflow.log_dict({"columns": columns, "data": data}, "drift_rows.json")
        return run.info.run_id


def drift_table(report: DriftReport) -> Any:
    """The terminal view: one row per model, then each model's fingerprints and the dates."""
    from rich.console import Group
    from rich.table import Table

    table = Table(
        title=f"Drift · run {report.original_run[:8]} · {report.sample} items (seed {report.seed})"
    )
    for column in ("model", "n", "changed", "then", "now", "now − then [95% CI]", "McNemar p"):
        table.add_column(column, justify="left" if column == "model" else "right")
    table.add_column("status")
    for m in report.models:
        table.add_row(
            m.model,
            str(m.n),
            f"{100 * m.changed_share:.0f}%",
            f"{100 * m.old_accuracy:.1f}%",
            f"{100 * m.new_accuracy:.1f}%",
            f"{100 * m.difference:+.1f} pp [{100 * m.ci_low:+.1f}, {100 * m.ci_high:+.1f}]",
            f"{m.p_value:.3g}",
            m.status(),
        )
    lines = [f"then: {report.original_date} · now: {report.date}"]
    for m in report.models:
        then, now = ", ".join(m.old_fingerprints) or "—", ", ".join(m.new_fingerprints) or "—"
        lines.append(f"{m.model}: {then} → {now}")
    return Group(table, *lines)
