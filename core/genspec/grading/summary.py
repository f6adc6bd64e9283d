"""The panel's account of itself: who judged, how far they agreed, what they cost.

Read from the results rows alone (each graded item keeps every judge's grades in its
``panel`` note), so a saved run gives the same account as the live one. Agreement is
Krippendorff's alpha over (item, model, criterion) units, for all criteria and per
criterion type; each judge is held against the human grades the data has. A panel
whose alpha falls below the floor cannot settle a task's comparison: that task's
comparisons become "inconclusive: the judges disagree", and the domain's verdict too
when every compared task is such a task.

A task whose every answer the panel graded was the data's own (HealthBench's
meta-evaluation: physician-graded answers) measures the judges, not the models: every
model's rows carry the same grades, so it is counted once per item, and it is never
compared between models or pooled (:func:`genspec.analysis.analyse` leaves it out).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from genspec.backends.locate import PKG_PREFIX
from genspec.config.schema import ModelSpec
from genspec.evidence import GENERALIST_VS_SPECIALIST, POOLED, DomainEvidence
from genspec.grading.agreement import HumanAgreement, human_agreement, krippendorff_alpha
from genspec.grading.panel import PANEL_NOTE, Ballot
from genspec.stats.verdict import Verdict

if TYPE_CHECKING:
    import pandas as pd

DEFAULT_FLOOR = 0.667  # Krippendorff's bar for tentative conclusions
DISAGREE = "inconclusive: the judges disagree"
JUDGE_CHECK = (
    "a check of the judges, not of the models: the panel graded the answers the data "
    "gives, so this task is not compared between models nor pooled"
)


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
    checks_judges: bool = False  # every answer graded was the data's own (JUDGE_CHECK)

    @property
    def disagree(self) -> bool:
        """Measured agreement below the floor (one judge: nothing to measure)."""
        return self.alpha is not None and self.alpha < self.floor

    def line(self) -> str:
        """The panel in one sentence, as the verdict names it, with each judge's
        agreement with the human grades where the data has any."""
        names = ", ".join(j.name for j in self.judges)
        head = f"{self.task}: graded by rubric by the panel {names}"
        if self.checks_judges:
            head = f"{self.task}: {JUDGE_CHECK}; panel {names}"
        human = "; ".join(
            f"judge {j.name} {human_text(j.human)}" for j in self.judges if j.human is not None
        )
        against = f"; against the human grades: {human}" if human else ""
        if len(self.judges) < 2:
            return f"{head} (one judge: agreement is not measured){against}."
        if self.alpha is None:
            return (
                f"{head}; Krippendorff's alpha undefined (no variation in {self.units} "
                f"grades){against}."
            )
        kinds = ", ".join(f"{k} {_num(a)}" for k, a in self.by_kind)
        shared = f"{self.units} shared grades"
        text = f"{head}; Krippendorff's alpha {self.alpha:.2f} over {shared} ({kinds})"
        if self.checks_judges:
            return f"{text}{against}."
        if self.disagree:
            return f"{text}, below the floor {self.floor:g}: {DISAGREE}{against}."
        return f"{text}, at or above the floor {self.floor:g}{against}."


def judge_checks_in(notes: Sequence[str]) -> tuple[str, ...]:
    """The tasks a verdict's notes name as checks of the judges (:meth:`PanelSummary.line`),
    for an analysis of rows that keep no ballots (a merge of shards) to leave them out too."""
    marker = f": {JUDGE_CHECK}"
    return tuple(note.split(marker, 1)[0] for note in notes if marker in note)


def human_text(human: HumanAgreement) -> str:
    """A judge against the human grades: accuracy, Cohen's kappa and how many grades."""
    return f"accuracy {human.accuracy:.2f}, Cohen's kappa {_num(human.kappa)} (n={human.n})"


def _num(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f}"


