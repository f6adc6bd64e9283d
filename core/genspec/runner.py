"""One ``genspec run`` job: engine → statistics → terminal → MLflow.

The runner is the one place that knows both the engine's run and the saved documents:
it turns a :class:`genspec.engine.DomainRun` into :class:`genspec.documents.RunDocuments`,
so tracking logs documents and never needs the engine.
"""

from __future__ import annotations

import datetime as dt
import tempfile
import time
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from genspec import __version__, engine
from genspec.config.schema import RosterConfig, RunConfig
from genspec.console import (
    BarProgress,
    category_table,
    console,
    cost_table,
    evidence_view,
    results_table,
    warning_line,
)
from genspec.errors import BackendError
from genspec.plugins import registry
from genspec.results import failed_calls, model_costs, to_frame, unanswered

if TYPE_CHECKING:
    import pandas as pd

    from genspec.analysis import Analysis
    from genspec.axes.report import AxesReport
    from genspec.documents import RunDocuments
    from genspec.tracking.ui import RunFacts

REAL_RUN_HINT = "genspec run domain={domain} roster=paper data=full limit=500"


def run_domain(
    config: RunConfig, plain_config: Mapping[str, Any], prepared: engine.Prepared | None = None
) -> str | None:
    """Run, report and log one domain; returns the MLflow parent run id, or None when
    the run was kept in the outbox because the tracking store could not be reached."""
    from genspec.analysis import CLUSTER, ITEM_KEY, Settings, analyse
    from genspec.axes.plots import axes_plots
    from genspec.axes.render import show as show_axes
    from genspec.axes.report import report as axes_report
    from genspec.axes.report import with_axes
    from genspec.chance import chance_levels
    from genspec.evidence import ReportedRow
    from genspec.grading.summary import bundled_judges_note, panel_report
    from genspec.plan import read_plan
    from genspec.plots import accuracy_plot, forest_plot, scale_plots
    from genspec.secrets import mask_url
    from genspec.tracking.mlflow_log import check_uri, log_domain_run, tracking_uri
    from genspec.tracking.redact import check_available
    from genspec.tracking.store import check_writable, create_store, sqlite_path

    check_available(config.tracking.examples)
    uri = tracking_uri(config.tracking)
    check_uri(uri)
    check_writable(config, uri)  # before any model call: paid answers must have a home
    create_store(uri)
    for problem in registry().problems:
        warning_line(problem)
    roster = config.roster
    console.print(
        f"[bold]genspec[/] · domain [bold]{config.domain}[/] · roster [bold]{roster.name}[/] "
        f"· data {config.data.source}"
        + (f" · limit {config.limit}" if config.limit else "")
        + (f" · shard {config.shard}" if config.shard else "")
    )
    with BarProgress() as progress:
        result = engine.run(config, progress, prepared)
    for problem in result.problems:
        warning_line(problem)
    for task in result.tasks:  # a warning, not a problem: the run is sound, only smaller
        if note := engine.shots_note(task, result.models, config):
            warning_line(note)

    frame = to_frame(result.rows)
    keys, clusters = _item_keys(result), _clusters(result)
    items = list(zip(frame["task"], frame["example_id"], strict=True))
    frame[ITEM_KEY] = [keys.get(item, "") for item in items]
    frame[CLUSTER] = [clusters.get(item, "") for item in items]
    by_category = [p.task.name for p in result.tasks if p.task.report_by_category]
    graded = any(p.task.panel_graded for p in result.tasks)
    settings = Settings(
        domain=config.domain,
        smoke=roster.smoke,
        seed=config.seed,
        reported=tuple(ReportedRow.of(r) for r in roster.reported),
        alpha=config.alpha,
        correction=config.correction,
        margin=config.margin,
        plan_sha256=read_plan(config.plan).sha256 if config.plan else None,
        scoring=result.scoring,
        size_matched=config.size_matched,
        agreement_floor=config.agreement_floor,
    )
    analysis = analyse(frame, result.models, settings, by_category)
    if graded and (line := bundled_judges_note(config.panel())) is not None:
        evidence = analysis.evidence
        analysis = replace(analysis, evidence=replace(evidence, notes=(*evidence.notes, line)))
    axes = axes_report(result.axis_items, frame, result.models, settings)  # None by default
    if axes is not None:
        analysis = replace(analysis, evidence=with_axes(analysis.evidence, axes))
    summaries, categories, evidence = analysis.summaries, analysis.categories, analysis.evidence
    chance = chance_levels(result.tasks)
    if summaries:
        console.print(results_table(summaries, f"Results · {config.domain}", chance))
    else:  # only checks of the judges ran: their numbers are the panel's, below
        console.print(f"Results · {config.domain}: no model is scored by the tasks of this run.")
    for line in failed_calls(frame):
        warning_line(line)
    for task in by_category:
        rows = [s for s in [*summaries, *categories] if s.task == task]
        console.print(category_table(rows, f"{task} by category · {config.domain}"))
    priced = model_costs(frame, result.models, config.gpu_usd_per_hour)
    costs = cost_table(priced, f"Cost · {config.domain}")
    if costs is not None:
        console.print(costs)
    console.print(evidence_view(evidence))
    for line in panel_report(analysis.panels):
        console.print(line, markup=False, highlight=False)
    if axes is not None:
        show_axes(console, axes.evidence, axes.summaries, evidence)

    with tempfile.TemporaryDirectory() as tmp:
        plots = [
            forest_plot([evidence], Path(tmp) / "forest.png"),
            accuracy_plot(summaries, Path(tmp) / "accuracy.png", chance=chance),
            *scale_plots(summaries, result.models, tmp),
            *(axes_plots(axes, tmp) if axes is not None else []),
        ]
        delivery = log_domain_run(
            config,
            result.models,
            result.rows,
            documents(result, frame, analysis, axes),
            plain_config,
            prompt_choice=result.prompt_choice,
            plots=plots,
            facts=_run_facts(result),
            shots={p.task.name: engine.shots_used(p, result.models, config) for p in result.tasks},
            splits=engine.split_record(result.tasks, config.tracking.examples == "full"),
            panels=analysis.panels,
        )
    if delivery.run_id is None:
        failed = "could not be written" if sqlite_path(uri) else "could not be reached"
        warning_line(
            f"MLflow at {mask_url(uri)} {failed} ({delivery.reason}). "
            f"Nothing is lost: the run is kept in {delivery.kept}; "
            "upload it with `genspec sync` once the store is back."
        )
    else:
        console.print(
            f"Logged to MLflow ({mask_url(uri)}), run [bold]{delivery.run_id}[/]. "
            "Browse it with: [bold]genspec ui[/]"
        )
    if config.shard:
        console.print(
            f"Shard {config.shard}: these numbers cover this shard's items only; "
            "`genspec report` merges the shards of the run into one result."
        )
    if roster.smoke:
        models = _smoke_models(roster, config.domain)
        console.print(
            f"[yellow]This was a smoke run on {models} (roster '{roster.name}'): "
            "it checks the pipeline, it is not evidence about the claim.[/] For a real run:\n"
            f"  {REAL_RUN_HINT.format(domain=config.domain)}"
        )
    if (line := unanswered(frame)) is not None:  # printed and logged above; still a failure
        raise BackendError(line)
    return delivery.run_id


