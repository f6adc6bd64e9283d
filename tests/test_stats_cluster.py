"""The cluster bootstrap (genspec.stats.cluster) against scipy's bootstrap of cluster totals."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from genspec.stats.cluster import cluster_bootstrap


def clustered_scores(clusters: int, size: int, seed: int) -> tuple[np.ndarray, ...]:
    """0/1 scores in which a cluster's items share one 'a better' tendency."""
    rng = np.random.default_rng(seed)
    tendency = np.repeat(rng.uniform(0.0, 0.6, clusters), size)
    a = (rng.random(clusters * size) < 0.5 + tendency / 2).astype(float)
    b = (rng.random(clusters * size) < 0.5).astype(float)
    return a, b, np.repeat(np.arange(clusters), size)


@pytest.mark.parametrize("confidence", [0.9, 0.95])
def test_matches_scipys_bootstrap_of_cluster_ratios(confidence: float) -> None:
    a, b, ids = clustered_scores(40, 5, seed=2)
    result = cluster_bootstrap(a, b, ids.tolist(), confidence=confidence, n_boot=20_000)
    sums = np.bincount(ids, weights=a - b)
    sizes = np.bincount(ids).astype(float)
    reference = stats.bootstrap(
        (sums, sizes),
        lambda s, n, axis=-1: s.sum(axis=axis) / n.sum(axis=axis),
        paired=True,
        confidence_level=confidence,
        method="percentile",
        n_resamples=20_000,
        rng=np.random.default_rng(9),
    ).confidence_interval
    assert result.clusters == 40 and result.n == 200
    assert result.estimate == pytest.approx(float(np.mean(a - b)))
    assert (result.ci_low, result.ci_high) == pytest.approx(
        (reference.low, reference.high), abs=0.01
    )
    excludes = result.ci_low > 0 or result.ci_high < 0
    assert excludes == (result.p_value < 1 - confidence)


def test_clusters_widen_the_interval_over_an_item_bootstrap() -> None:
    # Each cluster repeats one item pair five times: resampling items would pretend n = 300.
    rng = np.random.default_rng(4)
    a_item, b_item = rng.integers(0, 2, 60).astype(float), rng.integers(0, 2, 60).astype(float)
    a, b = np.repeat(a_item, 5), np.repeat(b_item, 5)
    clustered = cluster_bootstrap(a, b, np.repeat(np.arange(60), 5).tolist())
    independent = cluster_bootstrap(a, b, list(range(300)))
    ratio = (clustered.ci_high - clustered.ci_low) / (independent.ci_high - independent.ci_low)
    assert ratio == pytest.approx(np.sqrt(5), rel=0.15)


def test_is_seeded_and_refuses_bad_input() -> None:
    a, b, ids = clustered_scores(30, 3, seed=1)
    assert cluster_bootstrap(a, b, ids.tolist(), seed=3) == cluster_bootstrap(
        a, b, ids.tolist(), seed=3
    )
    with pytest.raises(ValueError, match="one cluster id per item"):
        cluster_bootstrap(a, b, ids[:-1].tolist())
    a[4] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        cluster_bootstrap(a, b, ids.tolist())
