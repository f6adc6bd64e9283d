"""Write one domain run to MLflow: a parent run, and a nested run per model.

Parent run: run-level params (data fingerprints, prompt hashes), the resolved config
with secrets masked, ``results.json``, the verdict (markdown + JSON) and plots.
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
from typing import TYPE_CHECKING, Any

from genspec import __version__
from genspec.config.schema import ModelSpec, TrackingConfig
from genspec.results import model_costs, to_frame
from genspec.shards import group_key, rows_document
from genspec.tracking.outbox import Delivery, Recorder, deliver, new_folder
from genspec.tracking.redact import hide_data_dir, protect, row_label
from genspec.tracking.secrets import redact

if TYPE_CHECKING:
    from genspec.engine import DomainRun, PreparedTask

DEFAULT_DB = "mlflow.db"
DEFAULT_ARTIFACTS = "mlruns"
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
    from genspec.tracking.secrets import mask_url

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
    params.update({f"model.params.{k}": v for k, v in redact(model.params).items()})
    return params


def _prompt_hash(prepared: PreparedTask) -> str:
    """The template's hash, or ``name:hash`` of each candidate under ``prompt=auto``."""
    templates = prepared.templates
    if len(templates) == 1:
        return next(iter(templates.values())).fingerprint()
    return ",".join(f"{name}:{t.fingerprint()}" for name, t in templates.items())


def _prompt_choice(run: DomainRun, model: str) -> tuple[dict[str, str], dict[str, float]]:
    """Params (template used per task) and metrics (dev accuracy per candidate)."""
    params, metrics = {}, {}
    for (name, task), (chosen, dev_scores) in run.prompt_choice.items():
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


def _summary_row(s: Any) -> dict[str, Any]:
    """One summary as results.json writes it (``category`` only in ``by_category``)."""
    row = {
        "model": s.model,
        "role": s.role,
        "task": s.task,
        **({"category": s.category} if s.category else {}),
        "n": s.n,
        "accuracy": s.score,
        "ci_low": s.ci_low,
        "ci_high": s.ci_high,
        "invalid_rate": s.invalid_rate,
        "errors": s.errors,
    }
    return {**row, "metrics": dict(s.metrics)} if s.metrics else row


def _usage_metrics(frame: Any) -> dict[str, float]:
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
    for cost in model_costs(frame):  # these are one model's rows: one entry, or none
        metrics["test_cost_usd"] = cost.cost_usd
        if cost.accuracy_per_usd is not None:
            metrics["accuracy_per_usd"] = cost.accuracy_per_usd
    return metrics


def _distinct(values: Any) -> list[str]:
    return sorted({str(v) for v in values.dropna() if str(v)})


def _provider_params(frame: Any) -> dict[str, str]:
    """The model versions and system fingerprints the provider reported for these rows.

    An API name such as ``openai/gpt-4o`` points at whatever the provider serves that
    day; these values are how a re-run months later shows whether it changed.
    """
    params = {}
    for column, name in (
        ("provider_model", "provider.model"),
        ("system_fingerprint", "provider.system_fingerprint"),
    ):
        values = _distinct(frame[column])
        if values:
            params[name] = ",".join(values)[:_MAX_PARAM]
    return params


def results_document(
    run: DomainRun, summaries: Iterable[Any], categories: Iterable[Any] = ()
) -> dict[str, Any]:
    """``results.json``: the documented, stable summary of a run (see README)."""
    config = run.config
    frame = to_frame(run.rows)
    return {
        "schema": "genspec.results/1",
        "genspec_version": __version__,
        "created": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "domain": config.domain,
        "roster": config.roster.name,
        "smoke": config.roster.smoke,
        "data": config.data.source,
        "prompt": config.prompt,
        "models": [
            {
                "name": m.name,
                "id": m.id,
                "role": m.role.value,
                "backend": m.backend,
                "base": m.base,
                "provider_models": _distinct(frame.loc[frame["model"] == m.name, "provider_model"]),
                "system_fingerprints": _distinct(
                    frame.loc[frame["model"] == m.name, "system_fingerprint"]
                ),
            }
            for m in run.models
        ],
        "tasks": [
            {
                "name": p.task.name,
                "n": len(p.examples),
                "fingerprint": p.data.fingerprint,
                "prompt_hash": _prompt_hash(p),
                "origin": p.data.origin,
            }
            for p in run.tasks
        ],
        "results": [_summary_row(s) for s in summaries],
        "by_category": [_summary_row(s) for s in categories],
    }


