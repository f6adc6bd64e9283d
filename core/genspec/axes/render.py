"""The axes in words: one verdict line per axis, the contamination signal, a table.

"holds" on an axis means the generalist is better on it (better calibrated, a better
abstainer, a smaller accuracy drop under perturbation), as for accuracy.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from genspec.axes.records import (
    ABSTENTION,
    CALIBRATION,
    CONTAMINATION,
    MIN_K_PROB,
    ROBUSTNESS,
    AxisSummary,
)
from genspec.evidence import DomainEvidence
from genspec.formats import pct, pp

if TYPE_CHECKING:
    from rich.console import Console
    from rich.table import Table

#: what each compared axis's per-item score is, for the verdict line
SCORES = {
    CALIBRATION: "per-item 1 − (confidence − correct)²",
    ABSTENTION: "right 1, abstained ½, wrong 0",
    ROBUSTNESS: "½(1 + perturbed − original correctness), all perturbations",
}
MEANING = {
    "holds": "the generalist is better",
    "fails": "the specialist is better",
    "equivalent": "the two are equivalent",
    "inconclusive": "no clear difference",
}
#: the metrics shown in the terminal per axis (all of them are in results.json)
SHOWN = {
    "calibration": ("brier", "ece", "confident_wrong", "mean_confidence"),
    "abstention": ("coverage", "selective_accuracy", "aurc"),
    "robustness": ("accuracy_original", "accuracy_perturbed", "drop", "consistency"),
    "contamination": ("signal", "min_k_prob"),
}


def _drops(evidence: DomainEvidence) -> str:
    """The pooled sides' accuracy drops (a robustness score is ½(1 − drop) per item)."""
    head = evidence.headline
    if head is None:
        return ""
    result = head.result
    return (
        f" Accuracy drop: {head.model_a} {pp(1 - 2 * result.score_a)} points, "
        f"{head.model_b} {pp(1 - 2 * result.score_b)} points (the difference in drops is "
        "twice the score difference above)."
    )


def verdict_lines(axes: Mapping[str, DomainEvidence]) -> list[str]:
    """One line per compared axis (robustness's perturbations each get their own)."""
    lines = []
    for axis, evidence in axes.items():
        base = axis.partition(":")[0]
        what = SCORES.get(axis) or "½(1 + perturbed − original correctness)"
        line = (
            f"{axis}: {evidence.verdict.value.upper()} ({MEANING[evidence.verdict.value]}; "
            f"score: {what}). {evidence.reason}."
        )
        lines.append(line + (_drops(evidence) if base == ROBUSTNESS else ""))
    return lines


def contamination_line(summaries: Sequence[AxisSummary]) -> str | None:
    """The contamination signal of each model over the tasks, with what it measures."""
    rows = [s for s in summaries if s.axis == CONTAMINATION]
    if not rows:
        return None
    parts = []
    for model in dict.fromkeys(s.model for s in rows):
        mine = [s for s in rows if s.model == model]
        n = sum(s.n for s in mine)
        skipped = sum(sum(s.left_out.values()) for s in mine)
        if mine[0].method == MIN_K_PROB:
            mean = sum(s.metrics.get("min_k_prob", 0.0) * s.n for s in mine) / max(n, 1)
            value = f"Min-K% {mean:.2f} (n={n})"
        else:
            value = f"TS-Guessing {sum(int(s.metrics.get('hits', 0)) for s in mine)}/{n}"
        parts.append(f"{model} {value}" + (f", {skipped} item(s) without one" if skipped else ""))
    return (
        "contamination (Min-K%: mean log-probability of the 20% least likely tokens of "
        "the question, higher = more likely seen; TS-Guessing: hidden wrong options "
        "written exactly): " + "; ".join(parts) + ". Read the accuracy verdict with it."
    )


def markdown(evidence: DomainEvidence) -> list[str]:
    """``verdict.md``'s axes section."""
    if not evidence.axes:
        return []
    lines = ["### Axes beside accuracy", ""]
    lines += [f"- {line}" for line in verdict_lines(evidence.axes)]
    return [*lines, ""]


def table(summaries: Sequence[AxisSummary], title: str) -> Table:
    """Each model's axis metrics per task, as percentages (AURC and Brier too)."""
    from rich.table import Table

    view = Table(title=title, title_justify="left")
    for header in ("axis", "task", "model", "n", "method", "metrics", "left out"):
        view.add_column(header, justify="right" if header == "n" else "left")
    for s in summaries:
        shown = SHOWN[s.axis.partition(":")[0]]
        values = ", ".join(
            f"{k} {v:.2f}" if k == "min_k_prob" else f"{k} {pct(v)}%"
            for k, v in s.metrics.items()
            if k in shown and v == v
        )
        left = ", ".join(f"{count} {reason}" for reason, count in s.left_out.items())
        view.add_row(s.axis, s.task, s.model, str(s.n), s.method, values, left)
    return view


def show(
    console: Console,
    axes: Mapping[str, DomainEvidence],
    summaries: Sequence[AxisSummary],
    accuracy: DomainEvidence,
) -> None:
    """The axes' table, then one verdict line per axis, accuracy first."""
    console.print(table(summaries, f"Axes · {accuracy.domain}"))
    console.print(f"[bold]Verdict per axis · {accuracy.domain}[/]")
    verdict = accuracy.verdict.value
    console.print(f"accuracy: {verdict.upper()} ({MEANING[verdict]}).", markup=False)
    for line in verdict_lines(axes):
        console.print(line, markup=False)
    if (line := contamination_line(summaries)) is not None:
        console.print(line, markup=False)
