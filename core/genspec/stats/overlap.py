"""Items that repeat across a domain's tasks, removed before pooling.

Tasks of one domain can share items: MedQA and MMLU professional medicine overlap,
and a question copied into two benchmarks would count twice in a domain estimate,
as if it were two independent pieces of evidence. Before pooling, each item is kept
in the first task (in the order given) that has it and dropped from the later ones;
how many were dropped per task is reported beside the estimate.

Items are matched on a key of their text: lower-cased, with runs of whitespace and
punctuation collapsed, so a copy that differs only in spacing, case or a trailing
full stop is still recognised as the same item.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

_NOISE = re.compile(r"[\W_]+", re.UNICODE)


def item_key(text: str) -> str:
    """A short key that two copies of one item share (case, spacing, punctuation ignored)."""
    normal = _NOISE.sub(" ", text.lower()).strip()
    return hashlib.sha256(normal.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class Overlap:
    """Per task: which items to keep for pooling, and how many repeats were dropped."""

    keep: Mapping[str, np.ndarray]  # boolean mask over the task's items, in their order
    dropped: Mapping[str, int]

    @property
    def total_dropped(self) -> int:
        return sum(self.dropped.values())


def first_occurrences(texts_by_task: Mapping[str, Sequence[str]]) -> Overlap:
    """Keep each item in the first task that has it (and once within a task)."""
    seen: set[str] = set()
    keep: dict[str, np.ndarray] = {}
    for task, texts in texts_by_task.items():
        mask = np.zeros(len(texts), dtype=bool)
        for index, text in enumerate(texts):
            key = item_key(text)
            if key not in seen:
                seen.add(key)
                mask[index] = True
        keep[task] = mask
    return Overlap(keep, {task: int((~mask).sum()) for task, mask in keep.items()})