def panel_summaries(frame: pd.DataFrame, floor: float = DEFAULT_FLOOR) -> list[PanelSummary]:
    """One summary per task whose test rows were graded by a panel."""
    test = frame[frame["split"] == "test"]
    summaries = []
    for task in test["task"].unique():
        rows = test[test["task"] == task]
        items = rows["example_id"] if "example_id" in rows else range(len(rows))
        ballots = _once_per_given_item(
            (item, Ballot.from_note(extra[PANEL_NOTE]))
            for item, extra in zip(items, rows["extra"], strict=True)
            if isinstance(extra, dict) and PANEL_NOTE in extra
        )
        if ballots:
            summaries.append(_summary(str(task), ballots, floor))
    return summaries


def _once_per_given_item(ballots: Iterable[tuple[Hashable, Ballot]]) -> list[Ballot]:
    """The ballots, an item's own (given) answer counted once: every model's row of it
    holds the same grades of the same answer, and counting them once per model would
    multiply the grades that alpha and the human agreement rest on."""
    seen: set[Hashable] = set()
    kept = []
    for item, ballot in ballots:
        if ballot.given:
            if item in seen:
                continue
            seen.add(item)
        kept.append(ballot)
    return kept


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
        checks_judges=all(b.given for b in ballots),
    )


def hold_to_panel(evidence: DomainEvidence, summaries: Sequence[PanelSummary]) -> DomainEvidence:
    """The evidence with each panel named, and the tasks its judges disagree on made
    inconclusive (the domain too when no other task was compared). A check of the
    judges is named with its human agreement and is never made inconclusive: it was
    not compared."""
    if not summaries:
        return evidence
    flagged = {s.task for s in summaries if s.disagree and not s.checks_judges}
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


def panel_metrics(panels: Sequence[PanelSummary]) -> dict[str, float]:
    """The panels' numbers as the parent run's MLflow metrics, so runs can be compared
    on them in the UI: ``panel.<task>.alpha`` (and ``.alpha.<criterion type>``), and per
    judge ``.judge.<name>.cost_usd``, ``.human_accuracy`` and ``.human_kappa`` where the
    data has human grades. Undefined values (alpha with no variation) are left out."""
    metrics: dict[str, float | None] = {}
    for panel in panels:
        head = f"panel.{panel.task}"
        metrics[f"{head}.alpha"] = panel.alpha
        metrics.update({f"{head}.alpha.{kind}": alpha for kind, alpha in panel.by_kind})
        for judge in panel.judges:
            key = f"{head}.judge.{judge.name}"
            metrics[f"{key}.cost_usd"] = judge.cost_usd
            if judge.human is not None:
                metrics[f"{key}.human_accuracy"] = judge.human.accuracy
                metrics[f"{key}.human_kappa"] = judge.human.kappa
    return {key: float(value) for key, value in metrics.items() if value is not None}


def bundled_judges_note(panel: Sequence[ModelSpec]) -> str | None:
    """Said plainly in the verdict: a judge that is a model bundled with genspec (``pkg:``,
    a tiny local model) makes the grading a check of the pipeline, not a grade."""
    bundled = [judge.name for judge in panel if (judge.id or "").startswith(PKG_PREFIX)]
    if not bundled:
        return None
    return (
        f"Judge(s) {', '.join(bundled)}: a tiny model bundled with genspec. Its grades check "
        "that the grading pipeline runs; they are not a grader's, and the rubric scores "
        "are no evidence about the models."
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
        human = "" if judge.human is None else f"; against human grades: {human_text(judge.human)}"
        lines.append(f"  judge {judge.name}: {judge.answers} answers graded, {cost}{human}")
    return lines


def panel_report(panels: Sequence[PanelSummary]) -> list[str]:
    """The terminal's account of each panel's judges (its agreement is in the verdict's notes)."""
    lines = []
    for panel in panels:
        lines += [f"Judge panel · {panel.task}:", *judge_lines(panel)]
    return lines
