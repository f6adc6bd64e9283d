"""Plain verdicts on the claim "general models now beat domain specialists".

A comparison of model a (the generalist) against model b (the specialist):

- **holds** when a is better: the corrected p-value is below α *and* the whole
  confidence interval of the difference lies above 0;
- **fails** when b is better by the same standard;
- **equivalent** when neither is shown better and the two one-sided tests (TOST)
  place the difference within ±margin: the data show they are practically the same;
- **inconclusive** otherwise: the data cannot tell them apart at this n (the report
  then gives the minimum detectable difference).

Requiring both the test and the interval keeps the two from telling different
stories in the report (they use different methods and can disagree at the margin).

A domain's verdict (``domain_decision``) rests on the task-level estimate
(``meta.equal_weight``: the average task, with a t interval over tasks), checked
against its tasks: it holds when that interval lies above 0 and no task is
significantly the other way, since "generalists beat specialists in medicine" is not
shown if they lose clearly on one of the medical benchmarks. (``meta`` explains why
the average task, and not the inverse-variance random-effects mean, carries it.) It
is equivalent when every task is equivalent (an intersection–union test, Berger
1982: level α with no correction). With one or two tasks an interval over tasks says
little (t with at most one degree of freedom), so the domain verdict is what every
task says, and the reason says plainly that one or two benchmarks cannot speak for
the domain.

Across domains the claim is that the pattern *repeats*: it holds when it holds in
every domain tested, and at least two were tested. Requiring every domain needs no
multiplicity correction (the claim is wrong unless each part is). It fails when
specialists are significantly better in any domain; as any one of k domains could
trigger that, each domain's pooled p-value must clear α / k (Bonferroni). It is
equivalent when every domain (two or more) is. Each domain counts once: two outcomes
for one domain are refused, naming it (the caller picks the newest run per domain).
"""

from __future__ import annotations

import enum
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from genspec.stats.meta import Pooled


class Verdict(str, enum.Enum):
    HOLDS = "holds"
    FAILS = "fails"
    EQUIVALENT = "equivalent"
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
    difference: float,
    ci_low: float,
    ci_high: float,
    p_value: float,
    alpha: float,
    *,
    equivalent: bool = False,
) -> Verdict:
    """holds / fails / equivalent / inconclusive for one comparison (``difference = a - b``).

    ``p_value`` is the corrected p-value, ``equivalent`` the TOST result at ``alpha``
    (``difference.equivalence``). A significant difference wins over equivalence: a
    difference smaller than the margin but clearly not 0 still says which is better.
    """
    if p_value < alpha and difference > 0 and ci_low > 0:
        return Verdict.HOLDS
    if p_value < alpha and difference < 0 and ci_high < 0:
        return Verdict.FAILS
    if equivalent:
        return Verdict.EQUIVALENT
    return Verdict.INCONCLUSIVE


def _names(tasks: Mapping[str, Verdict], verdict: Verdict) -> list[str]:
    return [task for task, task_verdict in tasks.items() if task_verdict is verdict]


def _few_tasks(tasks: Mapping[str, Verdict]) -> Decision:
    """One or two tasks: the domain verdict is what every task says, stated as such."""
    names = " and ".join(tasks)
    scope = (
        f"only one task ({names}) was run: it cannot speak for the domain's other benchmarks"
        if len(tasks) == 1
        else f"only two tasks ({names}) were run: too few to estimate how much tasks vary"
    )
    verdicts = set(tasks.values())
    if len(verdicts) == 1 and Verdict.INCONCLUSIVE not in verdicts:
        (verdict,) = verdicts
        every = "the task" if len(tasks) == 1 else "both tasks"
        return Decision(verdict, f"{verdict.value} on {every}; {scope}")
    summary = "; ".join(f"{task}: {verdict.value}" for task, verdict in tasks.items())
    return Decision(Verdict.INCONCLUSIVE, f"the tasks do not all agree ({summary}); {scope}")


def domain_decision(tasks: Mapping[str, Verdict], pooled: Pooled | None) -> Decision:
    """The domain's verdict from its task verdicts and its task-level estimate.

    ``tasks`` maps each task to its ``decide`` verdict (corrected p, interval, TOST);
    ``pooled`` is ``meta.equal_weight`` over the same tasks at confidence 1 − α (None
    when no task could be compared). See the module docstring for the rule.
    """
    if not tasks or pooled is None:
        return Decision(Verdict.INCONCLUSIVE, "no generalist–specialist comparison could be made")
    if len(tasks) <= 2:
        return _few_tasks(tasks)
    better, worse = _names(tasks, Verdict.HOLDS), _names(tasks, Verdict.FAILS)
    level = f"{pooled.confidence:.0%}"
    if pooled.ci_low > 0 and not worse:
        return Decision(
            Verdict.HOLDS,
            f"the task-level estimate's {level} interval lies above 0 and no task shows the "
            "specialist better",
        )
    if pooled.ci_high < 0 and not better:
        return Decision(
            Verdict.FAILS,
            f"the task-level estimate's {level} interval lies below 0 and no task shows the "
            "generalist better",
        )
    if all(verdict is Verdict.EQUIVALENT for verdict in tasks.values()):
        return Decision(Verdict.EQUIVALENT, "every task is equivalent within the margin")
    if better or worse:
        sides = [
            f"the generalist is better on {', '.join(better)}" if better else "",
            f"the specialist is better on {', '.join(worse)}" if worse else "",
        ]
        return Decision(
            Verdict.INCONCLUSIVE,
            f"mixed: {'; '.join(side for side in sides if side)}, and the task-level "
            f"estimate's {level} interval does not settle it",
        )
    return Decision(Verdict.INCONCLUSIVE, f"the task-level estimate's {level} interval includes 0")


def _refuse_duplicates(outcomes: Sequence[DomainOutcome]) -> None:
    repeated = sorted(
        name for name, count in Counter(o.domain for o in outcomes).items() if count > 1
    )
    if repeated:
        raise ValueError(
            f"each domain counts once, but {', '.join(repeated)} appear(s) more than once; "
            "keep the newest complete run per domain"
        )


def cross_domain_verdict(outcomes: Sequence[DomainOutcome], alpha: float) -> Decision:
    """Does the pattern repeat across domains? (see the module docstring for the rule)"""
    if not outcomes:
        return Decision(Verdict.INCONCLUSIVE, "no domain has been evaluated")
    _refuse_duplicates(outcomes)
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
    if k >= 2 and all(o.verdict is Verdict.EQUIVALENT for o in outcomes):
        return Decision(
            Verdict.EQUIVALENT, f"generalists and specialists are equivalent in all {k} domains"
        )
    if k == 1 and outcomes[0].verdict is not Verdict.INCONCLUSIVE:
        only = outcomes[0]
        return Decision(
            Verdict.INCONCLUSIVE,
            f"{only.verdict.value} in {only.domain}, the only domain tested; a pattern needs "
            "two or more",
        )
    summary = "; ".join(f"{o.domain}: {o.verdict.value}" for o in outcomes)
    return Decision(Verdict.INCONCLUSIVE, f"the domains do not agree ({summary})")
