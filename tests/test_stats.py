"""Each statistic against an independent implementation (scipy, statsmodels) on fixed data."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats
from statsmodels.stats.contingency_tables import mcnemar
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.proportion import proportion_confint

from genspec.stats.intervals import bootstrap_interval, score_interval, wilson_interval
from genspec.stats.multiple import adjust, benjamini_hochberg, holm
from genspec.stats.paired import (
    mcnemar_exact,
    sign_flip_test,
)
from genspec.stats.verdict import (
    DomainOutcome,
    Verdict,
    cross_domain_verdict,
    decide,
)


def paired_binary(n: int, p10: float, p01: float, rng: np.random.Generator):
    """0/1 scores where a alone is right with p10, b alone with p01, else they agree."""
    u = rng.random(n)
    agree = rng.integers(0, 2, n)
    a = np.where(u < p10, 1, np.where(u < p10 + p01, 0, agree))
    b = np.where(u < p10, 0, np.where(u < p10 + p01, 1, agree))
    return a.astype(float), b.astype(float)


@pytest.mark.parametrize(("k", "n"), [(0, 10), (3, 10), (10, 10), (57, 80), (412, 500)])
def test_wilson_matches_statsmodels(k: int, n: int) -> None:
    low, high = proportion_confint(k, n, alpha=0.05, method="wilson")
    interval = wilson_interval(k, n)
    assert interval.estimate == pytest.approx(k / n)
    assert (interval.low, interval.high) == pytest.approx((low, high), abs=1e-12)


def test_bootstrap_interval_matches_scipy_percentile_bootstrap() -> None:
    values = np.random.default_rng(1).beta(2, 5, size=150)
    ours = bootstrap_interval([values], n_boot=20_000, seed=3)
    theirs = stats.bootstrap(
        (values,), np.mean, method="percentile", n_resamples=20_000, rng=np.random.default_rng(4)
    ).confidence_interval
    assert ours.estimate == pytest.approx(values.mean())
    assert ours.low == pytest.approx(theirs.low, abs=0.004)
    assert ours.high == pytest.approx(theirs.high, abs=0.004)


def test_bootstrap_is_seeded_and_score_interval_picks_the_method() -> None:
    values = np.random.default_rng(2).random(40)
    assert bootstrap_interval([values], seed=5) == bootstrap_interval([values], seed=5)
    assert score_interval([1, 0, 1, 1]) == wilson_interval(3, 4)
    assert score_interval(values) == bootstrap_interval([values])


@pytest.mark.parametrize("seed", range(5))
def test_mcnemar_exact_matches_statsmodels(seed: int) -> None:
    a, b = paired_binary(60, 0.2, 0.1, np.random.default_rng(seed))
    table = [
        [np.sum((a == 1) & (b == 1)), np.sum((a == 1) & (b == 0))],
        [np.sum((a == 0) & (b == 1)), np.sum((a == 0) & (b == 0))],
    ]
    result = mcnemar_exact(a, b)
    assert result.p_value == pytest.approx(mcnemar(table, exact=True).pvalue, rel=1e-10)
    assert (result.a_only, result.b_only) == (table[0][1], table[1][0])


def test_mcnemar_without_disagreement_is_p_one() -> None:
    assert mcnemar_exact([1, 0, 1], [1, 0, 1]).p_value == 1.0


def _scipy_sign_flip(a: np.ndarray, b: np.ndarray, n_resamples: float, seed: int) -> float:
    return stats.permutation_test(
        (a, b),
        lambda x, y, axis: np.mean(x - y, axis=axis),
        permutation_type="samples",
        n_resamples=n_resamples,
        vectorized=True,
        rng=np.random.default_rng(seed),
    ).pvalue


def test_sign_flip_is_exact_for_small_n_like_scipy() -> None:
    rng = np.random.default_rng(7)
    a, b = rng.random(11), rng.random(11) * 0.8
    assert sign_flip_test(a, b).p_value == pytest.approx(_scipy_sign_flip(a, b, np.inf, 0))


def test_sign_flip_monte_carlo_agrees_with_scipy() -> None:
    rng = np.random.default_rng(8)
    a = rng.random(80)
    b = np.clip(a - 0.05 + rng.normal(0, 0.2, 80), 0, 1)
    ours = sign_flip_test(a, b, n_permutations=20_000, seed=1).p_value
    assert ours == pytest.approx(_scipy_sign_flip(a, b, 20_000, 2), abs=0.01)


@pytest.mark.parametrize(
    "p_values",
    [
        [0.01, 0.04, 0.03, 0.20],
        [0.001, 0.001, 0.5, 0.049, 0.02, 0.9],
        [0.3],
        list(np.random.default_rng(9).random(12) ** 3),
    ],
)
def test_holm_and_bh_match_statsmodels(p_values: list[float]) -> None:
    assert holm(p_values) == pytest.approx(multipletests(p_values, method="holm")[1])
    assert benjamini_hochberg(p_values) == pytest.approx(
        multipletests(p_values, method="fdr_bh")[1]
    )
    assert adjust(p_values, "bh") == pytest.approx(benjamini_hochberg(p_values))
    with pytest.raises(ValueError, match="holm"):
        adjust(p_values, "bonferroni")  # type: ignore[arg-type]


def test_decide_needs_both_p_and_interval() -> None:
    assert decide(0.1, 0.02, 0.18, 0.01, 0.05) is Verdict.HOLDS
    assert decide(-0.1, -0.18, -0.02, 0.01, 0.05) is Verdict.FAILS
    assert decide(0.1, -0.01, 0.2, 0.01, 0.05) is Verdict.INCONCLUSIVE
    assert decide(0.1, 0.02, 0.18, 0.06, 0.05) is Verdict.INCONCLUSIVE


def test_cross_domain_needs_every_domain_and_bonferroni_to_fail() -> None:
    holds, fails, none = Verdict.HOLDS, Verdict.FAILS, Verdict.INCONCLUSIVE
    two_hold = [DomainOutcome("medical", holds, 0.001), DomainOutcome("law", holds, 0.01)]
    assert cross_domain_verdict(two_hold, 0.05).verdict is holds
    assert cross_domain_verdict(two_hold[:1], 0.05).verdict is none
    weak_fail = [DomainOutcome("medical", holds, 0.001), DomainOutcome("law", fails, 0.04)]
    assert cross_domain_verdict(weak_fail, 0.05).verdict is none
    strong_fail = [DomainOutcome("medical", holds, 0.001), DomainOutcome("law", fails, 0.01)]
    assert cross_domain_verdict(strong_fail, 0.05).verdict is fails


@pytest.mark.parametrize(
    "call",
    [
        lambda: mcnemar_exact([1.0, np.nan, 0.0], [0.0, 1.0, 1.0]),
        lambda: bootstrap_interval([[0.2, np.nan]]),
        lambda: score_interval([0.2, np.nan]),
        lambda: adjust([0.01, np.nan]),
    ],
)
def test_existing_statistics_refuse_nan(call) -> None:
    # A NaN used to crash compare() or give sign_flip_test p = 0.0; now it names the position.
    with pytest.raises(ValueError, match=r"position\(s\) 1 are NaN"):
        call()
