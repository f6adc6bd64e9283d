"""How large a difference a comparison of this size could reliably detect (deprecated).

Superseded by ``exact_power``, which computes the power of the test actually used
instead of a normal approximation (at this module's MDE the exact McNemar test has
about 0.77 power, not 0.80). ``n_needed`` for the *observed* difference invites
collecting data until a result is significant; it stays only until the analysis
stops reading it, and then this module goes.

"No significant difference" on 50 items says little; on 5,000 items it says a lot.
The minimum detectable difference (MDE) makes that explicit: the smallest true
difference the test would find with 80% probability at level α, for the observed
sample size and spread. The inverse, the n needed to detect the observed difference,
tells the reader how much more data an inconclusive result would need.

Both use normal approximations, which is what sample-size planning needs (a number
to plan with, not a test).

Binary scores (McNemar). With ``discordance`` ψ = share of items on which the two
models disagree and true difference δ, the discordant count difference has variance
ψ under "no difference" and ψ − δ² under the alternative, which gives Connor's (1987)
sample size

    n = (z_{1-α/2} √ψ + z_{power} √(ψ − δ²))² / δ².

Solving the same equation for δ (a quadratic) gives the MDE

    δ = √ψ (√n z_{1-α/2} + z_{power} √(n − z_{1-α/2}² + z_{power}²)) / (n + z_{power}²).

Other scores (sign-flip test of the mean difference, standard deviation σ of the
per-item differences): δ = (z_{1-α/2} + z_{power}) σ / √n, and n = ((z_{1-α/2} + z_{power}) σ / δ)².

A spread of zero (two models that never disagree) leaves the MDE undefined: the
functions return ``None`` rather than invent a number.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike
from scipy import stats

from genspec.stats.checks import finite_array
from genspec.stats.intervals import is_binary

POWER = 0.8


@dataclass(frozen=True)
class Sensitivity:
    """What a comparison could detect: the MDE at its n, and the n for its difference."""

    mde: float | None
    n_needed: int | None


def _z(alpha: float, power: float) -> tuple[float, float]:
    return float(stats.norm.ppf(1 - alpha / 2)), float(stats.norm.ppf(power))


def mde_binary(
    n: int, discordance: float, *, alpha: float = 0.05, power: float = POWER
) -> float | None:
    """Smallest difference in accuracy McNemar's test detects with ``power``, or None.

    ``discordance`` is the share of the ``n`` paired items the two models disagree on.
    A result above ``discordance`` means no difference is detectable at that spread.
    """
    if n <= 0 or discordance <= 0:
        return None
    z_a, z_b = _z(alpha, power)
    root = math.sqrt(max(0.0, n - z_a**2 + z_b**2))
    return math.sqrt(discordance) * (math.sqrt(n) * z_a + z_b * root) / (n + z_b**2)


def n_needed_binary(
    difference: float, discordance: float, *, alpha: float = 0.05, power: float = POWER
) -> int | None:
    """Paired items McNemar's test needs to detect ``difference`` with ``power``, or None."""
    if difference == 0 or discordance <= 0 or difference**2 > discordance:
        return None
    z_a, z_b = _z(alpha, power)
    root = z_a * math.sqrt(discordance) + z_b * math.sqrt(discordance - difference**2)
    return math.ceil((root / difference) ** 2)


def mde_mean(n: int, sd: float, *, alpha: float = 0.05, power: float = POWER) -> float | None:
    """Smallest mean paired difference a two-sided test detects with ``power``, or None."""
    if n <= 0 or sd <= 0:
        return None
    z_a, z_b = _z(alpha, power)
    return (z_a + z_b) * sd / math.sqrt(n)


def n_needed_mean(
    difference: float, sd: float, *, alpha: float = 0.05, power: float = POWER
) -> int | None:
    """Paired items needed to detect a mean ``difference`` with ``power``, or None."""
    if difference == 0 or sd <= 0:
        return None
    z_a, z_b = _z(alpha, power)
    return math.ceil(((z_a + z_b) * sd / difference) ** 2)


def sensitivity(
    a: ArrayLike, b: ArrayLike, *, alpha: float = 0.05, power: float = POWER
) -> Sensitivity:
    """MDE and needed n for paired scores, from their observed spread.

    0/1 scores use the McNemar formulas with the observed share of disagreements;
    other scores use the standard deviation of the per-item differences.
    """
    first, second = finite_array(a, "model a's scores"), finite_array(b, "model b's scores")
    n = first.size
    difference = float(first.mean() - second.mean())
    if is_binary(first) and is_binary(second):
        discordance = float(np.mean(first != second))
        return Sensitivity(
            mde_binary(n, discordance, alpha=alpha, power=power),
            n_needed_binary(difference, discordance, alpha=alpha, power=power),
        )
    sd = float(np.std(first - second, ddof=1)) if n > 1 else 0.0
    return Sensitivity(
        mde_mean(n, sd, alpha=alpha, power=power),
        n_needed_mean(difference, sd, alpha=alpha, power=power),
    )
