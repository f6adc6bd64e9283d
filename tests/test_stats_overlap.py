"""Repeated items across a domain's tasks (genspec.stats.overlap)."""

from __future__ import annotations

import numpy as np

from genspec.stats.overlap import first_occurrences, item_key


def test_copies_that_differ_in_case_spacing_or_punctuation_share_a_key() -> None:
    assert item_key("Which drug is first-line?") == item_key("  which drug is first line ")
    assert item_key("Which drug is first-line?") != item_key("Which drug is second-line?")


def test_each_item_is_kept_in_the_first_task_that_has_it() -> None:
    overlap = first_occurrences(
        {
            "medqa": ["A 34-year-old man...", "Dose of X?", "Dose of X?"],
            "mmlu_medicine": ["a 34-year-old man ...", "Mechanism of Y?"],
            "pubmedqa": ["Does Z help?"],
        }
    )
    assert overlap.keep["medqa"].tolist() == [True, True, False]
    assert overlap.keep["mmlu_medicine"].tolist() == [False, True]
    assert overlap.keep["pubmedqa"].tolist() == [True]
    assert overlap.dropped == {"medqa": 1, "mmlu_medicine": 1, "pubmedqa": 0}
    assert overlap.total_dropped == 2


def test_no_tasks_or_no_overlap() -> None:
    assert first_occurrences({}).total_dropped == 0
    overlap = first_occurrences({"a": ["x"], "b": ["y"]})
    assert all(np.all(mask) for mask in overlap.keep.values())
