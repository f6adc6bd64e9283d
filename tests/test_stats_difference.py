"""Paired interval, test and equivalence (genspec.stats.difference) against references.

References: Tango's published table, statsmodels' McNemar score test and paired TOST,
scipy's paired t-test, closed forms derived from Tango's statistic, and exact
coverage summed over every table of a small n.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats
from statsmodels.stats.contingency_tables import mcnemar
from statsmodels.stats.weightstats import ttost_paired

from genspec.stats.difference import (
    TANGO_FRACTIONAL,
    equivalence,
    paired_difference,
)
from genspec.stats.graded import PAIRED_T
from genspec.stats.paired import sign_flip_test
from genspec.stats.tango import TANGO, tango_interval, tango_test, tango_tost


def table_scores(a_only: int, b_only: int, both: int, neither: int) -> tuple[np.ndarray, ...]:
    """0/1 scores of two models with the given 2×2 table."""
    a = np.r_[np.ones(a_only), np.zeros(b_only), np.ones(both), np.zeros(neither)]
    b = np.r_[np.zeros(a_only), np.ones(b_only), np.ones(both), np.zeros(neither)]
    return a, b


def test_tango_matches_the_published_table() -> None:
    # (n11, n12, n21, n22) = (59, 6, 16, 80): Tango's interval (−0.1240, −0.0054).
    interval = tango_interval(6, 16, 161)
    assert interval.estimate == pytest.approx(-10 / 161)
    assert (interval.low, interval.high) == pytest.approx((-0.1240, -0.0054), abs=5e-5)
    swapped = tango_interval(16, 6, 161)
    assert (swapped.low, swapped.high) == pytest.approx((-interval.high, -interval.low))


@pytest.mark.parametrize("confidence", [0.8, 0.9, 0.95, 0.99])
@pytest.mark.parametrize("n", [1, 40, 3000])
def test_no_discordant_pair_gives_the_closed_form_width(confidence: float, n: int) -> None:
    # With no discordant pair, |T(δ)| = √(nδ/(1−δ)), so the bounds are ±z²/(n + z²).
    z = stats.norm.ppf(0.5 + confidence / 2)
    a, b = table_scores(0, 0, n // 2, n - n // 2)
    result = paired_difference(a, b, confidence=confidence)
    assert result.method == TANGO
    assert (result.ci_low, result.ci_high) == pytest.approx(
        (-(z**2) / (n + z**2), z**2 / (n + z**2))
    )
    assert result.p_value == 1.0


def test_the_interval_never_collapses() -> None:
    five_to_none = paired_difference(np.ones(5), np.zeros(5))
    assert five_to_none.difference == 1.0
    assert 0 < five_to_none.ci_low < 0.5 and five_to_none.ci_high == 1.0
    identical = paired_difference(np.ones(40), np.ones(40))  # all correct
    assert identical.ci_low < -0.05 and identical.ci_high > 0.05


@pytest.mark.parametrize(
    ("a_only", "b_only", "n"), [(6, 16, 161), (5, 0, 5), (30, 12, 200), (1, 0, 1)]
)
def test_tango_test_is_mcnemars_score_test(a_only: int, b_only: int, n: int) -> None:
    table = [[0, a_only], [b_only, n - a_only - b_only]]
    reference = mcnemar(table, exact=False, correction=False).pvalue
    assert tango_test(a_only, b_only, n) == pytest.approx(reference, rel=1e-12)


@pytest.mark.parametrize("confidence", [0.9, 0.95])
def test_interval_excludes_zero_exactly_when_the_test_rejects(confidence: float) -> None:
    n = 14
    for a_only in range(n + 1):
        for b_only in range(n + 1 - a_only):
            interval = tango_interval(a_only, b_only, n, confidence=confidence)
            excludes = interval.low > 0 or interval.high < 0
            assert excludes == (tango_test(a_only, b_only, n) < 1 - confidence)


@pytest.mark.parametrize(("p_a_only", "p_b_only"), [(0.1, 0.1), (0.2, 0.05), (0.3, 0.2)])
def test_exact_coverage_at_n_20_is_near_nominal(p_a_only: float, p_b_only: float) -> None:
    # Summed over every table of n = 20 (the percentile bootstrap covered about 0.90).
    n, truth, coverage = 20, p_a_only - p_b_only, 0.0
    probabilities = [p_a_only, p_b_only, 1 - p_a_only - p_b_only]
    for a_only in range(n + 1):
        for b_only in range(n + 1 - a_only):
            interval = tango_interval(a_only, b_only, n)
            if interval.low <= truth <= interval.high:
                coverage += stats.multinomial.pmf(
                    [a_only, b_only, n - a_only - b_only], n, probabilities
                )
    assert 0.94 <= coverage <= 0.99


@pytest.mark.parametrize("confidence", [0.9, 0.95, 0.99])
def test_graded_scores_match_scipys_paired_t(confidence: float) -> None:
    rng = np.random.default_rng(3)
    a, b = rng.beta(3, 2, 8), rng.beta(2, 2, 8)
    result = paired_difference(a, b, confidence=confidence)
    reference = stats.ttest_rel(a, b)
    low, high = reference.confidence_interval(confidence)
    assert result.method == PAIRED_T
    assert (result.ci_low, result.ci_high) == pytest.approx((low, high), rel=1e-10)
    assert result.p_value == pytest.approx(reference.pvalue, rel=1e-10)
    assert (result.ci_low > 0 or result.ci_high < 0) == (result.p_value < 1 - confidence)


def test_graded_without_spread_falls_back_to_a_conservative_interval() -> None:
    shifted = paired_difference([0.6, 0.7, 0.8], [0.4, 0.5, 0.6])  # every difference 0.2
    single = paired_difference([0.5], [0.1])
    for result in (shifted, single):
        assert result.method == TANGO_FRACTIONAL
        assert result.ci_low < result.difference < result.ci_high
    assert single.ci_low < 0 < single.ci_high
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        paired_difference([3.0, 4.0], [1.0, 2.0])


def test_equal_accuracy_on_3000_items_is_equivalent_at_three_points() -> None:
    a, b = table_scores(300, 300, 1500, 900)
    result = equivalence(a, b, margin=0.03)
    assert result.equivalent and result.p_value < 0.05
    assert -0.03 < result.ci_low < 0 < result.ci_high < 0.03
    assert not equivalence(*table_scores(3, 3, 15, 9), margin=0.03).equivalent  # n = 30


@pytest.mark.parametrize("alpha", [0.05, 0.1])
def test_tost_agrees_with_the_one_minus_two_alpha_interval(alpha: float) -> None:
    n, margin = 60, 0.1
    for a_only in range(0, 25, 2):
        for b_only in range(0, 25, 3):
            interval = tango_interval(a_only, b_only, n, confidence=1 - 2 * alpha)
            inside = -margin < interval.low and interval.high < margin
            assert inside == (tango_tost(a_only, b_only, n, margin=margin) < alpha)


def test_graded_tost_matches_statsmodels() -> None:
    rng = np.random.default_rng(5)
    a = rng.beta(5, 5, 200)
    b = np.clip(a + rng.normal(0.005, 0.05, 200), 0, 1)
    result = equivalence(a, b, margin=0.02, alpha=0.05)
    p_value, _, _ = ttost_paired(a, b, -0.02, 0.02)
    assert result.method == PAIRED_T
    assert result.p_value == pytest.approx(p_value, rel=1e-9)
    assert result.equivalent == (result.ci_low > -0.02 and result.ci_high < 0.02)


@pytest.mark.parametrize(
    "call",
    [
        lambda: paired_difference([1.0, np.nan], [0.0, 1.0]),
        lambda: paired_difference([0.2, 0.3], [0.1, np.inf]),
        lambda: equivalence([1.0, np.nan], [0.0, 1.0], margin=0.03),
        lambda: sign_flip_test([0.5, np.nan, 0.2], [0.1, 0.3, 0.4]),
        lambda: tango_interval(float("nan"), 1, 10),
        lambda: paired_difference([1.0, 0.0], [0.0, 1.0], confidence=float("nan")),
        lambda: equivalence([1.0, 0.0], [0.0, 1.0], margin=float("nan")),
    ],
)
def test_nan_is_refused(call) -> None:
    with pytest.raises(ValueError, match=r"finite|NaN|nan|between"):
        call()


def _rubric_scores(rng: np.random.Generator, n: int, lift: float) -> tuple[np.ndarray, ...]:
    """Two models' rubric scores on ``n`` items, built as genspec builds them: each item
    has 3-12 criteria (some negative), a shared difficulty, and a panel of two judges
    whose votes count by share; model a meets each wanted criterion ``lift`` more often
    and each harm ``lift`` less often."""
    from genspec.grading.rubric import rubric_score
    from genspec.task import Criterion

    a, b = np.empty(n), np.empty(n)
    for i in range(n):
        k = int(rng.integers(3, 13))
        points = rng.choice([-5, -2, 1, 2, 3, 5, 8], size=k)
        criteria = [Criterion("c", float(p), "axis") for p in points]
        base = rng.beta(2, 2)  # the item's difficulty, the same for both models
        for scores, gain in ((a, lift), (b, 0.0)):
            # the better model meets more of the wanted criteria and fewer of the harms
            chance = np.clip(base + np.where(points > 0, gain, -gain), 0, 1)
            met = (rng.random((k, 2)) < chance[:, None]).mean(axis=1)  # two judges' share
            scores[i] = rubric_score(criteria, list(met)) or 0.0
    return a, b


def test_graded_rubric_scores_reject_a_true_null_at_most_alpha() -> None:
    """Seeded simulation of the false-positive rate on rubric scores (bounded, lumpy,
    with many zeros from negative criteria): no difference between the models, 40 items,
    α = 0.05. The paired t test must reject no more than α plus simulation error, and
    it must still find a real lift of 15 points on the same design."""
    rng = np.random.default_rng(19)
    reps = 600
    rejections = sum(
        paired_difference(*_rubric_scores(rng, 40, 0.0)).p_value < 0.05 for _ in range(reps)
    )
    assert rejections / reps <= 0.05 + 2.5 * np.sqrt(0.05 * 0.95 / reps)
    found = sum(paired_difference(*_rubric_scores(rng, 40, 0.15)).p_value < 0.05 for _ in range(60))
    assert found / 60 >= 0.6
