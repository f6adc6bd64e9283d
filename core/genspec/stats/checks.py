"""Input checks shared by every statistic: a NaN must stop the analysis, not bend it.

A NaN score silently poisons a mean, turns a comparison such as ``x == 1`` false
(so a NaN item looks "wrong" to McNemar's test) and makes a permutation test count no
extreme sums (p = 0). Each public function therefore refuses non-finite input with a
``ValueError`` that gives the positions, so the caller can name the model, task and item.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import ArrayLike

# Positions listed in the message before it says "and N more".
_SHOWN = 5


def finite_array(values: ArrayLike, what: str = "scores") -> np.ndarray:
    """``values`` as a float array, or a ValueError naming the positions that are NaN or ±inf."""
    array = np.asarray(values, dtype=float)
    bad = np.flatnonzero(~np.isfinite(array))
    if bad.size:
        shown = ", ".join(str(int(i)) for i in bad[:_SHOWN])
        more = f" and {bad.size - _SHOWN} more" if bad.size > _SHOWN else ""
        raise ValueError(
            f"{what} must be finite numbers; position(s) {shown}{more} are NaN or infinite"
        )
    return array


def finite_number(value: float, what: str) -> float:
    """``value`` as a float, or a ValueError saying that ``what`` is NaN or infinite."""
    number = float(value)
    if not math.isfinite(number):
        raise ValueError(f"{what} must be a finite number; got {value}")
    return number


def check_level(level: float, what: str = "confidence") -> float:
    """A probability strictly between 0 and 1 (a confidence level, α or power)."""
    number = finite_number(level, what)
    if not 0 < number < 1:
        raise ValueError(f"{what} must lie strictly between 0 and 1; got {level}")
    return number
