"""Adjusted p-values for a family of comparisons (one per task of a domain).

Testing the same claim on five tasks gives five chances to be fooled by noise: at
α = 0.05 one "significant" task in five is not surprising even if nothing differs.
Adjusted p-values are compared with α directly.

- Holm (default) controls the family-wise error rate: the chance of *any* false
  "significant" task stays below α. It is uniformly more powerful than Bonferroni
  and needs no assumption about how tasks depend on each other.
- Benjamini–Hochberg controls the false discovery rate: the expected share of
  false findings among the significant ones. More lenient; suits many tasks.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from numpy.typing import ArrayLike

from genspec.stats.checks import finite_array

Correction = Literal["holm", "bh"]
CORRECTIONS: tuple[Correction, ...] = ("holm", "bh")


def holm(p_values: ArrayLike) -> np.ndarray:
    """Holm step-down: the i-th smallest p is multiplied by (m - i), kept monotone."""
    p = finite_array(p_values, "p-values")
    m = p.size
    order = np.argsort(p, kind="stable")
    stepped = np.maximum.accumulate((m - np.arange(m)) * p[order])
    adjusted = np.empty(m)
    adjusted[order] = np.minimum(stepped, 1.0)
    return adjusted


def benjamini_hochberg(p_values: ArrayLike) -> np.ndarray:
    """Benjamini–Hochberg step-up: the i-th smallest p times m / i, kept monotone."""
    p = finite_array(p_values, "p-values")
    m = p.size
    order = np.argsort(p, kind="stable")
    scaled = p[order] * m / np.arange(1, m + 1)
    stepped = np.minimum.accumulate(scaled[::-1])[::-1]
    adjusted = np.empty(m)
    adjusted[order] = np.minimum(stepped, 1.0)
    return adjusted


def adjust(p_values: ArrayLike, method: Correction = "holm") -> np.ndarray:
    """Adjusted p-values by ``method`` ("holm" or "bh"), in the input order."""
    if method == "holm":
        return holm(p_values)
    if method == "bh":
        return benjamini_hochberg(p_values)
    raise ValueError(f"unknown correction '{method}'; choose one of {', '.join(CORRECTIONS)}")
