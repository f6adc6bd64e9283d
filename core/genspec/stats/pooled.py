"""The item-weighted domain figure: all of a domain's paired items taken together.

Now a secondary line. The domain's verdict rests on the task-level estimate
(``meta.equal_weight``) beside random effects and heterogeneity (``meta``), because
this figure lets one large task outvote the rest (see ``meta``'s docstring). What
follows is why it was chosen first, and what it is still good for.

The pooled estimate is the paired difference over all of the domain's items taken
together (each task contributes in proportion to its number of paired items), with a
bootstrap interval stratified by task and the same paired test as a single task,
applied to all pairs.

Why this and not an inverse-variance weighted mean of the per-task differences:

- It reads plainly: "over all 1,500 medical questions, the generalist scored 4.1
  points higher". With equal task sizes (runs with ``limit=``) it is simply the
  mean of the per-task differences.
- The test stays exact. McNemar's test on the pooled discordant pairs (and the
  sign-flip test on pooled differences) is valid across tasks, because under
  "no difference" every item's pair is exchangeable whatever its task. No normal
  approximation is needed for the domain verdict, even in small runs.
- It does not break on degenerate tasks. Inverse-variance weights divide by each
  task's estimated variance, which is 0 when two models never disagree on a small
  task (infinite weight), and which is itself noisy, so noise would choose the weights.
- Stratifying the bootstrap by task keeps each task's size fixed in every
  resample, as it is in the design, so the interval does not include spurious
  variation in how many items each task contributes.

The price: a large task dominates the estimate. The per-task rows stay in the
report beside it, and the domain verdict also looks at them (see ``verdict``).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import ArrayLike

from genspec.stats.intervals import bootstrap_interval
from genspec.stats.paired import PairedResult, as_pairs, paired_test


def pooled_comparison(
    pairs: Sequence[tuple[ArrayLike, ArrayLike]],
    *,
    confidence: float = 0.95,
    n_boot: int = 2000,
    seed: int = 0,
) -> PairedResult:
    """Pool per-task paired scores ``[(a_task1, b_task1), ...]`` into one comparison."""
    if not pairs:
        raise ValueError("pooling needs at least one task")
    tasks = [as_pairs(a, b) for a, b in pairs]
    first = np.concatenate([a for a, _ in tasks])
    second = np.concatenate([b for _, b in tasks])
    interval = bootstrap_interval(
        [a - b for a, b in tasks], confidence=confidence, n_boot=n_boot, seed=seed
    )
    test = paired_test(first, second, seed=seed)
    return PairedResult.of(first, second, (interval.low, interval.high), test)
