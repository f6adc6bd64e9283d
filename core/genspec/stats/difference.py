"""The paired difference between two models, with an interval and a test that agree.

One entry point for the analysis: ``paired_difference`` picks the method from the
scores and returns the estimate, its interval and the test paired with that interval;
``equivalence`` runs the matching TOST against a margin.

- 0/1 scores: Tango's score interval and score test (``tango``).
- Graded scores: Student's t interval, paired t-test and t TOST (``graded``); when
  the differences have no spread (n = 1, identical differences) the scores, which
  lie in [0, 1], fall back to Tango on summed positive and negative differences.

In every case the interval is the set of differences the test does not reject, so a
reader never sees "significant" beside an interval that covers 0, or the reverse.
McNemar's exact test stays available in ``paired`` (and is the test whose power
``power`` computes exactly), but it is not what the verdict rests on, since its
discreteness lets it disagree with any interval near the boundary.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike
from scipy import stats

from genspec.stats.checks import check_level, finite_number
from genspec.stats.graded import PAIRED_T, TPivot, t_interval, t_test, t_tost
from genspec.stats.intervals import Interval, is_binary
from genspec.stats.paired import as_pairs
from genspec.stats.tango import TANGO, tango_interval, tango_test, tango_tost

TANGO_FRACTIONAL = "tango-score-fractional"


@dataclass(frozen=True)
class PairedDifference:
    """Model a against model b on ``n`` paired items; ``difference = mean(a) − mean(b)``.

    ``p_value`` is the two-sided test paired with the interval: it is below
    ``1 − confidence`` exactly when the interval excludes 0. ``standard_error`` is the
    interval's half-width over its normal critical value (for Tango, whose interval is
    not symmetric, the average half-width): the spread used to pool tasks.
    """

    n: int
    difference: float
    ci_low: float
    ci_high: float
    confidence: float
    standard_error: float
    method: str
    p_value: float
    a_only: float | None = None  # 0/1: items only a got right (graded fallback: summed gains)
    b_only: float | None = None  # 0/1: items only b got right (graded fallback: summed losses)


@dataclass(frozen=True)
class Equivalence:
    """TOST of "the difference lies within ±margin" at level α.

    ``equivalent`` holds exactly when the 1 − 2α interval ``[ci_low, ci_high]`` lies
    inside (−margin, +margin), which is also when ``p_value < alpha``.
    """

    margin: float
    alpha: float
    p_value: float
    equivalent: bool
    ci_low: float
    ci_high: float
    method: str


def _counts(differences: np.ndarray) -> tuple[float, float]:
    """Summed gains and losses of a over b (the discordant counts for 0/1 scores)."""
    return float(np.clip(differences, 0, None).sum()), float(np.clip(-differences, 0, None).sum())


def _method(a: np.ndarray, b: np.ndarray) -> tuple[str, TPivot | None]:
    """Which method the scores get, and the t pivot when it is the t method."""
    if is_binary(a) and is_binary(b):
        return TANGO, None
    pivot = TPivot.of(a - b)
    if pivot is not None:
        return PAIRED_T, pivot
    if a.min() < 0 or b.min() < 0 or a.max() > 1 or b.max() > 1:
        raise ValueError(
            "graded scores whose differences are all equal need scores in [0, 1] for an "
            "interval; rescale the scores to [0, 1]"
        )
    return TANGO_FRACTIONAL, None


def paired_difference(a: ArrayLike, b: ArrayLike, *, confidence: float = 0.95) -> PairedDifference:
    """Difference, interval and agreeing test of model a against model b (see module doc)."""
    first, second = as_pairs(a, b)
    check_level(confidence)
    method, pivot = _method(first, second)
    n = first.size
    critical = float(stats.norm.ppf(0.5 + confidence / 2))
    if pivot is not None:
        interval = t_interval(pivot, confidence=confidence)
        return PairedDifference(
            n=n,
            difference=interval.estimate,
            ci_low=interval.low,
            ci_high=interval.high,
            confidence=confidence,
            standard_error=pivot.standard_error,
            method=method,
            p_value=t_test(pivot),
        )
    a_only, b_only = _counts(first - second)
    interval: Interval = tango_interval(a_only, b_only, n, confidence=confidence)
    return PairedDifference(
        n=n,
        difference=float(first.mean() - second.mean()),
        ci_low=interval.low,
        ci_high=interval.high,
        confidence=confidence,
        standard_error=(interval.high - interval.low) / (2 * critical),
        method=method,
        p_value=tango_test(a_only, b_only, n),
        a_only=a_only,
        b_only=b_only,
    )


def equivalence(a: ArrayLike, b: ArrayLike, *, margin: float, alpha: float = 0.05) -> Equivalence:
    """TOST of model a against model b within ±``margin`` (a fraction: 0.03 is 3 points)."""
    first, second = as_pairs(a, b)
    if not 0 < check_level(alpha, "alpha") < 0.5:
        raise ValueError(f"alpha must lie below 0.5 for a 1 − 2α interval; got {alpha}")
    if not 0 < finite_number(margin, "margin") < 1:
        raise ValueError(
            f"margin must lie strictly between 0 and 1 (0.03 is 3 points); got {margin}"
        )
    method, pivot = _method(first, second)
    if pivot is not None:
        interval = t_interval(pivot, confidence=1 - 2 * alpha)
        p_value = t_tost(pivot, margin=margin)
    else:
        a_only, b_only = _counts(first - second)
        interval = tango_interval(a_only, b_only, first.size, confidence=1 - 2 * alpha)
        p_value = tango_tost(a_only, b_only, first.size, margin=margin)
    return Equivalence(
        margin=margin,
        alpha=alpha,
        p_value=p_value,
        equivalent=p_value < alpha,
        ci_low=interval.low,
        ci_high=interval.high,
        method=method,
    )
