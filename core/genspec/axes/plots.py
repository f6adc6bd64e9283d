"""The axes' plots: a reliability diagram per model, risk-coverage curves, accuracy drops.

Drawn on the Agg canvas without pyplot (as :mod:`genspec.plots`), logged to MLflow
under ``plots/`` beside the forest plot.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from genspec.axes import metrics
from genspec.axes.records import ABSTENTION, CALIBRATION, ROBUSTNESS, AxisItem, AxisSummary
from genspec.axes.report import AxesReport, ranking_confidence
from genspec.plots import ROLE_COLOURS, _figure, _save


def _by_model(items: Sequence[AxisItem], axis: str) -> dict[str, list[AxisItem]]:
    models: dict[str, list[AxisItem]] = {}
    for item in items:
        if item.axis == axis and item.error is None:
            models.setdefault(item.model, []).append(item)
    return models


def reliability_plot(items: Sequence[AxisItem], path: Path) -> Path | None:
    """Accuracy against mean confidence in 10 equal-mass bins, one panel per model."""
    models = _by_model(items, CALIBRATION)
    if not models:
        return None
    figure = _figure(8)
    axes = figure.subplots(1, len(models), squeeze=False)[0]
    for ax, (model, kept) in zip(axes, models.items(), strict=True):
        bins = metrics.reliability_bins(
            [i.confidence or 0.0 for i in kept], [i.correct for i in kept]
        )
        ax.plot([0, 1], [0, 1], color="#999999", linestyle=":", linewidth=1)
        ax.plot(
            [b.confidence for b in bins],
            [b.accuracy for b in bins],
            marker="o",
            color=ROLE_COLOURS.get(kept[0].role, "#333333"),
        )
        ax.set(xlim=(0, 1), ylim=(0, 1), xlabel=f"confidence\n({kept[0].method})")
        ax.set_title(model, fontsize="small")
    axes[0].set_ylabel("accuracy")
    return _save(figure, path)


def risk_coverage_plot(items: Sequence[AxisItem], path: Path) -> Path | None:
    """Error rate of the k most confident items against coverage k/n, per model (the
    area under each curve is its AURC; abstentions come last)."""
    models = _by_model(items, ABSTENTION)
    if not models:
        return None
    figure = _figure(8)
    ax = figure.subplots()
    for model, kept in models.items():
        ranked = sorted(kept, key=ranking_confidence, reverse=True)
        errors, risks = 0.0, []
        for k, item in enumerate(ranked, start=1):
            errors += 1 - item.correct
            risks.append(errors / k)
        coverage = [k / len(ranked) for k in range(1, len(ranked) + 1)]
        ax.plot(coverage, risks, label=model, color=ROLE_COLOURS.get(kept[0].role))
    ax.set(xlim=(0, 1), ylim=(0, 1), xlabel="coverage", ylabel="risk (error rate)")
    ax.legend(loc="upper left", fontsize="small")
    return _save(figure, path)


def drop_plot(summaries: Sequence[AxisSummary], path: Path) -> Path | None:
    """Accuracy drop (points) per perturbation and model, over the domain's tasks."""
    rows = [s for s in summaries if s.axis.startswith(f"{ROBUSTNESS}:") and s.n]
    if not rows:
        return None
    perturbations = list(dict.fromkeys(s.axis.partition(":")[2] for s in rows))
    models = list(dict.fromkeys(s.model for s in rows))
    figure = _figure(len(perturbations) * len(models))
    ax = figure.subplots()
    height = 0.8 / len(models)
    for m, model in enumerate(models):
        drops = []
        for name in perturbations:
            mine = [s for s in rows if s.model == model and s.axis.endswith(f":{name}")]
            n = sum(s.n for s in mine)
            drops.append(100 * sum(s.metrics["drop"] * s.n for s in mine) / n if n else 0.0)
        role = next(s.role for s in rows if s.model == model)
        positions = [p + m * height for p in range(len(perturbations))]
        ax.barh(positions, drops, height=height, label=model, color=ROLE_COLOURS.get(role))
    ax.set_yticks([p + 0.4 - height / 2 for p in range(len(perturbations))], perturbations)
    ax.axvline(0, color="#999999", linewidth=1)
    ax.set_xlabel("accuracy drop under the perturbation (points)")
    ax.legend(loc="lower right", fontsize="small")
    return _save(figure, path)


def axes_plots(report: AxesReport, folder: Path | str) -> list[Path]:
    """Every axis plot the report has data for."""
    folder = Path(folder)
    drawn = [
        reliability_plot(report.items, folder / "reliability.png"),
        risk_coverage_plot(report.items, folder / "risk_coverage.png"),
        drop_plot(report.summaries, folder / "robustness_drop.png"),
    ]
    return [path for path in drawn if path is not None]
