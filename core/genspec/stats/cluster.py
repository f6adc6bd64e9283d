"""A paired difference interval for items that come in clusters (a case, a document).

PubMedQA asks several questions about one abstract; a clinical case can carry several
questions. Items of one cluster tend to be right or wrong together, so treating them
as independent understates the uncertainty. The cluster (block) bootstrap resamples
whole clusters with replacement (Davison & Hinkley 1997, *Bootstrap Methods*, §3.8;
Field & Welsh 2007, *JRSS B* 69:369–390) and takes the mean difference over the items
drawn, so the interval reflects how much clusters differ from each other.

The interval is the percentile interval of the resampled means; the p-value is the
matching bootstrap test, twice the smaller share of resamples on either side of 0,
so the interval excludes 0 when p < 1 − confidence (up to ties at the boundary).
Seeded: the same data give the same interval. With few clusters (under about 20) any
cluster bootstrap is unreliable; the analysis should say so rather than lean on it.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from genspec.stats.checks import check_level
from genspec.stats.paired import as_pairs

CLUSTER_BOOTSTRAP = "cluster-bootstrap-percentile"
# How many random draws one bootstrap chunk may hold (bounds memory for many clusters).
_MAX_DRAWS_PER_CHUNK = 2_000_000


@dataclass(frozen=True)
class ClusterInterval:
    """Mean paired difference over items, its cluster-bootstrap interval and test."""

    estimate: float
    ci_low: float
    ci_high: float
    p_value: float
    n: int
    clusters: int
    confidence: float
    method: str = CLUSTER_BOOTSTRAP


def _cluster_totals(
    differences: np.ndarray, clusters: Sequence[Hashable]
) -> tuple[np.ndarray, np.ndarray]:
    """Sum of differences and number of items per cluster."""
    if len(clusters) != differences.size:
        raise ValueError(
            f"one cluster id per item is needed; got {len(clusters)} ids for "
            f"{differences.size} items"
        )
    _, index = np.unique(np.asarray([str(c) for c in clusters]), return_inverse=True)
    return np.bincount(index, weights=differences), np.bincount(index).astype(float)


def cluster_bootstrap(
    a: ArrayLike,
    b: ArrayLike,
    clusters: Sequence[Hashable],
    *,
    confidence: float = 0.95,
    n_boot: int = 4000,
    seed: int = 0,
) -> ClusterInterval:
    """Cluster-bootstrap interval and test of ``mean(a − b)`` (see the module docstring)."""
    first, second = as_pairs(a, b)
    check_level(confidence)
    sums, sizes = _cluster_totals(first - second, clusters)
    k = sums.size
    rng = np.random.default_rng(seed)
    means = np.empty(n_boot)
    chunk = max(1, _MAX_DRAWS_PER_CHUNK // k)
    for start in range(0, n_boot, chunk):
        size = min(chunk, n_boot - start)
        draws = rng.multinomial(k, np.full(k, 1 / k), size=size)
        means[start : start + size] = (draws @ sums) / (draws @ sizes)
    tail = (1 - confidence) / 2
    low, high = np.quantile(means, [tail, 1 - tail], method="inverted_cdf")
    p_value = min(1.0, 2 * min(float(np.mean(means <= 0)), float(np.mean(means >= 0))))
    return ClusterInterval(
        estimate=float(first.mean() - second.mean()),
        ci_low=float(low),
        ci_high=float(high),
        p_value=p_value,
        n=first.size,
        clusters=k,
        confidence=confidence,
    )
