"""Exact power of the paired tests genspec uses, the MDE it implies, and planning n.

Replaces the normal-approximation formulas of ``power``: at their reported MDE the
exact McNemar test has about 0.77 power, not the 0.80 they claim.

0/1 scores. Each item is "a only right" with probability p₁₀, "b only right" with
p₀₁, otherwise concordant; the difference is δ = p₁₀ − p₀₁ and the discordance
ψ = p₁₀ + p₀₁. The number of discordant items is m ~ Binomial(n, ψ) and, given m,
the a-only count is K ~ Binomial(m, p₁₀/ψ). Both tests reject on a symmetric
region of K given m, so the power is

    Σ_m Binomial(m; n, ψ) · P(K in the rejection region of m | m)

summed exactly (terms with probability below 1e-12 are dropped). The test is either
Tango's score test of δ = 0 (``tango``: |2K − m| / √m > z, the verdict's test) or
McNemar's exact test (``mcnemar-exact``: 2·P(Bin(m, ½) ≤ min(K, m − K)) < α).
Rejection means p < α, as in the verdict.

Graded scores. The paired t-test's power is exact under normal differences with
standard deviation σ: P(|T| > t_{n−1}) with T noncentral t, noncentrality δ√n/σ.

The MDE is the smallest difference with the stated power (80% by default) at a
given n. "Items needed to detect the *observed* difference" is deliberately absent:
it invites collecting data until a result is significant. Planning asks the other
question: how many items a stated effect needs (``n_for_effect``).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Literal

import numpy as np
from scipy import optimize, stats

from genspec.stats.checks import check_level, finite_number

BinaryTest = Literal["tango", "mcnemar-exact"]
BINARY_TESTS: tuple[BinaryTest, ...] = ("tango", "mcnemar-exact")
POWER = 0.8
# Discordant counts less likely than this are left out of the power sum.
_NEGLIGIBLE = 1e-12
# Largest n the planning search will consider.
_MAX_N = 10_000_000


def _lower_rejection_bound(m: np.ndarray, alpha: float, test: BinaryTest) -> np.ndarray:
    """Largest a-only count K, given m discordant items, at which ``test`` rejects (−1: none)."""
    if test == "tango":
        z = float(stats.norm.ppf(1 - alpha / 2))
        bound = np.ceil((m - z * np.sqrt(m)) / 2) - 1
    elif test == "mcnemar-exact":
        bound = stats.binom.ppf(alpha / 2, m, 0.5) - 1
    else:
        raise ValueError(f"unknown test '{test}'; choose one of {', '.join(BINARY_TESTS)}")
    return np.where(m > 0, bound, -1)


def _check_binary(n: int, difference: float, discordance: float) -> None:
    if n < 1 or int(n) != n:
        raise ValueError(f"n must be a whole number of paired items ≥ 1; got {n}")
    psi = finite_number(discordance, "discordance")
    delta = finite_number(difference, "difference")
    if not 0 < psi <= 1:
        raise ValueError(
            f"discordance (share of items the models disagree on) must lie in (0, 1]; got {psi}"
        )
    if abs(delta) > psi:
        raise ValueError(
            f"a difference of {delta} needs a discordance of at least {abs(delta)}; got {psi}"
        )


def binary_power(
    n: int,
    difference: float,
    discordance: float,
    *,
    alpha: float = 0.05,
    test: BinaryTest = "tango",
) -> float:
    """Exact power of ``test`` on ``n`` paired 0/1 items (see the module docstring)."""
    _check_binary(n, difference, discordance)
    check_level(alpha, "alpha")
    lowest = int(stats.binom.ppf(_NEGLIGIBLE, n, discordance))
    highest = int(stats.binom.isf(_NEGLIGIBLE, n, discordance))
    m = np.arange(lowest, highest + 1)
    weights = stats.binom.pmf(m, n, discordance)
    share = (discordance + difference) / (2 * discordance)  # P(a only | discordant)
    lower = _lower_rejection_bound(m, alpha, test)
    rejected = stats.binom.cdf(lower, m, share) + stats.binom.sf(m - lower - 1, m, share)
    rejected = np.where(lower >= 0, rejected, 0.0)
    return float(min(1.0, np.sum(weights * rejected)))


def binary_mde(
    n: int,
    discordance: float,
    *,
    alpha: float = 0.05,
    power: float = POWER,
    test: BinaryTest = "tango",
) -> float | None:
    """Smallest difference ``test`` detects with ``power`` on ``n`` items, or None if none can."""
    check_level(power, "power")
    if binary_power(n, discordance, discordance, alpha=alpha, test=test) < power:
        return None
    return float(
        optimize.brentq(
            lambda delta: binary_power(n, delta, discordance, alpha=alpha, test=test) - power,
            0.0,
            discordance,
            xtol=1e-6,
        )
    )


def _smallest_n(reaches: Callable[[int], bool]) -> int | None:
    """Smallest n (by doubling then bisection) with ``reaches(n)`` true, or None below _MAX_N."""
    high = 1
    while not reaches(high):
        high *= 2
        if high > _MAX_N:
            return None
    low = high // 2  # reaches(low) is false (or low is 0)
    while high - low > 1:
        middle = (low + high) // 2
        low, high = (low, middle) if reaches(middle) else (middle, high)
    return high


def binary_n_for_effect(
    difference: float,
    discordance: float,
    *,
    alpha: float = 0.05,
    power: float = POWER,
    test: BinaryTest = "tango",
) -> int | None:
    """Paired 0/1 items ``test`` needs to detect ``difference`` with ``power`` (planning).

    A discrete test's power is saw-toothed in n; this is the first n the search finds at
    which the exact power reaches the target. None when no n up to ten million does.
    """
    _check_binary(1, difference, discordance)
    check_level(power, "power")
    if difference == 0:
        raise ValueError("a planning effect must be non-zero")
    return _smallest_n(
        lambda n: binary_power(n, difference, discordance, alpha=alpha, test=test) >= power
    )


def t_power(n: int, difference: float, sd: float, *, alpha: float = 0.05) -> float:
    """Exact power of the two-sided paired t-test (normal differences with spread ``sd``)."""
    if n < 2 or int(n) != n:
        raise ValueError(f"the paired t-test needs n ≥ 2 whole items; got {n}")
    if not finite_number(sd, "sd") > 0:
        raise ValueError(f"sd must be positive; got {sd}")
    check_level(alpha, "alpha")
    df = n - 1
    critical = float(stats.t.ppf(1 - alpha / 2, df))
    noncentrality = finite_number(difference, "difference") * math.sqrt(n) / sd
    tails = [stats.nct.sf(critical, df, noncentrality), stats.nct.cdf(-critical, df, noncentrality)]
    # scipy returns NaN for a tail far below 1e-30 (df 29, noncentrality 11: the lower
    # tail); the other tail is then near 1 and exact, so the NaN one counts as 0
    return float(sum(0.0 if math.isnan(tail) else tail for tail in tails))


def t_mde(n: int, sd: float, *, alpha: float = 0.05, power: float = POWER) -> float:
    """Smallest mean difference the paired t-test detects with ``power`` on ``n`` items."""
    check_level(power, "power")
    upper = 2 * sd
    while t_power(n, upper, sd, alpha=alpha) < power:
        upper *= 2
    return float(
        optimize.brentq(lambda d: t_power(n, d, sd, alpha=alpha) - power, 0.0, upper, xtol=1e-9)
    )


def t_n_for_effect(
    difference: float, sd: float, *, alpha: float = 0.05, power: float = POWER
) -> int | None:
    """Paired items the t-test needs to detect a mean ``difference`` with ``power`` (planning)."""
    check_level(power, "power")
    if finite_number(difference, "difference") == 0:
        raise ValueError("a planning effect must be non-zero")
    return _smallest_n(lambda n: n >= 2 and t_power(n, difference, sd, alpha=alpha) >= power)
