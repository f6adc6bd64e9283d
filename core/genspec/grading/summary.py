"""The panel's account of itself: who judged, how far they agreed, what they cost.

Read from the results rows alone (each graded item keeps every judge's grades in its
``panel`` note), so a saved run gives the same account as the live one. Agreement is
Krippendorff's alpha over (item, model, criterion) units, for all criteria and per
criterion type; each judge is held against the human grades the data has. A panel
whose alpha falls below the floor cannot settle a task's comparison: that task's
comparisons become "inconclusive: the judges disagree", and the domain's verdict too
when every compared task is such a task.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from genspec.evidence import GENERALIST_VS_SPECIALIST, POOLED, DomainEvidence
from genspec.grading.agreement import HumanAgreement, human_agreement, krippendorff_alpha
from genspec.grading.panel import PANEL_NOTE, Ballot
from genspec.stats.verdict import Verdict

if TYPE_CHECKING:
    import pandas as pd

DEFAULT_FLOOR = 0.667  # Krippendorff's bar for tentative conclusions
DISAGREE = "inconclusive: the judges disagree"


@dataclass(frozen=True)
class JudgeLine:
    """One judge on one task: answers graded, cost, and agreement with human grades."""

    name: str
    answers: int
    cost_usd: float
    paid_usd: float  # the part of the cost this run paid (not from the cache)
    human: HumanAgreement | None


@dataclass(frozen=True)
class PanelSummary:
    """A task's panel: its judges, alpha overall and per criterion type, and the floor."""

    task: str
    judges: tuple[JudgeLine, ...]
    alpha: float | None
    by_kind: tuple[tuple[str, float | None], ...]
    units: int  # criterion grades by two or more judges (what alpha rests on)
    floor: float

    @property
    def disagree(self) -> bool:
        """Measured agreement below the floor (one judge: nothing to measure)."""
        return self.alpha is not None and self.alpha < self.floor

    def line(self) -> str:
        """The panel in one sentence, as the verdict names it."""
        names = ", ".join(j.name for j in self.judges)
        head = f"{self.task}: graded by rubric by the panel {names}"
        if len(self.judges) < 2:
            return f"{head} (one judge: agreement is not measured)."
        if self.alpha is None:
            return f"{head}; Krippendorff's alpha undefined (no variation in {self.units} grades)."
        kinds = ", ".join(f"{k} {_num(a)}" for k, a in self.by_kind)
        shared = f"{self.units} shared grades"
        text = f"{head}; Krippendorff's alpha {self.alpha:.2f} over {shared} ({kinds})"
        if self.disagree:
            return f"{text}, below the floor {self.floor:g}: {DISAGREE}."
        return f"{text}, at or above the floor {self.floor:g}."


def _num(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f}"


def panel_summaries(frame: pd.DataFrame, floor: float = DEFAULT_FLOOR) -> list[PanelSummary]:
    """One summary per task whose test rows were graded by a panel."""
    test = frame[frame["split"] == "test"]
    summaries = []
    for task in test["task"].unique():
        rows = test[test["task"] == task]
        ballots = [
            (Ballot.from_note(extra[PANEL_NOTE]), cached)
            for extra, cached in zip(rows["extra"], rows["cached"], strict=True)
            if isinstance(extra, dict) and PANEL_NOTE in extra
        ]
        if ballots:
            summaries.append(_summary(str(task), [b for b, _ in ballots], floor))
    return summaries


def _summary(task: str, ballots: Sequence[Ballot], floor: float) -> PanelSummary:
    judges = ballots[0].judges
    units: list[tuple[bool | None, ...]] = []
    by_kind: dict[str, list[tuple[bool | None, ...]]] = defaultdict(list)
    for ballot in ballots:
        for criterion, row in zip(ballot.criteria, ballot.grades, strict=True):
            units.append(row)
            by_kind[criterion.kind].append(row)
    lines = tuple(
        JudgeLine(
            name=name,
            answers=sum(any(row[j] is not None for row in b.grades) for b in ballots),
            cost_usd=sum(b.cost_usd[j] for b in ballots),
            paid_usd=sum(b.paid_usd[j] for b in ballots),
            human=human_agreement(
                [
                    (row[j], c.human)
                    for b in ballots
                    for c, row in zip(b.criteria, b.grades, strict=True)
                    if row[j] is not None and c.human is not None
                ]
            ),
        )
        for j, name in enumerate(judges)
    )
    shared = sum(sum(g is not None for g in row) >= 2 for row in units)
    return PanelSummary(
        task=task,
        judges=lines,
        alpha=krippendorff_alpha(units),
        by_kind=tuple((kind, krippendorff_alpha(rows)) for kind, rows in sorted(by_kind.items())),
        units=shared,
        floor=floor,
    )


def hold_to_panel(evidence: DomainEvidence, summaries: Sequence[PanelSummary]) -> DomainEvidence:
    """The evidence with each panel named, and the tasks its judges disagree on made
    inconclusive (the domain too when no other task was compared)."""
    if not summaries:
        return evidence
    flagged = {s.task for s in summaries if s.disagree}
    comparisons = tuple(
        replace(c, verdict=Verdict.INCONCLUSIVE) if c.task in flagged else c
        for c in evidence.comparisons
    )
    compared = {c.task for c in evidence.comparisons if c.kind == GENERALIST_VS_SPECIALIST}
    verdict, reason, pooled = evidence.verdict, evidence.reason, evidence.pooled
    if compared and compared <= flagged:
        verdict = Verdict.INCONCLUSIVE
        reason = f"{DISAGREE} on every compared task ({', '.join(sorted(flagged))})"
        pooled = tuple(
            replace(c, verdict=Verdict.INCONCLUSIVE) if c.task == POOLED else c for c in pooled
        )
    notes = tuple(s.line() for s in summaries)
    if flagged and verdict is not Verdict.INCONCLUSIVE:
        notes += (
            f"The pooled result still includes {', '.join(sorted(flagged))}, "
            f"where {DISAGREE}; read it with the per-task rows.",
        )
    return replace(
        evidence,
        verdict=verdict,
        reason=reason,
        comparisons=comparisons,
        pooled=pooled,
        notes=(*evidence.notes, *notes),
    )


def judge_lines(summary: PanelSummary) -> list[str]:
    """Per judge: answers graded, cost, and agreement with human grades where there are any."""
    lines = []
    for judge in summary.judges:
        cost = (
            f"cost ${judge.cost_usd:.4f} (paid now ${judge.paid_usd:.4f})"
            if judge.cost_usd
            else "no price (local or unpriced)"
        )
        human = ""
        if judge.human is not None:
            kappa = _num(judge.human.kappa)
            human = (
                f"; against human grades: accuracy {judge.human.accuracy:.2f}, "
                f"Cohen's kappa {kappa} (n={judge.human.n})"
            )
        lines.append(f"  judge {judge.name}: {judge.answers} answers graded, {cost}{human}")
    return lines


def panel_report(panels: Sequence[PanelSummary]) -> list[str]:
    """The terminal's account of each panel's judges (its agreement is in the verdict's notes)."""
    lines = []
    for panel in panels:
        lines += [f"Judge panel · {panel.task}:", *judge_lines(panel)]
    return lines
