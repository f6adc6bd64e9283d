"""Pooling over a domain's tasks (genspec.stats.meta) against statsmodels' meta-analysis."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats
from statsmodels.stats.meta_analysis import combine_effects

from genspec.stats.meta import equal_weight, random_effects
from genspec.stats.tango import tango_interval

TASKS = [
    (np.array([0.06, -0.10, -0.08, 0.02, -0.03]), np.array([0.014, 0.06, 0.05, 0.03, 0.04])),
    (np.array([0.10, 0.12, 0.05]), np.array([0.02, 0.03, 0.025])),
    (np.array([0.01, 0.09]), np.array([0.02, 0.03])),
]


@pytest.mark.parametrize(("effects", "errors"), TASKS)
@pytest.mark.parametrize("confidence", [0.9, 0.95])
def test_random_effects_match_statsmodels(effects, errors, confidence: float) -> None:
    reference = combine_effects(effects, errors**2, method_re="dl")
    frame = reference.summary_frame()
    result = random_effects(effects, errors, confidence=confidence)
    assert result.q == pytest.approx(reference.q)
    assert result.i2 == pytest.approx(max(0.0, reference.i2))  # I² is truncated at 0
    assert result.tau2 == pytest.approx(reference.tau2)
    assert result.pooled.estimate == pytest.approx(reference.mean_effect_re)
    assert result.fixed.estimate == pytest.approx(reference.mean_effect_fe)
    assert result.fixed.standard_error == pytest.approx(frame.loc["fixed effect", "sd_eff"])
    # The modified HKSJ standard error is the larger of the DL and the HKSJ one.
    se = max(frame.loc["random effect", "sd_eff"], frame.loc["random effect wls", "sd_eff"])
    assert result.pooled.standard_error == pytest.approx(se)
    half = stats.t.ppf(0.5 + confidence / 2, effects.size - 1) * se
    assert (result.pooled.ci_low, result.pooled.ci_high) == pytest.approx(
        (reference.mean_effect_re - half, reference.mean_effect_re + half)
    )
    significant = result.pooled.ci_low > 0 or result.pooled.ci_high < 0
    assert significant == (result.pooled.p_value < 1 - confidence)
    assert result.q_p_value == pytest.approx(stats.chi2.sf(reference.q, effects.size - 1))


def test_the_issue_example_one_large_task_does_not_outvote_three_small_ones() -> None:
    # One task, n = 1000, at +6 points; three of n = 50 at −10 points (Tango errors).
    large = tango_interval(120, 60, 1000)
    small = tango_interval(2, 7, 50)
    z = stats.norm.ppf(0.975)
    effects = [large.estimate] + [small.estimate] * 3
    errors = [(large.high - large.low) / (2 * z)] + [(small.high - small.low) / (2 * z)] * 3
    result = random_effects(effects, errors)
    assert result.q == pytest.approx(15.8, abs=1.0)
    assert result.i2 == pytest.approx(0.81, abs=0.02)
    assert result.pooled.estimate == pytest.approx(-0.049, abs=0.002)
    reference = combine_effects(np.array(effects), np.array(errors) ** 2, method_re="dl")
    dl_low, dl_high = reference.summary_frame().loc["random effect", ["ci_low", "ci_upp"]]
    assert (dl_low, dl_high) == pytest.approx((-0.16, 0.06), abs=0.01)  # the issue's [−16, +6]
    assert result.pooled.ci_low < dl_low and result.pooled.ci_high > dl_high  # HKSJ is wider
    assert result.prediction_low < result.pooled.ci_low
    assert result.fixed.estimate > 0  # the inverse-variance figure still leans on the big task


def test_one_and_two_tasks() -> None:
    single = random_effects([0.05], [0.02])
    assert single.k == 1 and single.pooled.estimate == 0.05
    assert single.pooled.ci_low == pytest.approx(0.05 - stats.norm.ppf(0.975) * 0.02)
    assert single.prediction_low is None and single.i2 == 0.0
    pair = random_effects([0.05, 0.07], [0.02, 0.02])
    assert pair.prediction_low is None
    assert pair.pooled.ci_high - pair.pooled.ci_low > 4 * 0.02  # t with one df is wide


def test_identical_task_effects_do_not_collapse_the_interval() -> None:
    result = random_effects([0.04, 0.04, 0.04], [0.02, 0.03, 0.02])
    assert result.tau2 == 0 and result.q == 0
    assert result.pooled.ci_high - result.pooled.ci_low > 0.02


@pytest.mark.parametrize("confidence", [0.8, 0.95])
def test_equal_weight_is_the_one_sample_t_test_over_tasks(confidence: float) -> None:
    effects, errors = np.array([0.06, -0.1, -0.02, 0.04]), np.full(4, 0.01)
    reference = stats.ttest_1samp(effects, 0.0)
    result = equal_weight(effects, errors, confidence=confidence)
    assert result.estimate == pytest.approx(effects.mean())
    interval = reference.confidence_interval(confidence)
    assert (result.ci_low, result.ci_high) == pytest.approx((interval.low, interval.high))
    assert result.p_value == pytest.approx(reference.pvalue)
    # The same figure is statsmodels' HKSJ ("wls") fixed-effect row when weights are equal.
    frame = combine_effects(effects, errors**2, method_re="dl").summary_frame()
    assert result.standard_error == pytest.approx(frame.loc["fixed effect wls", "sd_eff"])


def test_equal_weight_never_collapses_and_one_task_is_itself() -> None:
    agreeing = equal_weight([0.04, 0.04, 0.04], [0.02, 0.03, 0.02])
    fixed_se = 1 / np.sqrt(1 / 0.02**2 + 1 / 0.03**2 + 1 / 0.02**2)
    assert agreeing.standard_error == pytest.approx(fixed_se)
    assert agreeing.ci_low < 0.04 - 0.01
    single = equal_weight([0.05], [0.02])
    assert (single.ci_low, single.ci_high) == pytest.approx(
        (0.05 - stats.norm.ppf(0.975) * 0.02, 0.05 + stats.norm.ppf(0.975) * 0.02)
    )


@pytest.mark.parametrize(
    ("effects", "errors", "match"),
    [
        ([0.1, np.nan], [0.02, 0.02], "NaN"),
        ([0.1, 0.2], [0.02, np.nan], "NaN"),
        ([0.1, 0.2], [0.02, 0.0], "positive"),
        ([0.1, 0.2], [0.02], "one standard error per task"),
        ([], [], "one standard error per task"),
    ],
)
def test_bad_input_is_refused(effects, errors, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        random_effects(effects, errors)
    with pytest.raises(ValueError, match=match):
        equal_weight(effects, errors)
