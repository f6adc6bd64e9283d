"""From two models' paired scores to the numbers a verdict rests on.

This is the thin layer between :mod:`genspec.analysis` (which knows results tables,
rosters and families of comparisons) and :mod:`genspec.stats` (pure functions on
arrays). For one comparison it gives, all at level α:

- the difference with the interval and test that agree (Tango's score interval and
  test for 0/1 scores, Student's t for graded ones: :func:`stats.difference.paired_difference`);
- the equivalence test (TOST) against the run's ``margin``;
- the minimum detectable difference of *that* test, by exact power (80%), and the
  planning figure: the paired items the same test needs to detect a difference of
  ``margin``. "Items needed to detect the observed difference" is deliberately not
  given: it invites collecting data until a result is significant.

For a domain it pools the tasks (each task one unit): the equal-weight estimate the
verdict rests on, and random effects with heterogeneity beside it
(:mod:`genspec.stats.meta`). Items repeated across the domain's tasks are dropped
from all but the first task before pooling (:mod:`genspec.stats.overlap`).

No pandas here: the seeded simulation of the verdict's error rates runs on arrays.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

import numpy as np
from scipy import stats

from genspec.evidence import TaskEstimate
from genspec.stats.cluster import cluster_bootstrap
from genspec.stats.difference import Equivalence, equivalence, paired_difference
from genspec.stats.exact_power import binary_mde, binary_n_for_effect, t_mde, t_n_for_effect
from genspec.stats.graded import PAIRED_T
from genspec.stats.meta import Pooled, equal_weight, random_effects
from genspec.stats.multiple import Correction, adjust
from genspec.stats.overlap import first_occurrences
from genspec.stats.paired import PairedResult
from genspec.stats.tango import TANGO
from genspec.stats.verdict import Verdict, decide


@dataclass(frozen=True)
class Resampling:
    """Bootstrap settings of the run (``n_boot``, ``seed``): the same data give the same
    interval."""

    n_boot: int = 2000
    seed: int = 0


@dataclass(frozen=True)
class Paired:
    """One comparison's numbers: the result, its equivalence test and its sensitivity.

    ``standard_error`` is the spread the task contributes when tasks are pooled.
    """

    result: PairedResult
    equivalence: Equivalence
    standard_error: float
    mde: float | None
    n_for_margin: int | None


def _whole(count: float | None) -> int | None:
    """Discordant counts of 0/1 scores are whole; summed graded gains are not kept."""
    return None if count is None or count != int(count) else int(count)


def sensitivity(
    a: np.ndarray, b: np.ndarray, method: str, *, alpha: float, margin: float
) -> tuple[float | None, int | None]:
    """Exact-power MDE of ``method``'s test at this n, and the n it needs for ``margin``.

    Both come from the comparison's own spread: the share of items the models disagree
    on (0/1 scores) or the standard deviation of the differences (graded). With no
    spread (two models that never disagree), neither exists and both are None. The MDE
    is None too when no possible difference is detectable: scores lie in [0, 1], so a
    graded MDE above 1 point of score (two items, wide spread) is no MDE at all.
    """
    n = a.size
    if method == TANGO:
        discordance = float(np.mean(a != b))
        if discordance == 0:
            return None, None
        mde = binary_mde(n, discordance, alpha=alpha, test="tango")
        planned = (
            binary_n_for_effect(margin, discordance, alpha=alpha) if margin <= discordance else None
        )
        return mde, planned
    if method == PAIRED_T:
        spread = float(np.std(a - b, ddof=1)) if n > 1 else 0.0
        if spread == 0:
            return None, None
        mde = t_mde(n, spread, alpha=alpha)
        return (mde if mde <= 1 else None), t_n_for_effect(margin, spread, alpha=alpha)
    return None, None


def paired(
    a: np.ndarray,
    b: np.ndarray,
    *,
    alpha: float,
    margin: float,
    power_alpha: float,
    with_power: bool = True,
    clusters: Sequence[str] | None = None,
    resampling: Resampling = Resampling(),
) -> Paired:
    """Model a against model b on paired items: difference, interval and test at 1 − α,
    TOST at α against ``margin``, and the test's MDE at ``power_alpha`` (the level the
    corrected test must clear). ``with_power=False`` skips the power figures (the
    simulation of the verdict's error rates, which never reads them).

    With ``clusters`` (one label per item: a case, an abstract) the interval and its
    test come from the seeded cluster bootstrap, so items of one cluster are not
    counted as independent evidence, widened to the item-level interval and p-value
    where those are more cautious (a bootstrap over few or alike clusters collapses);
    TOST and the power figures stay those of the item-level test (they assume
    independent items, and say so in the README).
    """
    difference = paired_difference(a, b, confidence=1 - alpha)
    low, high, p_value, test = (
        difference.ci_low, difference.ci_high, difference.p_value, difference.method,
    )  # fmt: skip
    spread = difference.standard_error
    if clusters is not None:
        boot = cluster_bootstrap(
            a, b, clusters, confidence=1 - alpha, n_boot=resampling.n_boot, seed=resampling.seed
        )
        # never narrower nor bolder than the item-level test: with few clusters, or
        # clusters that all moved alike, the bootstrap alone collapses to a point
        low, high = min(low, boot.ci_low), max(high, boot.ci_high)
        p_value, test = max(p_value, boot.p_value), boot.method
        z = float(stats.norm.ppf(1 - alpha / 2))
        spread = max((high - low) / (2 * z), difference.standard_error)
    result = PairedResult(
        n=difference.n,
        score_a=float(a.mean()),
        score_b=float(b.mean()),
        difference=difference.difference,
        ci_low=low,
        ci_high=high,
        test=test,
        p_value=p_value,
        a_only=_whole(difference.a_only),
        b_only=_whole(difference.b_only),
    )
    mde, planned = (
        sensitivity(a, b, difference.method, alpha=power_alpha, margin=margin)
        if with_power
        else (None, None)
    )
    return Paired(
        result=result,
        equivalence=equivalence(a, b, margin=margin, alpha=alpha),
        standard_error=spread,
        mde=mde,
        n_for_margin=planned,
    )


@dataclass(frozen=True)
class Deduplicated:
    """A family's per-task paired scores with repeated items removed, and the count."""

    pairs: Mapping[str, tuple[np.ndarray, np.ndarray]]
    repeated: Mapping[str, int]
    keep: Mapping[str, np.ndarray]  # per task: which of its items were kept

    @property
    def total(self) -> int:
        return sum(self.repeated.values())


def deduplicate(
    pairs: Mapping[str, tuple[np.ndarray, np.ndarray]], keys: Mapping[str, Sequence[str] | None]
) -> Deduplicated:
    """Keep each item in the first task (in order) that has it; tasks without item keys
    keep everything. ``keys[task]`` is one key per paired item, in the pairs' order."""
    keyed = {task: list(k) for task, k in keys.items() if k is not None}
    overlap = first_occurrences(keyed)
    keep = {
        task: overlap.keep[task] if task in keyed else np.ones(a.size, dtype=bool)
        for task, (a, _) in pairs.items()
    }
    kept = {task: (a[keep[task]], b[keep[task]]) for task, (a, b) in pairs.items()}
    return Deduplicated(kept, {task: overlap.dropped.get(task, 0) for task in pairs}, keep)


def _in_range(pooled: Pooled) -> Pooled:
    """The interval cut to [−1, 1]: a difference of two scores in [0, 1] lies there, so
    the cut loses no coverage, and t with one or two degrees of freedom (two or three
    tasks) otherwise reports hundreds of points. The test and its p-value are unchanged."""
    return replace(pooled, ci_low=max(-1.0, pooled.ci_low), ci_high=min(1.0, pooled.ci_high))


def task_estimate(per_task: Sequence[Paired], repeated: int, *, alpha: float) -> TaskEstimate:
    """Equal-weight and random-effects pooling of the tasks' differences at 1 − α, their
    intervals (and a new task's prediction interval) within the range a difference can take."""
    effects = [p.result.difference for p in per_task]
    errors = [p.standard_error for p in per_task]
    spread = random_effects(effects, errors, confidence=1 - alpha)
    spread = replace(spread, pooled=_in_range(spread.pooled), fixed=_in_range(spread.fixed))
    if spread.prediction_low is not None and spread.prediction_high is not None:
        spread = replace(
            spread,
            prediction_low=max(-1.0, spread.prediction_low),
            prediction_high=min(1.0, spread.prediction_high),
        )
    return TaskEstimate(
        k=len(per_task),
        equal_weight=_in_range(equal_weight(effects, errors, confidence=1 - alpha)),
        random_effects=spread,
        repeated=repeated,
    )


@dataclass(frozen=True)
class Family:
    """One family of comparisons (a pair of sides over a domain's tasks), as numbers.

    ``tasks`` and ``adjusted``/``verdicts`` are per task, in order; ``pooled`` is the
    item-weighted figure and ``estimate`` the task-level one, both after repeated items
    were dropped (``repeated`` per task).
    """

    tasks: tuple[Paired, ...]
    adjusted: tuple[float, ...]
    verdicts: tuple[Verdict, ...]
    pooled: Paired
    pooled_verdict: Verdict
    estimate: TaskEstimate
    repeated: Mapping[str, int]


def _verdict(found: Paired, p_value: float, alpha: float) -> Verdict:
    result = found.result
    return decide(
        result.difference,
        result.ci_low,
        result.ci_high,
        p_value,
        alpha,
        equivalent=found.equivalence.equivalent,
    )


def family(
    pairs: Mapping[str, tuple[np.ndarray, np.ndarray]],
    keys: Mapping[str, Sequence[str] | None],
    *,
    alpha: float,
    correction: Correction,
    margin: float,
    with_power: bool = True,
    clusters: Mapping[str, Sequence[str] | None] | None = None,
    resampling: Resampling = Resampling(),
) -> Family:
    """Per-task comparisons with p corrected across the tasks, and the pooled figures.

    The interval level is 1 − α, so "CI above 0" and "p < α" speak of the same α (and
    Tango's interval and test agree by construction). The per-task MDE is computed at
    α/m, the level the smallest of m p-values must clear under Holm (and
    Benjamini–Hochberg), so it promises no more than the corrected test delivers.
    Pooling first drops items repeated across the tasks; the pooled figure is one test
    per family, with no correction. ``clusters[task]`` (one label per item, or None)
    switches that task's interval to the cluster bootstrap, and the pooled one too.
    """
    options = {"alpha": alpha, "margin": margin, "with_power": with_power}
    options |= {"resampling": resampling}
    labels = {task: (clusters or {}).get(task) for task in pairs}
    m = len(pairs)
    found = [
        paired(a, b, power_alpha=alpha / m, clusters=labels[task], **options)
        for task, (a, b) in pairs.items()
    ]
    adjusted = tuple(float(q) for q in adjust([f.result.p_value for f in found], correction))
    kept = deduplicate(pairs, keys)
    left = {task: _kept(labels[task], kept.keep[task]) for task in pairs}
    per_task = [
        paired(*kept.pairs[task], power_alpha=alpha, clusters=left[task], **options)
        if kept.repeated[task]
        else f
        for task, f in zip(pairs, found, strict=True)
    ]
    a = np.concatenate([a for a, _ in kept.pairs.values()])
    b = np.concatenate([b for _, b in kept.pairs.values()])
    pooled_clusters = None
    if any(labels.values()):  # items without a cluster are clusters of their own
        pooled_clusters = [
            f"{task}\x00{label}"
            for task, (x, _) in kept.pairs.items()
            for label in (left[task] or [f"item{i}" for i in range(x.size)])
        ]
    pooled = paired(a, b, power_alpha=alpha, clusters=pooled_clusters, **options)
    return Family(
        tasks=tuple(found),
        adjusted=adjusted,
        verdicts=tuple(_verdict(f, q, alpha) for f, q in zip(found, adjusted, strict=True)),
        pooled=pooled,
        pooled_verdict=_verdict(pooled, pooled.result.p_value, alpha),
        estimate=task_estimate(per_task, kept.total, alpha=alpha),
        repeated=kept.repeated,
    )


def _kept(labels: Sequence[str] | None, keep: np.ndarray) -> list[str] | None:
    return None if labels is None else [label for label, k in zip(labels, keep, strict=True) if k]
