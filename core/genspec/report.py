"""``genspec report``: the cross-domain verdict from runs stored in MLflow.

Reads each domain's latest parent run (or the runs named) from any tracking URI,
takes its evidence from ``verdict.json`` (:mod:`genspec.documents`) and prints the
medicine / finance / law table with the verdict on "the pattern repeats", as a
terminal table, markdown, JSON or CSV. ``--plots DIR`` writes the forest plot and
per-domain accuracy plots.
"""

from __future__ import annotations

import csv
import io
import json
import os
from collections.abc import Sequence
from pathlib import Path

import click
from rich.markdown import Markdown

from genspec.analysis import cross_domain
from genspec.console import console, evidence_view, results_table
from genspec.errors import GenspecError
from genspec.evidence import CrossDomainVerdict, DomainEvidence
from genspec.rendering import accuracy_markdown, cross_markdown, domain_markdown
from genspec.tracking.reader import StoredRun

CSV_FIELDS = (
    "domain",
    "run_id",
    "kind",
    "task",
    "model_a",
    "model_b",
    "n",
    "score_a",
    "score_b",
    "difference",
    "ci_low",
    "ci_high",
    "test",
    "p_value",
    "p_adjusted",
    "mde",
    "verdict",
)


def _evidences(runs: Sequence[StoredRun]) -> list[tuple[StoredRun, DomainEvidence]]:
    usable = [(run, run.verdict) for run in runs if run.verdict is not None]
    if not usable:
        raise GenspecError(
            "No genspec runs with a verdict match these filters. Run `genspec run` first, "
            "or check --uri / --experiment / --domain."
        )
    _refuse_repeated_domains(usable)
    return usable


def _refuse_repeated_domains(pairs: Sequence[tuple[StoredRun, DomainEvidence]]) -> None:
    """A cross-domain verdict counts each domain once: two runs of one domain (named
    with --run-id) would count it twice, so they are refused, naming the runs."""
    runs: dict[str, list[str]] = {}
    for run, evidence in pairs:
        runs.setdefault(evidence.domain, []).append(run.run_id)
    repeated = {domain: ids for domain, ids in runs.items() if len(ids) > 1}
    if repeated:
        named = "; ".join(f"{domain}: {', '.join(ids)}" for domain, ids in repeated.items())
        raise GenspecError(
            f"Each domain counts once in the cross-domain verdict, but these runs repeat a "
            f"domain ({named}). Pass one --run-id per domain, or none to use the newest "
            "complete run of each."
        )


def _csv(pairs: Sequence[tuple[StoredRun, DomainEvidence]]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=CSV_FIELDS, extrasaction="ignore")
    writer.writeheader()
    for run, evidence in pairs:
        for comparison in (*evidence.comparisons, *evidence.pooled):
            writer.writerow(
                {**comparison.to_json(), "domain": evidence.domain, "run_id": run.run_id}
            )
    return out.getvalue()


def _plots_folder(directory: Path) -> None:
    """Make the ``--plots`` folder before anything is printed: a folder that cannot be
    written fails in one line, not in a traceback after the report."""
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise GenspecError(
            f"--plots {directory}: cannot create the folder ({error.strerror or error}). "
            "Pass a folder you can write to."
        ) from None
    if not os.access(directory, os.W_OK):
        raise GenspecError(f"--plots {directory}: folder is not writable. Pass another one.")


def write_plots(pairs: Sequence[tuple[StoredRun, DomainEvidence]], directory: Path) -> list[Path]:
    """The report's plots, into ``directory`` (made and checked by :func:`render`)."""
    from genspec.plots import accuracy_plot, forest_plot

    paths = [forest_plot([e for _, e in pairs], directory / "forest.png")]
    for run, evidence in pairs:
        summaries = run.results.results if run.results else ()
        paths.append(accuracy_plot(summaries, directory / f"accuracy-{evidence.domain}.png"))
    return paths


def render(runs: Sequence[StoredRun], fmt: str, plots: Path | None = None) -> None:
    """Print the report in ``fmt`` (table|markdown|json|csv) and write plots if asked."""
    if plots is not None:
        _plots_folder(plots)
    pairs = _evidences(runs)
    verdict = cross_domain([e for _, e in pairs])
    if fmt == "json":
        document = {
            "cross_domain": verdict.to_json(),
            "domains": [e.to_json() for _, e in pairs],
            "runs": [
                {
                    "run_id": r.run_id,
                    "experiment": r.experiment,
                    "domain": r.domain,
                    "started": r.started.isoformat(),
                }
                for r, _ in pairs
            ],
        }
        click.echo(json.dumps(document, indent=2))
    elif fmt == "csv":
        click.echo(_csv(pairs), nl=False)
    elif fmt == "markdown":
        click.echo(_markdown(verdict, pairs))
    else:  # the terminal: the compact tables `genspec run` prints, which fit 80 columns
        if len(pairs) > 1:  # one domain has no cross-domain question to answer
            console.print(Markdown(cross_markdown(verdict)))
        for run, evidence in pairs:
            console.print(source_line(run), style="dim")
            if run.results is not None:
                title = f"Results · {evidence.domain}"
                console.print(results_table(run.results.results, title))
                if facts := _facts(run):
                    console.print(Markdown(facts))
            console.print(evidence_view(evidence))
    if plots is not None:
        for path in write_plots(pairs, plots):
            console.print(f"wrote {path}", style="dim")


def show_cross_domain(runs: Sequence[StoredRun]) -> None:
    """The cross-domain verdict and its table alone (each domain's detail is elsewhere)."""
    verdict = cross_domain([e for _, e in _evidences(runs)])
    console.print(Markdown(cross_markdown(verdict)))
    console.print("Every domain's evidence again, plots and other formats: genspec report")


def _markdown(
    verdict: CrossDomainVerdict, pairs: Sequence[tuple[StoredRun, DomainEvidence]]
) -> str:
    parts = [cross_markdown(verdict)] if len(pairs) > 1 else []
    for run, evidence in pairs:
        results = accuracy_markdown(run.results.results, evidence.domain) if run.results else ""
        pieces = (f"_{source_line(run)}_", results, _facts(run), domain_markdown(evidence))
        parts.append("\n\n".join(p for p in pieces if p))
    return "\n\n".join(parts)


FACTS = ("params_b", "released", "family", "access", "price_in", "price_out")


def _facts(run: StoredRun) -> str:
    """The roster's declared model facts (size, date, family, access, price) as a
    Markdown table, so a reader sees whether the bigger or newer model won; empty when
    no model declares any."""
    models = [m for m in (run.results.models if run.results else ()) if m.facts]
    if not models:
        return ""
    shown = [key for key in FACTS if any(key in m.facts for m in models)]
    lines = [
        "| model | role | " + " | ".join(shown) + " |",
        "|---|---|" + "---|" * len(shown),
        *(
            f"| {m.name} | {m.role} | " + " | ".join(m.facts.get(k, "–") for k in shown) + " |"
            for m in models
        ),
    ]
    return "\n".join(lines)


def source_line(run: StoredRun) -> str:
    """Which stored run a domain's numbers come from, and when it ran."""
    started = run.started.strftime("%Y-%m-%d %H:%M %Z").strip()
    return f"{run.domain}: MLflow run {run.run_id} of {started} (experiment {run.experiment})"
