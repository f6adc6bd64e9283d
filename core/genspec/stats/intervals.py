"""Confidence intervals for one model's score on one task.

Accuracy on multiple-choice items is a proportion, so it gets a Wilson interval:
unlike the textbook ``p ± 1.96·se`` it stays inside [0, 1] and keeps close to its
nominal coverage for small n and for scores near 0 or 1 (tiny smoke runs, very
strong models). Scores that are not 0/1 (F1, ROUGE, partial credit) have no such
formula, so they get a seeded percentile bootstrap of the mean.

The bootstrap here also serves the paired statistics: a paired bootstrap of a
difference is a bootstrap of the per-item differences, and a pooled estimate is a
bootstrap stratified by task.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike
from scipy import stats

from genspec.stats.checks import finite_array

# How many random draws one bootstrap chunk may hold (bounds memory for large tasks).
_MAX_DRAWS_PER_CHUNK = 2_000_000


@dataclass(frozen=True)
class Interval:
    """A point estimate and its two-sided confidence interval."""

    estimate: float
    low: float
    high: float


def is_binary(values: ArrayLike) -> bool:
    """True when every score is exactly 0 or 1 (a right/wrong item)."""
    array = np.asarray(values, dtype=float)
    return bool(np.all((array == 0) | (array == 1)))


def wilson_interval(successes: int, n: int, *, confidence: float = 0.95) -> Interval:
    """Wilson score interval for ``successes`` out of ``n``.

    It is the set of proportions a score test would not reject, solved in closed
    form; it never leaves [0, 1] and is sensible even at 0/n or n/n.
    """
    if n <= 0:
        raise ValueError("a proportion needs at least one item (n > 0)")
    if not 0 <= successes <= n:
        raise ValueError(f"successes must lie in [0, n]; got {successes} of {n}")
    z = stats.norm.ppf(0.5 + confidence / 2)
    p = successes / n
    denominator = 1 + z**2 / n
    centre = (p + z**2 / (2 * n)) / denominator
    half_width = z * np.sqrt(p * (1 - p) / n + z**2 / (4 * n**2)) / denominator
    return Interval(p, float(max(0.0, centre - half_width)), float(min(1.0, centre + half_width)))


def _bootstrap_means(
    strata: Sequence[ArrayLike], n_boot: int, rng: np.random.Generator
) -> np.ndarray:
    """Overall mean of each of ``n_boot`` stratified bootstrap resamples.

    Each stratum is resampled with replacement to its own size, then all items are
    averaged together (so a stratum counts in proportion to its size). A mean only
    depends on how often each distinct value is drawn, so those counts come from one
    multinomial draw per stratum: the same distribution as resampling items one by
    one, and cheap for 0/±1 scores, which have at most three distinct values.
    """
    arrays = [np.asarray(s, dtype=float) for s in strata]
    total_n = sum(a.size for a in arrays)
    if total_n == 0:
        raise ValueError("the bootstrap needs at least one item")
    sums = np.zeros(n_boot)
    for array in arrays:
        if array.size == 0:
            continue
        values, counts = np.unique(array, return_counts=True)
        chunk = max(1, _MAX_DRAWS_PER_CHUNK // values.size)
        for start in range(0, n_boot, chunk):
            size = min(chunk, n_boot - start)
            draws = rng.multinomial(array.size, counts / array.size, size=size)
            sums[start : start + size] += draws @ values
    return sums / total_n


def bootstrap_interval(
    strata: Sequence[ArrayLike],
    *,
    confidence: float = 0.95,
    n_boot: int = 2000,
    seed: int = 0,
) -> Interval:
    """Percentile bootstrap interval for the mean of all items, resampled within strata.

    Pass one stratum for a plain bootstrap. Seeded, so the same data always gives the
    same interval (a rerun of ``genspec run`` reproduces its report exactly).
    """
    arrays = [finite_array(s) for s in strata]
    estimate = float(np.concatenate(arrays).mean())
    means = _bootstrap_means(arrays, n_boot, np.random.default_rng(seed))
    tail = (1 - confidence) / 2
    low, high = np.quantile(means, [tail, 1 - tail])
    return Interval(estimate, float(low), float(high))


def score_interval(
    scores: ArrayLike, *, confidence: float = 0.95, n_boot: int = 2000, seed: int = 0
) -> Interval:
    """Wilson for 0/1 scores, percentile bootstrap for any other score in [0, 1]."""
    array = finite_array(scores)
    if is_binary(array):
        return wilson_interval(int(array.sum()), array.size, confidence=confidence)
    return bootstrap_interval([array], confidence=confidence, n_boot=n_boot, seed=seed)