def _smoke_models(roster: RosterConfig, domain: str) -> str:
    """What a smoke roster ran on, in words: bundled local models or stand-ins behind an
    API (such as ``genspec fake-api``)."""
    if any(model.backend == "litellm" for model in roster.for_domain(domain)):
        return "stand-in models"
    return "tiny bundled models"


def documents(
    run: engine.DomainRun, frame: pd.DataFrame, analysis: Analysis, axes: AxesReport | None = None
) -> RunDocuments:
    """``results.json``, ``rows.json`` and ``verdict.json`` of a finished run (with the
    axes' metrics when the run measured any)."""
    from genspec.documents import (
        ModelEntry,
        ResultsDocument,
        RowsDocument,
        RunDocuments,
        TaskEntry,
        statistics,
    )

    config = run.config

    def distinct(model: str, column: str) -> tuple[str, ...]:
        values = frame.loc[frame["model"] == model, column].dropna()
        return tuple(sorted({str(v) for v in values if str(v)}))

    results = ResultsDocument(
        genspec_version=__version__,
        created=dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        domain=config.domain,
        roster=config.roster.name,
        smoke=config.roster.smoke,
        data=config.data.source,
        prompt=config.prompt,
        models=tuple(
            ModelEntry(
                name=m.name,
                id=m.id,
                role=m.role.value,
                backend=m.backend,
                base=m.base,
                provider_models=distinct(m.name, "provider_model"),
                system_fingerprints=distinct(m.name, "system_fingerprint"),
                best=m.best,
                matched=m.matched,
                facts=m.facts(),
            )
            for m in run.models
        ),
        tasks=tuple(
            TaskEntry(
                name=p.task.name,
                n=len(p.examples),
                fingerprint=p.data.fingerprint,
                prompt_hash=_prompt_hash(p),
                origin=p.data.origin,
            )
            for p in run.tasks
        ),
        results=analysis.summaries,
        by_category=analysis.categories,
        axes=axes.summaries if axes is not None else (),
        statistics=statistics(analysis.evidence),
    )
    rows = RowsDocument.build(run.rows, _positions(run), _item_keys(run), _clusters(run))
    return RunDocuments(results, rows, analysis.evidence)