def log_domain_run(
    run: DomainRun,
    summaries: list[Any],
    plain_config: Mapping[str, Any],
    evidence: Any | None = None,
    plots: Iterable[Path] = (),
    categories: Sequence[Any] = (),
) -> Delivery:
    """Log everything about one domain run: to MLflow, or to the outbox if that fails.

    ``categories`` are per-category summaries (tasks that report by category), logged
    as metrics of each model's run and in ``results.json``.

    Everything is recorded to disk first (:mod:`genspec.tracking.outbox`) with the
    names of MLflow's fluent API, then uploaded in one go.
    """
    config = run.config
    experiment = config.tracking.experiment or f"genspec-{config.domain}"
    folder = new_folder(Path(config.tracking.outbox).expanduser())
    hide = functools.partial(
        hide_data_dir, mode=config.tracking.examples, data_dir=config.data.dir
    )
    mlflow = Recorder(folder, experiment, tracking_uri(config.tracking), hide)
    frame = to_frame(run.rows)
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
        fingerprints = {p.task.name: p.data.fingerprint for p in run.tasks}
        tags["genspec.shard"] = config.shard
        tags["genspec.shard_group"] = group_key(plain_config, fingerprints)
    with mlflow.start_run(run_name=f"{config.domain} · {config.roster.name} · {stamp}", tags=tags):
        params: dict[str, Any] = {
            "run_date": now.isoformat(timespec="seconds"),
            "domain": config.domain,
            "roster": config.roster.name,
            "data": config.data.source,
            "prompt": config.prompt,
            "shots": config.shots,
            "limit": config.limit,
            "seed": config.seed,
            "tasks": ",".join(p.task.name for p in run.tasks),
        }
        for prepared in run.tasks:
            name = prepared.task.name
            params[f"task.{name}.fingerprint"] = prepared.data.fingerprint
            params[f"task.{name}.prompt_hash"] = _prompt_hash(prepared)
            params[f"task.{name}.n"] = len(prepared.examples)
        mlflow.log_params(params)
        from genspec.plan import log_registration

        log_registration(mlflow, config)  # α, correction, margin; the plan and its hash
        mlflow.log_dict(redact(dict(plain_config)), "config.yaml")
        mlflow.log_dict(results_document(run, summaries, categories), "results.json")
        label = row_label(config.tracking.examples, {r.category for r in run.rows})
        mlflow.log_dict(rows_document(run, _positions(run), label), "rows.json")
        if evidence is not None:
            mlflow.log_dict(evidence.to_dict(), "verdict.json")
            mlflow.log_text(evidence.to_markdown(), "verdict.md")
        for plot in plots:
            mlflow.log_artifact(str(plot), artifact_path="plots")
        for model in run.models:
            rows = frame[frame["model"] == model.name]
            with mlflow.start_run(
                run_name=model.name, nested=True, tags={**tags, "genspec.role": model.role.value}
            ):
                choice_params, dev_metrics = _prompt_choice(run, model.name)
                mlflow.log_params(
                    {**_model_params(model), **_provider_params(rows), **choice_params}
                )
                mlflow.log_metrics(
                    {
                        **_task_metrics([*summaries, *categories], model.name),
                        **_usage_metrics(rows),
                        **dev_metrics,
                    }
                )
                for task, task_rows in logged[logged["model"] == model.name].groupby("task"):
                    mlflow.log_table(
                        task_rows.reset_index(drop=True), artifact_file=f"examples/{task}.json"
                    )
    return deliver(mlflow)


def _positions(run: DomainRun) -> dict[tuple[str, str, str], int]:
    """Each item's place in its task's test or dev file: the same in every shard, and in
    file order, which is the order the engine scores them in."""
    positions = {}
    for prepared in run.tasks:
        for split, items in (("test", prepared.data.test), ("dev", prepared.data.dev)):
            positions.update({(prepared.task.name, split, ex.id): i for i, ex in enumerate(items)})
    return positions
