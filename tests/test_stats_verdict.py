"""Verdict rules (genspec.stats.verdict): the vocabulary, counting, and their error rates.

The simulation draws 2×2 tables directly (no item arrays), so a thousand domains take
a few seconds. Under "no difference" a rule that says holds (or fails) more often than
α/2 plus simulation error claims more than the data show.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from genspec.stats.meta import equal_weight
from genspec.stats.multiple import holm
from genspec.stats.tango import tango_interval, tango_test, tango_tost
from genspec.stats.verdict import (
    DomainOutcome,
    Verdict,
    cross_domain_verdict,
    decide,
    domain_decision,
)

ALPHA, MARGIN, DISCORDANCE = 0.05, 0.03, 0.3
SIZES = (1000, 50, 50, 50)  # the shape: one large task, three small ones


def simulate_domain(rng: np.random.Generator, tau: float) -> tuple[Verdict, Verdict]:
    """(new rule, old item-weighted rule) verdicts for one domain with true mean difference 0."""
    effects = np.clip(rng.normal(0.0, tau, len(SIZES)), -0.9 * DISCORDANCE, 0.9 * DISCORDANCE)
    z = stats.norm.ppf(1 - ALPHA / 2)
    tables, rows = [], []
    for n, effect in zip(SIZES, effects, strict=True):
        probabilities = [(DISCORDANCE + effect) / 2, (DISCORDANCE - effect) / 2, 1 - DISCORDANCE]
        a_only, b_only, _ = rng.multinomial(n, probabilities)
        interval = tango_interval(a_only, b_only, n, confidence=1 - ALPHA)
        rows.append(
            (interval, tango_test(a_only, b_only, n), tango_tost(a_only, b_only, n, margin=MARGIN))
        )
        tables.append((a_only, b_only, n))
    adjusted = holm([p for _, p, _ in rows])
    verdicts = {
        f"task{i}": decide(iv.estimate, iv.low, iv.high, p, ALPHA, equivalent=tost < ALPHA)
        for i, ((iv, _, tost), p) in enumerate(zip(rows, adjusted, strict=True))
    }
    errors = [(iv.high - iv.low) / (2 * z) for iv, _, _ in rows]
    new = domain_decision(
        verdicts, equal_weight([iv.estimate for iv, _, _ in rows], errors, confidence=1 - ALPHA)
    )
    a_only, b_only, n = (sum(column) for column in zip(*tables, strict=True))
    pooled = tango_interval(a_only, b_only, n, confidence=1 - ALPHA)
    old_pooled = decide(
        pooled.estimate, pooled.low, pooled.high, tango_test(a_only, b_only, n), ALPHA
    )
    return new.verdict, _old_item_weighted_rule(old_pooled, verdicts)


def _old_item_weighted_rule(pooled: Verdict, tasks: dict[str, Verdict]) -> Verdict:
    """genspec's retired domain rule: the item-weighted pooled verdict, unless some task
    was significantly the other way."""
    contrary = {Verdict.HOLDS: Verdict.FAILS, Verdict.FAILS: Verdict.HOLDS}.get(pooled)
    if contrary is None or contrary in tasks.values():
        return Verdict.INCONCLUSIVE
    return pooled


@pytest.mark.parametrize("tau", [0.0, 0.05])
def test_under_no_difference_holds_and_fails_stay_below_half_alpha(tau: float) -> None:
    reps = 800
    rng = np.random.default_rng(2026)
    outcomes = [simulate_domain(rng, tau) for _ in range(reps)]
    new = [verdict for verdict, _ in outcomes]
    bound = ALPHA / 2 + 3 * np.sqrt(ALPHA / 2 * (1 - ALPHA / 2) / reps)
    assert new.count(Verdict.HOLDS) / reps <= bound
    assert new.count(Verdict.FAILS) / reps <= bound
    if tau > 0:  # the old item-weighted rule lets the one large task decide
        old = [verdict for _, verdict in outcomes]
        assert old.count(Verdict.HOLDS) / reps > 2 * bound


def test_task_verdicts_include_equivalence() -> None:
    assert decide(0.0, -0.01, 0.01, 1.0, 0.05, equivalent=True) is Verdict.EQUIVALENT
    assert decide(0.0, -0.01, 0.01, 1.0, 0.05) is Verdict.INCONCLUSIVE
    assert decide(0.02, 0.01, 0.03, 0.001, 0.05, equivalent=True) is Verdict.HOLDS
    assert decide(-0.02, -0.03, -0.01, 0.001, 0.05) is Verdict.FAILS


def test_domain_rule_needs_the_task_level_interval_and_no_contrary_task() -> None:
    positive = equal_weight([0.08, 0.1, 0.09], [0.01, 0.01, 0.01])
    tasks = dict.fromkeys(("a", "b", "c"), Verdict.HOLDS)
    assert domain_decision(tasks, positive).verdict is Verdict.HOLDS
    contrary = {**tasks, "c": Verdict.FAILS}
    decision = domain_decision(contrary, positive)
    assert (
        decision.verdict is Verdict.INCONCLUSIVE and "specialist is better on c" in decision.reason
    )
    negative = equal_weight([-0.08, -0.1, -0.09], [0.01, 0.01, 0.01])
    assert (
        domain_decision(dict.fromkeys("abc", Verdict.INCONCLUSIVE), negative).verdict
        is Verdict.FAILS
    )
    null = equal_weight([0.0, 0.005, -0.005], [0.005, 0.005, 0.005])
    assert (
        domain_decision(dict.fromkeys("abc", Verdict.EQUIVALENT), null).verdict
        is Verdict.EQUIVALENT
    )
    assert (
        domain_decision(
            {"a": Verdict.EQUIVALENT, "b": Verdict.EQUIVALENT, "c": Verdict.INCONCLUSIVE}, null
        ).verdict
        is Verdict.INCONCLUSIVE
    )


def test_one_or_two_tasks_are_stated_plainly() -> None:
    one = domain_decision({"medqa": Verdict.HOLDS}, equal_weight([0.1], [0.01]))
    assert one.verdict is Verdict.HOLDS and "only one task (medqa)" in one.reason
    two = domain_decision(
        {"a": Verdict.HOLDS, "b": Verdict.INCONCLUSIVE}, equal_weight([0.1, 0.0], [0.01, 0.02])
    )
    assert two.verdict is Verdict.INCONCLUSIVE and "only two tasks" in two.reason
    both = domain_decision(
        {"a": Verdict.EQUIVALENT, "b": Verdict.EQUIVALENT}, equal_weight([0.0, 0.0], [0.01, 0.01])
    )
    assert both.verdict is Verdict.EQUIVALENT and "both tasks" in both.reason
    assert domain_decision({}, None).verdict is Verdict.INCONCLUSIVE


def test_each_domain_counts_once() -> None:
    medical = DomainOutcome("medical", Verdict.HOLDS, 0.001)
    with pytest.raises(ValueError, match="medical"):
        cross_domain_verdict([medical, medical], 0.05)
    finance = DomainOutcome("finance", Verdict.HOLDS, 0.01)
    assert cross_domain_verdict([medical, finance], 0.05).verdict is Verdict.HOLDS


def test_cross_domain_equivalence() -> None:
    same = [DomainOutcome(d, Verdict.EQUIVALENT, 0.8) for d in ("medical", "finance")]
    assert cross_domain_verdict(same, 0.05).verdict is Verdict.EQUIVALENT
    one = cross_domain_verdict(same[:1], 0.05)
    assert one.verdict is Verdict.INCONCLUSIVE and "only domain tested" in one.reason
    mixed = [*same[:1], DomainOutcome("legal", Verdict.HOLDS, 0.01)]
    assert cross_domain_verdict(mixed, 0.05).verdict is Verdict.INCONCLUSIVE
