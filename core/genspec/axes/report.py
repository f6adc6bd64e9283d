"""From the axes' per-item measurements to metrics, paired comparisons and verdicts.

Each compared axis goes through :func:`genspec.analysis.compare`, the very path
accuracy takes: the same choice of sides (declared, else best on the dev split), the
same paired tests, correction across tasks, pooling and verdict rule. Only the
per-item score differs (see :class:`~genspec.axes.records.AxisItem`), so "holds"
always means "the generalist is better on this axis".

Items without a measurement (a failed call, no stated confidence, a perturbation that
did not apply) are left out of that axis and counted in the summary's ``left_out``
and the evidence's notes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from genspec.axes import metrics
from genspec.axes.records import (
    ABSTENTION,
    CALIBRATION,
    CONTAMINATION,
    MIN_K_PROB,
    ROBUSTNESS,
    UNCHANGED,
    AxisItem,
    AxisSummary,
)
from genspec.axes.render import contamination_line
from genspec.config.schema import ModelSpec
from genspec.evidence import DomainEvidence

if TYPE_CHECKING:
    import pandas as pd

    from genspec.analysis import Settings


@dataclass(frozen=True)
class AxesReport:
    """The axes' summaries (``results.json`` → ``axes``) and the evidence of each compared
    axis (``verdict.json`` → ``axes``; robustness also per perturbation)."""

    summaries: tuple[AxisSummary, ...]
    evidence: Mapping[str, DomainEvidence]
    items: tuple[AxisItem, ...] = ()  # the per-item measurements, for the plots


def _groups(items: Sequence[AxisItem]) -> dict[tuple[str, str, str], list[AxisItem]]:
    groups: dict[tuple[str, str, str], list[AxisItem]] = {}
    for item in items:
        groups.setdefault((item.axis, item.model, item.task), []).append(item)
    return groups


def _calibration(kept: Sequence[AxisItem]) -> dict[str, float]:
    p = [i.confidence or 0.0 for i in kept]
    y = [i.correct for i in kept]
    return {
        "accuracy": sum(y) / len(y),
        "mean_confidence": sum(p) / len(p),
        "brier": metrics.brier(p, y),
        "ece": metrics.ece(p, y),
        "confident_wrong": metrics.confident_wrong_rate(p, y),
    }


def ranking_confidence(item: AxisItem) -> float:
    """Abstention's order for the risk-coverage curve: answered items by their
    confidence (one not stated ranks lowest among them), then abstentions."""
    return 0.0 if item.abstained else 0.5 + (item.confidence or 0.0) / 2


def _abstention(kept: Sequence[AxisItem]) -> dict[str, float]:
    coverage, selective = metrics.selective(
        [not i.abstained for i in kept], [i.correct for i in kept]
    )
    return {
        "coverage": coverage,
        "selective_accuracy": selective,
        "aurc": metrics.aurc([ranking_confidence(i) for i in kept], [i.correct for i in kept]),
        "score": sum(i.score for i in kept) / len(kept),
        "abstained": float(sum(i.abstained for i in kept)),
    }


def _robustness(kept: Sequence[AxisItem]) -> dict[str, float]:
    after = sum(i.correct for i in kept) / len(kept)
    before = sum(i.original or 0.0 for i in kept) / len(kept)
    values = {"accuracy_original": before, "accuracy_perturbed": after, "drop": before - after}
    consistent = [i.consistent for i in kept if i.consistent is not None]
    if consistent:
        values["consistency"] = sum(consistent) / len(consistent)
    return values


def _contamination(kept: Sequence[AxisItem]) -> dict[str, float]:
    if kept[0].method == MIN_K_PROB:  # mean log-probability: higher, more likely seen
        return {"min_k_prob": sum(i.score for i in kept) / len(kept)}
    return {
        "signal": sum(i.score for i in kept) / len(kept),
        "hits": float(sum(i.score for i in kept)),
    }


def _metrics(axis: str, kept: Sequence[AxisItem]) -> dict[str, float]:
    if not kept:
        return {}
    base = axis.partition(":")[0]
    return {
        CALIBRATION: _calibration,
        ABSTENTION: _abstention,
        ROBUSTNESS: _robustness,
        CONTAMINATION: _contamination,
    }[base](kept)


def summarise(items: Sequence[AxisItem]) -> list[AxisSummary]:
    """One summary per (axis, model, task), in the order the items came."""
    summaries = []
    for (axis, model, task), group in _groups(items).items():
        kept = [i for i in group if i.error is None]
        left_out: dict[str, int] = {}
        for item in group:
            if item.error is not None:
                left_out[item.error] = left_out.get(item.error, 0) + 1
        methods = sorted({i.method for i in kept if i.method})
        summaries.append(
            AxisSummary(
                axis=axis,
                model=model,
                role=group[0].role,
                task=task,
                n=len(kept),
                method="mixed" if len(methods) > 1 else "".join(methods),
                metrics=_metrics(axis, kept),
                left_out=left_out,
            )
        )
    return summaries


def _frame(items: Sequence[AxisItem], frame: pd.DataFrame) -> pd.DataFrame:
    """The axis's items as a results table (``correct`` is the axis score), with the
    run's dev rows so the sides are chosen exactly as for accuracy. Predictions are left
    out: an axis score is not an answer, so no "items answered differently" count."""
    import pandas as pd

    from genspec.analysis import ITEM_KEY

    test = frame[frame["split"] == "test"]
    # the item's text key, where the table has one (repeats across tasks are pooled once)
    keys = (
        dict(zip(zip(test["task"], test["example_id"], strict=True), test[ITEM_KEY], strict=True))
        if ITEM_KEY in frame
        else {}
    )
    rows = [
        {
            "task": i.task,
            "example_id": i.example_id,
            "model": i.model,
            "role": i.role,
            "correct": i.score,
            "invalid": False,
            "category": "",
            "cached": False,
            "error": i.error,
            "split": "test",
            "metrics": {},
            "extra": {},
            **({ITEM_KEY: keys.get((i.task, i.example_id), "")} if keys else {}),
        }
        for i in items
        if i.error != UNCHANGED
    ]
    dev = frame[frame["split"] == "dev"]
    table = pd.concat([pd.DataFrame(rows, columns=list(frame.columns)), dev], ignore_index=True)
    return table.drop(columns=["prediction"])


def _overall(items: Sequence[AxisItem]) -> list[AxisItem]:
    """Robustness over all perturbations: each item's mean score over the perturbations
    that applied to it (failed calls leave the item out)."""
    groups: dict[tuple[str, str, str], list[AxisItem]] = {}
    for item in items:
        if item.error != UNCHANGED:
            groups.setdefault((item.model, item.task, item.example_id), []).append(item)
    merged = []
    for group in groups.values():
        failed = next((i.error for i in group if i.error), None)
        score = sum(i.score for i in group) / len(group)
        merged.append(replace(group[0], axis=ROBUSTNESS, score=score, error=failed))
    return merged


def _notes(axis: str, summaries: Sequence[AxisSummary]) -> list[str]:
    return [
        f"{axis}: {s.task}: {count} item(s) of {s.model} left out ({reason})"
        for s in summaries
        if s.axis == axis
        for reason, count in s.left_out.items()
    ]


def report(
    items: Sequence[AxisItem],
    frame: pd.DataFrame,
    models: Sequence[ModelSpec],
    settings: Settings,
) -> AxesReport | None:
    """Summaries of every axis, and paired evidence for each compared one (None when the
    run measured no axis beyond accuracy)."""
    if not items:
        return None
    from genspec.analysis import analyse

    summaries = summarise(items)
    plain = replace(settings, reported=())  # published accuracy is not an axis's number
    by_axis: dict[str, list[AxisItem]] = {}
    for item in items:
        by_axis.setdefault(item.axis, []).append(item)
    perturbed = [
        i for axis, group in by_axis.items() if axis.startswith(f"{ROBUSTNESS}:") for i in group
    ]
    compared = {a: g for a, g in by_axis.items() if a.partition(":")[0] != CONTAMINATION}
    if perturbed:
        compared = {ROBUSTNESS: _overall(perturbed), **compared}
    evidence = {}
    for axis, group in compared.items():
        found = analyse(_frame(group, frame), models, plain).evidence
        evidence[axis] = replace(found, notes=(*found.notes, *_notes(axis, summaries)))
    order = [a for a in (CALIBRATION, ABSTENTION, ROBUSTNESS) if a in evidence]
    order += sorted(a for a in evidence if a not in order)
    return AxesReport(tuple(summaries), {a: evidence[a] for a in order}, tuple(items))


def model_metrics(summaries: Sequence[AxisSummary], model: str) -> dict[str, float]:
    """A model's axis metrics for MLflow: ``axes.<axis>.<task>.<metric>``."""
    return {
        f"axes.{s.axis}.{s.task}.{name}".replace(":", "."): float(value)
        for s in summaries
        if s.model == model
        for name, value in {**s.metrics, "n": s.n}.items()
        if value == value  # NaN (nothing answered) is not a metric
    }


def with_axes(evidence: DomainEvidence, axes: AxesReport) -> DomainEvidence:
    """The accuracy evidence with each axis's evidence beside it, and the contamination
    signal in its notes (the verdict text reads accuracy with it)."""
    line = contamination_line(axes.summaries)
    return replace(evidence, axes=axes.evidence, notes=(*evidence.notes, *([line] if line else [])))
