"""Write one domain run to MLflow: a parent run, and a nested run per model.

Parent run: run-level params (data fingerprints, prompt hashes), the resolved config
with secrets masked, the run's documents (``results.json``, ``rows.json``,
``verdict.json``, built by :mod:`genspec.documents`), ``verdict.md`` and plots.
Nested runs: the model's params, per-task metrics and the per-example table, which
the MLflow UI shows under "Evaluation" / artifacts.
"""

from __future__ import annotations

import datetime as dt
import functools
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from genspec import __version__
from genspec.axes.report import model_metrics
from genspec.config.schema import ModelSpec, RunConfig, TrackingConfig
from genspec.documents import ModelEntry, RunDocuments, TaskEntry
from genspec.grading.summary import PanelSummary, panel_metrics
from genspec.rendering import domain_markdown
from genspec.results import ExampleResult, model_costs, to_frame
from genspec.secrets import redact
from genspec.shards import group_key
from genspec.tracking import ui
from genspec.tracking.outbox import Delivery, Recorder, deliver, new_folder
from genspec.tracking.redact import hide_data_dir, protect, row_label

DEFAULT_DB = "mlflow.db"
_MAX_PARAM = 6000  # MLflow's limit on a param value


def tracking_uri(config: TrackingConfig) -> str:
    """``$MLFLOW_TRACKING_URI``, else ``tracking.uri``, else ``./mlflow.db`` (SQLite)."""
    return os.environ.get("MLFLOW_TRACKING_URI") or config.uri or local_uri()


def check_uri(uri: str) -> None:
    """Refuse, before any model runs, a tracking URI that no MLflow store can ever serve
    (an unknown scheme, a folder store this MLflow no longer writes). Without this the
    run ends in the outbox, and `genspec sync` can never upload it. An unreachable
    server is not refused here: it may come back, and the outbox is for that."""
    from urllib.parse import urlparse

    from genspec.errors import ConfigError
    from genspec.secrets import mask_url

    fix = "Set tracking.uri (or MLFLOW_TRACKING_URI) to e.g. sqlite:///mlflow.db."
    shown = mask_url(uri)
    try:
        from mlflow.tracking._tracking_service.utils import _tracking_store_registry
    except ImportError:  # MLflow moved its registry: the upload will say what is wrong
        return
    scheme = urlparse(uri).scheme
    try:
        builder = _tracking_store_registry.get_store_builder(uri)
    except Exception:
        raise ConfigError(
            f"Tracking URI '{shown}': MLflow has no store for '{scheme}:'. {fix}"
        ) from None
    if scheme in ("", "file"):  # a folder store, which this MLflow may refuse to write
        try:
            builder(store_uri=uri, artifact_uri=None)
        except Exception as error:
            text = " ".join(str(error).split()) or type(error).__name__
            reason = text.split(". ")[0].rstrip(".")
            raise ConfigError(f"Tracking URI '{shown}': {reason}. {fix}") from None


def local_uri(directory: Path | None = None) -> str:
    return f"sqlite:///{((directory or Path.cwd()) / DEFAULT_DB).resolve()}"


def _model_params(model: ModelSpec) -> dict[str, Any]:
    params = {
        "model.name": model.name,
        "model.id": model.id,
        "model.role": model.role.value,
        "model.backend": model.backend,
        "model.base": model.base or "",
        "model.scoring": model.scoring_method,
    }
    params.update({f"model.{k}": v for k, v in model.facts().items()})
    params.update({f"model.params.{k}": v for k, v in redact(model.params).items()})
    return params


PromptChoice = Mapping[tuple[str, str], tuple[str, Mapping[str, float]]]


def _prompt_choice(choice: PromptChoice, model: str) -> tuple[dict[str, str], dict[str, float]]:
    """Params (template used per task) and metrics (dev accuracy per candidate)."""
    params, metrics = {}, {}
    for (name, task), (chosen, dev_scores) in choice.items():
        if name == model:
            params[f"{task}.prompt"] = chosen
            metrics.update({f"{task}.dev.{t}.accuracy": v for t, v in dev_scores.items()})
    return params, metrics


def _metric_key(text: str) -> str:
    """MLflow metric names allow letters, digits, ``_-./`` and spaces ("Gynaecology & ...")."""
    return re.sub(r"[^\w\-./ ]", "_", text)


