"""Plain verdicts on the claim "general models now beat domain specialists".

A comparison of model a (the generalist) against model b (the specialist):

- **holds** when a is better: the corrected p-value is below α *and* the whole
  confidence interval of the difference lies above 0;
- **fails** when b is better by the same standard;
- **inconclusive** otherwise: the data cannot tell them apart at this n (the report
  then gives the minimum detectable difference and the n that would be needed).

Requiring both the test and the interval keeps the two from telling different
stories in the report (they use different methods and can disagree at the margin).

A domain's verdict rests on its pooled estimate, checked against its tasks: the
pooled result stands only if no task shows a significant difference the other way,
since "generalists beat specialists in medicine" is not shown if they lose clearly
on one of the medical benchmarks.

Across domains the claim is that the pattern *repeats*: it holds when it holds in
every domain tested, and at least two were tested. Requiring every domain needs no
multiplicity correction (the claim is wrong unless each part is). It fails when
specialists are significantly better in any domain; as any one of k domains could
trigger that, each domain's pooled p-value must clear α / k (Bonferroni).
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass


class Verdict(str, enum.Enum):
    HOLDS = "holds"
    FAILS = "fails"
    INCONCLUSIVE = "inconclusive"


@dataclass(frozen=True)
class Decision:
    """A verdict and the reason for it, in words a reader can check against the table."""

    verdict: Verdict
    reason: str


@dataclass(frozen=True)
class DomainOutcome:
    """What the cross-domain verdict needs from each domain."""

    domain: str
    verdict: Verdict
    p_value: float | None  # the pooled generalist-vs-specialist p-value, if any


def decide(
    difference: float, ci_low: float, ci_high: float, p_value: float, alpha: float
) -> Verdict:
    """holds / fails / inconclusive for one comparison (``difference = a - b``)."""
    if p_value < alpha and difference > 0 and ci_low > 0:
        return Verdict.HOLDS
    if p_value < alpha and difference < 0 and ci_high < 0:
        return Verdict.FAILS
    return Verdict.INCONCLUSIVE


def _names(tasks: Mapping[str, Verdict], verdict: Verdict) -> list[str]:
    return [task for task, task_verdict in tasks.items() if task_verdict is verdict]


def domain_verdict(pooled: Verdict | None, tasks: Mapping[str, Verdict]) -> Decision:
    """The domain's verdict from its pooled comparison and its per-task verdicts."""
    if pooled is None:
        return Decision(Verdict.INCONCLUSIVE, "no generalist–specialist comparison could be made")
    better, worse = _names(tasks, Verdict.HOLDS), _names(tasks, Verdict.FAILS)
    if better and worse:
        return Decision(
            Verdict.INCONCLUSIVE,
            f"mixed: the generalist is better on {', '.join(better)} and the specialist "
            f"on {', '.join(worse)}",
        )
    if pooled is Verdict.HOLDS:
        if worse:
            return Decision(
                Verdict.INCONCLUSIVE,
                "mixed: the generalist is better over the domain's items, but the "
                f"specialist is better on {', '.join(worse)}",
            )
        return Decision(
            Verdict.HOLDS,
            "the generalist is better over the domain's items, and no task shows the "
            "specialist better",
        )
    if pooled is Verdict.FAILS:
        if better:
            return Decision(
                Verdict.INCONCLUSIVE,
                "mixed: the specialist is better over the domain's items, but the "
                f"generalist is better on {', '.join(better)}",
            )
        return Decision(
            Verdict.FAILS,
            "the specialist is better over the domain's items, and no task shows the "
            "generalist better",
        )
    return Decision(
        Verdict.INCONCLUSIVE, "the difference over the domain's items is not significant"
    )


def cross_domain_verdict(outcomes: Sequence[DomainOutcome], alpha: float) -> Decision:
    """Does the pattern repeat across domains? (see the module docstring for the rule)"""
    if not outcomes:
        return Decision(Verdict.INCONCLUSIVE, "no domain has been evaluated")
    k = len(outcomes)
    failing = [
        o.domain
        for o in outcomes
        if o.verdict is Verdict.FAILS and o.p_value is not None and o.p_value < alpha / k
    ]
    if failing:
        return Decision(
            Verdict.FAILS,
            f"specialists are better in {', '.join(failing)} (pooled p below α/{k})",
        )
    holding = [o.domain for o in outcomes if o.verdict is Verdict.HOLDS]
    if k >= 2 and len(holding) == k:
        return Decision(Verdict.HOLDS, f"generalists are better in all {k} domains")
    if k == 1 and holding:
        return Decision(
            Verdict.INCONCLUSIVE,
            f"holds in {holding[0]}, the only domain tested; a pattern needs two or more",
        )
    summary = "; ".join(f"{o.domain}: {o.verdict.value}" for o in outcomes)
    return Decision(Verdict.INCONCLUSIVE, f"the domains do not agree ({summary})")
