"""PNG plots of the evidence: a forest plot of paired differences, and scores per model.

matplotlib is imported inside the functions (it is slow to import and only needed
when a run draws), and figures are drawn on the Agg canvas directly, without
pyplot: no window, no global backend switch, safe on a headless server.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from genspec.config.schema import ModelSpec
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
    chance: Mapping[str, float] | None = None,
) -> Path:
    """Each model's score per task with its 95% interval, coloured by role.

    Published numbers, if given, are hollow squares labelled "reported" (no interval:
    they are not measured here). ``chance`` (task → chance level) draws each task's
    guessing score as a dashed line across its rows.
    """
    measured = [s for s in summaries if s.score is not None]  # a score always has a CI
    published = list(reported)
    figure = _figure(len(measured) + len(published))
    axes = figure.subplots()
    labels: list[str] = []
    for task in dict.fromkeys([*(s.task for s in measured), *(r.task for r in published)]):
        first = len(labels)
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
        if chance and task in chance:
            level = 100 * chance[task]
            axes.vlines(level, first - 0.4, len(labels) - 0.6, colors="grey", linestyles="--")
            axes.annotate(f"chance {level:.0f}%", (level, first - 0.4), fontsize=7, color="grey")
    axes.set_yticks(range(len(labels)), labels, fontsize=8)
    axes.invert_yaxis()
    axes.set_xlim(0, 100)
    axes.set_xlabel("score (%), 95% CI")
    axes.set_title("Score per model and task", fontsize=10)
    return _save(figure, path)


ROLE_MARKERS = {"generalist": "o", "specialist": "s", "base": "^"}


def scale_plots(
    summaries: Sequence[ModelTaskSummary], models: Sequence[ModelSpec], folder: Path | str
) -> list[Path]:
    """Accuracy against size (log scale) and against release date, one point per model.

    A model's point is its mean score over the run's tasks; role is marked by colour and
    shape. They test the reading "the bigger (or newer) model simply wins": a roster whose
    specialists are small and old shows it at a glance. Models without the declared fact
    (``params_b``, ``released``) are left out of that plot, and counted in its title; a
    plot no model has the fact for is not drawn.
    """
    means: dict[str, list[float]] = {}
    for s in summaries:
        if s.score is not None:
            means.setdefault(s.model, []).append(s.score)
    scored = [(m, 100 * sum(means[m.name]) / len(means[m.name])) for m in models if m.name in means]
    folder = Path(folder)
    sized = [(m, m.params_b, y) for m, y in scored if m.params_b is not None]
    dated = [(m, m.released, y) for m, y in scored if m.released is not None]
    plots = []
    if sized:
        size = _scatter(sized, len(scored), "size (billions of parameters, log scale)", log=True)
        plots.append(_save(size, folder / "accuracy_vs_size.png"))
    if dated:
        date = _scatter(dated, len(scored), "release date", log=False)
        plots.append(_save(date, folder / "accuracy_vs_date.png"))
    return plots


def _scatter(
    points: Sequence[tuple[ModelSpec, object, float]], total: int, xlabel: str, *, log: bool
) -> Figure:
    figure = _figure(8)
    axes = figure.subplots()
    for row, role in enumerate(ROLE_COLOURS):  # labels of one role per line: a specialist
        mine = [(m, x, y) for m, x, y in points if m.role.value == role]  # and its base overlap
        if mine:
            axes.scatter(
                [x for _, x, _ in mine],
                [y for _, _, y in mine],
                color=ROLE_COLOURS[role],
                marker=ROLE_MARKERS[role],
                label=role,
            )
        for model, x, y in mine:
            shown = f"{model.name}{' (est.)' if model.estimated and log else ''}"
            axes.annotate(
                shown, (x, y), fontsize=7, xytext=(4, 3 - 9 * row), textcoords="offset points"
            )
    if log:
        axes.set_xscale("log")
    axes.set_ylim(0, 100)
    axes.set_xlabel(xlabel)
    axes.set_ylabel("mean score over tasks (%)")
    left_out = total - len(points)
    title = f"Score against {xlabel.split(' (')[0]}"
    if left_out:
        title += f" ({left_out} model(s) without it left out)"
    axes.set_title(title, fontsize=10)
    if points:
        axes.legend(fontsize=8)
    else:
        axes.text(
            0.5, 0.5, "no model declares it", ha="center", va="center", transform=axes.transAxes
        )
    return figure