def _task_metrics(summaries: Iterable[Any], model: str) -> dict[str, float]:
    """``<task>.accuracy`` ... per task, ``<task>.<category>.accuracy`` ... per category,
    and the task's secondary metrics (``ddx.top1``) beside them."""
    metrics: dict[str, float] = {}
    for s in summaries:
        if s.model != model:
            continue
        prefix = _metric_key(f"{s.task}.{s.category}" if s.category else s.task)
        for name in ("score", "ci_low", "ci_high", "invalid_rate", "n", "errors"):
            value = getattr(s, name)
            if value is not None:
                metrics[f"{prefix}.{'accuracy' if name == 'score' else name}"] = float(value)
        metrics.update({f"{prefix}.{_metric_key(k)}": float(v) for k, v in s.metrics.items()})
    return metrics


def _usage_metrics(
    frame: Any, model: ModelSpec, gpu_usd_per_hour: float | None = None
) -> dict[str, float]:
    """Tokens, dollars, latency, cache use and failed calls of one model's rows.

    ``cost_usd`` is every priced call of the run (dev items included); ``paid_usd``
    the part not answered from the cache; ``accuracy_per_usd`` is on the test split,
    as in the terminal's cost table.
    """
    costs = frame["cost_usd"].dropna()
    metrics = {
        "input_tokens": float(frame["input_tokens"].sum()),
        "output_tokens": float(frame["output_tokens"].sum()),
        "latency_mean_s": float(frame["latency_s"].mean()) if len(frame) else 0.0,
        "cached_fraction": float(frame["cached"].mean()) if len(frame) else 0.0,
        "errors": float(frame["error"].notna().sum()),
    }
    if len(costs):
        metrics["cost_usd"] = float(costs.sum())
        metrics["paid_usd"] = float(frame.loc[~frame["cached"], "cost_usd"].dropna().sum())
    # these are one model's rows: one entry, or none
    for cost in model_costs(frame, [model], gpu_usd_per_hour):
        metrics["test_cost_usd"] = cost.cost_usd
        if cost.accuracy_per_usd is not None:
            metrics["accuracy_per_usd"] = cost.accuracy_per_usd
        if cost.usd_per_correct is not None:
            metrics["usd_per_correct"] = cost.usd_per_correct
    return metrics


def _provider_params(entry: ModelEntry) -> dict[str, str]:
    """The model versions and system fingerprints the provider reported for the model.

    An API name such as ``openai/gpt-4o`` points at whatever the provider serves that
    day; these values are how a re-run months later shows whether it changed.
    """
    params = {
        "provider.model": ",".join(entry.provider_models),
        "provider.system_fingerprint": ",".join(entry.system_fingerprints),
    }
    return {name: value[:_MAX_PARAM] for name, value in params.items() if value}


def _task_params(tasks: Iterable[TaskEntry]) -> dict[str, Any]:
    params: dict[str, Any] = {}
    for task in tasks:
        params[f"task.{task.name}.fingerprint"] = task.fingerprint
        params[f"task.{task.name}.prompt_hash"] = task.prompt_hash
        params[f"task.{task.name}.n"] = task.n
    return params


