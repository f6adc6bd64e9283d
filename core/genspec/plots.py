"""PNG plots of the evidence: a forest plot of paired differences, and scores per model.

matplotlib is imported inside the functions (it is slow to import and only needed
when a run draws), and figures are drawn on the Agg canvas directly, without
pyplot: no window, no global backend switch, safe on a headless server.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from genspec.evidence import (
    GENERALIST_VS_SPECIALIST,
    POOLED,
    DomainEvidence,
    ModelTaskSummary,
    ReportedRow,
)

if TYPE_CHECKING:
    from matplotlib.figure import Figure

ROLE_COLOURS = {"generalist": "#1f77b4", "specialist": "#d62728", "base": "#7f7f7f"}
SMOKE_NOTE = "SMOKE RUN on tiny or stand-in models: not evidence about the claim"


def _figure(rows: int) -> Figure:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(9, 1.6 + 0.35 * max(rows, 1)), layout="constrained")
    FigureCanvasAgg(figure)
    return figure


def _save(figure: Figure, path: Path | str) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, format="png", dpi=120)
    return path


def forest_plot(evidences: Sequence[DomainEvidence], path: Path | str) -> Path:
    """Paired differences with their intervals: one line per task, a diamond per pool.

    Generalist-vs-specialist rows are dark, specialist-vs-base rows grey; points
    right of the zero line favour the first-named model.
    """
    rows = [
        (evidence.domain, comparison)
        for evidence in evidences
        for pooled in evidence.pooled
        for comparison in [
            *(c for c in evidence.comparisons if c.family == pooled.family),
            pooled,
        ]
    ]
    figure = _figure(len(rows))
    axes = figure.subplots()
    for y, (_, c) in enumerate(rows):
        colour = "black" if c.kind == GENERALIST_VS_SPECIALIST else "grey"
        pooled = c.task == POOLED
        axes.errorbar(
            100 * c.result.difference,
            y,
            xerr=_error_bar(c.result.difference, c.result.ci_low, c.result.ci_high),
            fmt="D" if pooled else "o",
            markersize=8 if pooled else 5,
            color=colour,
            capsize=3,
        )
    labels = [f"{domain} · {c.task} · {c.model_a} − {c.model_b}" for domain, c in rows]
    axes.set_yticks(range(len(rows)), labels, fontsize=8)
    axes.invert_yaxis()
    axes.axvline(0, color="black", linewidth=0.8, linestyle="--")
    axes.set_xlabel("difference in score (percentage points), 95% CI")
    title = "Paired differences per task, pooled per domain (diamonds)"
    if any(e.smoke for e in evidences):
        title += f"\n{SMOKE_NOTE}"
    if not rows:
        axes.text(0.5, 0.5, "no comparisons", ha="center", va="center", transform=axes.transAxes)
    axes.set_title(title, fontsize=10)
    return _save(figure, path)


def _error_bar(estimate: float, low: float, high: float) -> list[list[float]]:
    """Bar lengths in percentage points. A percentile bootstrap interval need not contain
    its point estimate, and matplotlib refuses negative lengths, so they are clipped."""
    return [[max(0.0, 100 * (estimate - low))], [max(0.0, 100 * (high - estimate))]]


def accuracy_plot(
    summaries: Sequence[ModelTaskSummary],
    path: Path | str,
    reported: Iterable[ReportedRow] = (),
) -> Path:
    """Each model's score per task with its 95% interval, coloured by role.

    Published numbers, if given, are hollow squares labelled "reported" (no interval:
    they are not measured here).
    """
    measured = [s for s in summaries if s.score is not None]  # a score always has a CI
    published = list(reported)
    figure = _figure(len(measured) + len(published))
    axes = figure.subplots()
    labels: list[str] = []
    for task in dict.fromkeys([*(s.task for s in measured), *(r.task for r in published)]):
        for s in (s for s in measured if s.task == task):
            axes.errorbar(
                100 * s.score,
                len(labels),
                xerr=_error_bar(s.score, s.ci_low, s.ci_high),
                fmt="o",
                color=ROLE_COLOURS.get(s.role, "black"),
                capsize=3,
            )
            labels.append(f"{task} · {s.model} ({s.role}, n={s.n})")
        for r in (r for r in published if r.task == task):
            colour = ROLE_COLOURS.get(r.role, "black")
            axes.plot(100 * r.score, len(labels), "s", markerfacecolor="none", color=colour)
            labels.append(f"{task} · {r.model} (reported)")
    axes.set_yticks(range(len(labels)), labels, fontsize=8)
    axes.invert_yaxis()
    axes.set_xlim(0, 100)
    axes.set_xlabel("score (%), 95% CI")
    axes.set_title("Score per model and task", fontsize=10)
    return _save(figure, path)
