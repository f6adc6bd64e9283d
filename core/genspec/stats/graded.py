"""Paired t interval, test and equivalence test for graded scores (top-5, rubric points, F1).

Graded scores have no closed-form interval like Tango's, so the per-item differences
get Student's t: the interval ``d̄ ± t_{n−1} · s / √n``, the paired t-test, and the
two one-sided t-tests (TOST, Schuirmann 1987) for equivalence. All three use one
pivot, ``(d̄ − δ) / (s / √n)``, so they agree exactly: the interval excludes 0 ⇔
p < 1 − confidence, and the 1 − 2α interval lies inside ±margin ⇔ the TOST p < α.

The t quantile widens the interval at small n (t₄ = 2.78 against z = 1.96), so it
does not collapse at n ≤ 10 the way a percentile bootstrap does, whose resamples can
only take a handful of values there. By the central limit theorem the mean of
bounded scores is close to normal already at moderate n.

A t interval has no width when every difference is the same (n = 1, or two models
that score identically on every item). For scores in [0, 1] those cases fall back to
Tango's interval on the summed positive and negative differences, which is
conservative for graded scores: a difference d in [−1, 1] has E[d²] ≤ E|d|, the
variance Tango assumes for 0/±1 differences.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import stats

from genspec.stats.checks import check_level, finite_number
from genspec.stats.intervals import Interval

PAIRED_T = "paired-t"


@dataclass(frozen=True)
class TPivot:
    """Mean, standard error and degrees of freedom of paired differences."""

    mean: float
    standard_error: float
    df: int

    @classmethod
    def of(cls, differences: np.ndarray) -> TPivot | None:
        """The pivot of ``differences``, or None when it has no spread (see module doc)."""
        n = differences.size
        if n < 2:
            return None
        sd = float(np.std(differences, ddof=1))
        if sd <= 1e-12 * max(1.0, float(np.abs(differences).max())):
            return None
        return cls(float(differences.mean()), sd / math.sqrt(n), n - 1)


def t_interval(pivot: TPivot, *, confidence: float = 0.95) -> Interval:
    """Student's t interval ``mean ± t_{df} · standard_error``."""
    critical = float(stats.t.ppf(0.5 + check_level(confidence) / 2, pivot.df))
    half_width = critical * pivot.standard_error
    return Interval(pivot.mean, pivot.mean - half_width, pivot.mean + half_width)


def t_test(pivot: TPivot) -> float:
    """Two-sided p-value of the paired t-test that the mean difference is 0."""
    return float(2 * stats.t.sf(abs(pivot.mean / pivot.standard_error), pivot.df))


def t_tost(pivot: TPivot, *, margin: float) -> float:
    """Schuirmann's TOST p-value that the mean difference lies within ±margin."""
    if not finite_number(margin, "margin") > 0:
        raise ValueError(f"margin must be positive; got {margin}")
    above_lower = stats.t.sf((pivot.mean + margin) / pivot.standard_error, pivot.df)
    below_upper = stats.t.cdf((pivot.mean - margin) / pivot.standard_error, pivot.df)
    return float(max(above_lower, below_upper))