def log_domain_run(
    config: RunConfig,
    models: Sequence[ModelSpec],
    rows: Sequence[ExampleResult],
    documents: RunDocuments,
    plain_config: Mapping[str, Any],
    *,
    prompt_choice: PromptChoice | None = None,
    plots: Iterable[Path] = (),
    facts: ui.RunFacts | None = None,
    shots: Mapping[str, int] | None = None,
    splits: Mapping[str, Any] | None = None,
    panels: Sequence[PanelSummary] = (),
) -> Delivery:
    """Log everything about one domain run: to MLflow, or to the outbox if that fails.

    ``documents`` are logged as they are (``rows.json`` with its labels passed through
    the ``tracking.examples`` policy); their per-task and per-category scores are also
    each model's metrics. ``prompt_choice`` maps (model, task) to the template used and
    the dev accuracy of each candidate. ``shots`` maps each task to the few-shot
    examples its prompts held at most (fewer than ``shots`` when the dev pool is small).
    ``splits`` records each task's train/select/test items (``engine.split_record``).
    ``panels`` (the analysis's judge panels) become the parent run's ``panel.*`` metrics.

    Everything is recorded to disk first (:mod:`genspec.tracking.outbox`) with the
    names of MLflow's fluent API, then uploaded in one go.
    """
    results, evidence = documents.results, documents.verdict
    experiment = config.tracking.experiment or f"genspec-{config.domain}"
    folder = new_folder(Path(config.tracking.outbox).expanduser())
    hide = functools.partial(hide_data_dir, mode=config.tracking.examples, data_dir=config.data.dir)
    mlflow = Recorder(folder, experiment, tracking_uri(config.tracking), hide)
    frame = to_frame(rows)
    logged = protect(frame, config.tracking.examples)
    now = dt.datetime.now(dt.timezone.utc)
    stamp = now.astimezone().strftime("%Y-%m-%d %H:%M:%S")
    tags = {
        "genspec.run_date": now.date().isoformat(),
        "genspec.domain": config.domain,
        "genspec.roster": config.roster.name,
        "genspec.smoke": str(config.roster.smoke).lower(),
        "genspec.version": __version__,
    }
    if config.shard:
        fingerprints = {t.name: t.fingerprint for t in results.tasks}
        tags["genspec.shard"] = config.shard
        tags["genspec.shard_group"] = group_key(plain_config, fingerprints)
    with mlflow.start_run(
        run_name=ui.parent_name(evidence, f"{config.domain} · {config.roster.name} · {stamp}"),
        tags={**tags, **ui.parent_tags(evidence, domain_markdown(evidence))},
    ):
        params: dict[str, Any] = {
            "run_date": now.isoformat(timespec="seconds"),
            "domain": config.domain,
            "roster": config.roster.name,
            "data": config.data.source,
            "prompt": config.prompt,
            "shots": config.shots,
            "limit": config.limit,
            "seed": config.seed,
            "tasks": ",".join(t.name for t in results.tasks),
            **_task_params(results.tasks),
            **{f"task.{task}.shots": n for task, n in (shots or {}).items()},
        }
        mlflow.log_params(params)
        from genspec.plan import log_registration

        log_registration(mlflow, config)  # α, correction, margin; the plan and its hash
        mlflow.log_dict(redact(dict(plain_config)), "config.yaml")
        mlflow.log_dict(results.to_json(), "results.json")
        if splits:
            mlflow.log_dict(dict(splits), "splits.json")
        label = row_label(config.tracking.examples, {r.category for r in rows})
        mlflow.log_dict(documents.rows.relabelled(label).to_json(), "rows.json")
        mlflow.log_dict(evidence.to_json(), "verdict.json")
        mlflow.log_text(domain_markdown(evidence), "verdict.md")
        for plot in plots:
            mlflow.log_artifact(str(plot), artifact_path="plots")
        ui.log_parent(mlflow, evidence, results.tasks, logged, config.tracking, facts)
        if graded := panel_metrics(panels):
            mlflow.log_metrics({_metric_key(key): value for key, value in graded.items()})
        entries = {m.name: m for m in results.models}
        for model in models:
            model_rows = frame[frame["model"] == model.name]
            role = {"genspec.role": model.role.value}
            with mlflow.start_run(
                run_name=model.name,
                nested=True,
                tags={**tags, **role, **ui.model_tags(model.role.value, model_rows, facts)},
            ):
                choice_params, dev_metrics = _prompt_choice(prompt_choice or {}, model.name)
                mlflow.log_params(
                    {
                        **_model_params(model),
                        **_provider_params(entries[model.name]),
                        **choice_params,
                    }
                )
                mlflow.log_metrics(
                    {
                        **_task_metrics([*results.results, *results.by_category], model.name),
                        **_usage_metrics(model_rows, model, config.gpu_usd_per_hour),
                        **dev_metrics,
                        **model_metrics(results.axes, model.name),
                    }
                )
                for task, task_rows in logged[logged["model"] == model.name].groupby("task"):
                    mlflow.log_table(
                        task_rows.reset_index(drop=True), artifact_file=f"examples/{task}.json"
                    )
                ui.log_model(mlflow, model.name, logged, results.tasks, config.tracking, facts)
    return deliver(mlflow)