def _run_facts(run: engine.DomainRun) -> RunFacts:
    """What the MLflow UI shows beyond the documents: times, chance levels, questions."""
    from genspec.chance import chance_levels
    from genspec.prompting import format_item
    from genspec.tracking.ui import RunFacts

    return RunFacts(
        started=run.started,
        finished=time.time(),
        model_times=dict(run.model_times),
        chance=chance_levels(run.tasks),
        questions={
            p.task.name: {ex.id: format_item(p.task.kind, ex) for ex in p.examples}
            for p in run.tasks
        },
    )


def _prompt_hash(prepared: engine.PreparedTask) -> str:
    """The template's hash, or ``name:hash`` of each candidate under ``prompt=auto``."""
    templates = prepared.templates
    if len(templates) == 1:
        return next(iter(templates.values())).fingerprint()
    return ",".join(f"{name}:{t.fingerprint()}" for name, t in templates.items())


def _positions(run: engine.DomainRun) -> dict[tuple[str, str, str], int]:
    """Each item's place in its task's test or dev file: the same in every shard, and in
    file order, which is the order the engine scores them in."""
    positions = {}
    for prepared in run.tasks:
        for split, items in (("test", prepared.data.test), ("dev", prepared.data.dev)):
            positions.update({(prepared.task.name, split, ex.id): i for i, ex in enumerate(items)})
    return positions


def _item_keys(run: engine.DomainRun) -> dict[tuple[str, str], str]:
    """Each test item's text digest, by (task, example id): the same question asked by
    two of the domain's tasks has one key, so pooling counts it once."""
    from genspec.stats.overlap import item_key

    return {
        (prepared.task.name, ex.id): item_key(f"{ex.context}\n{ex.question}")
        for prepared in run.tasks
        for ex in prepared.data.test
    }


def _clusters(run: engine.DomainRun) -> dict[tuple[str, str], str]:
    """Each test item's cluster digest, by (task, example id), for tasks that declare a
    cluster field; an item without a value is a cluster of its own."""
    from genspec.stats.overlap import item_key

    return {
        (prepared.task.name, ex.id): item_key(
            ex.extra.get(prepared.task.cluster) or f"item {ex.id}"
        )
        for prepared in run.tasks
        if prepared.task.cluster
        for ex in prepared.data.test
    }
