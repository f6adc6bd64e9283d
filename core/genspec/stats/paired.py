"""Paired comparison of two models on the same items.

Both models answered the same questions, so the right unit is the per-item
difference, not two separate accuracies: easy and hard items affect both models
alike, and pairing removes that shared noise. An unpaired test (two independent
proportions) would ignore this and be far less sensitive.

- Estimate: the mean per-item difference ``mean(a) - mean(b)``.
- Interval: a seeded percentile bootstrap that resamples items (pairs stay together).
  Superseded for the verdict by ``difference.paired_difference`` (Tango's score
  interval, or t for graded scores), which does not collapse at small n; kept until
  the analysis switches.
- Test for 0/1 scores: McNemar's exact test. Only the discordant items (one model
  right, the other wrong) carry information about which model is better; under
  "no difference" each is equally likely to favour either model, so their split is
  Binomial(discordant, 1/2). Exact, so valid for the small n of smoke runs.
- Test for other scores: a sign-flip permutation test of the mean difference. Under
  "no difference" the two answers of an item are exchangeable, so each difference is
  equally likely to have either sign. It tests the same quantity as the interval
  (the mean), which the Wilcoxon signed-rank test does not (it tests a rank-based
  location, which can disagree in sign with the mean on skewed scores).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike
from scipy import stats

from genspec.stats.checks import finite_array

MCNEMAR = "mcnemar-exact"
SIGN_FLIP = "sign-flip-permutation"

# Sign-flip permutations drawn at random; below this many items, all 2**n are enumerated.
N_PERMUTATIONS = 10_000
_MAX_DRAWS_PER_CHUNK = 2_000_000


@dataclass(frozen=True)
class PairedTest:
    """A paired test's p-value and, for 0/1 scores, the discordant counts it used."""

    test: str
    p_value: float
    a_only: int | None = None  # items a got right and b got wrong (0/1 scores only)
    b_only: int | None = None  # items b got right and a got wrong


@dataclass(frozen=True)
class PairedResult:
    """Model a against model b on ``n`` paired items; ``difference = score_a - score_b``."""

    n: int
    score_a: float
    score_b: float
    difference: float
    ci_low: float
    ci_high: float
    test: str
    p_value: float
    a_only: int | None
    b_only: int | None

    @classmethod
    def of(
        cls, a: np.ndarray, b: np.ndarray, interval: tuple[float, float], test: PairedTest
    ) -> PairedResult:
        """The result for paired scores ``a`` and ``b`` with their interval and test."""
        return cls(
            n=a.size,
            score_a=float(a.mean()),
            score_b=float(b.mean()),
            difference=float(a.mean() - b.mean()),
            ci_low=interval[0],
            ci_high=interval[1],
            test=test.test,
            p_value=test.p_value,
            a_only=test.a_only,
            b_only=test.b_only,
        )


def as_pairs(a: ArrayLike, b: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """Two equal-length finite float arrays, item i of one paired with item i of the other."""
    first, second = finite_array(a, "model a's scores"), finite_array(b, "model b's scores")
    if first.shape != second.shape or first.ndim != 1:
        raise ValueError(
            f"paired scores must be two 1-d arrays of one length: {first.shape} vs {second.shape}"
        )
    if first.size == 0:
        raise ValueError("a paired comparison needs at least one item")
    return first, second


def mcnemar_exact(a: ArrayLike, b: ArrayLike) -> PairedTest:
    """McNemar's exact two-sided test for paired 0/1 scores (binomial on discordant pairs)."""
    first, second = as_pairs(a, b)
    a_only = int(np.sum((first == 1) & (second == 0)))
    b_only = int(np.sum((first == 0) & (second == 1)))
    discordant = a_only + b_only
    if discordant == 0:
        return PairedTest(MCNEMAR, 1.0, a_only, b_only)
    tail = stats.binom.cdf(min(a_only, b_only), discordant, 0.5)
    return PairedTest(MCNEMAR, float(min(1.0, 2 * tail)), a_only, b_only)


def sign_flip_test(
    a: ArrayLike, b: ArrayLike, *, n_permutations: int = N_PERMUTATIONS, seed: int = 0
) -> PairedTest:
    """Two-sided sign-flip permutation test that the mean paired difference is 0.

    Exact (all ``2**n`` sign patterns) when that is at most ``n_permutations``;
    otherwise a seeded Monte Carlo estimate counted as ``(hits + 1) / (draws + 1)``,
    which never returns an impossible p of 0.
    """
    first, second = as_pairs(a, b)
    differences = first - second
    n = differences.size
    observed = abs(differences.sum())
    # Sums taken in another order differ in the last bits; do not count that as smaller.
    threshold = observed - 1e-9 * max(1.0, observed)
    if 2**n <= n_permutations:
        patterns = np.arange(2**n)[:, None] >> np.arange(n) & 1
        null = np.abs((1 - 2 * patterns) @ differences)
        return PairedTest(SIGN_FLIP, float(np.mean(null >= threshold)))
    rng = np.random.default_rng(seed)
    chunk = max(1, _MAX_DRAWS_PER_CHUNK // n)
    hits = 0
    for start in range(0, n_permutations, chunk):
        signs = rng.choice([-1.0, 1.0], size=(min(chunk, n_permutations - start), n))
        hits += int(np.sum(np.abs(signs @ differences) >= threshold))
    return PairedTest(SIGN_FLIP, (hits + 1) / (n_permutations + 1))
