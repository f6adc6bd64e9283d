"""MedHallu (Pandit et al. 2025): is this answer to a medical question hallucinated?

A task in which hallucination itself is the answer. Each hub row holds a PubMedQA
question, its knowledge (abstract passages), the ground-truth answer and one
hallucinated answer. A row becomes one yes/no item showing one of the two: which is
decided by a hash of the question (even: the hallucinated answer, gold "yes"; odd: the
ground truth, gold "no"), so the classes are balanced in expectation and a row maps to
the same item on the hub, in a local copy and in the bundled sample (row numbers count
from 0 on the hub and from 1 in files, so they cannot decide). The row's difficulty
(easy, medium, hard) is the item's category.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

from genspec.task import Example
from genspec.toolkit import HubSource, RowError, Task, classification_task

HUB = HubSource(
    "UTAustin-AIHealth/MedHallu",
    name="pqa_labeled",
    split="train",
    note=(
        "Each config has only a train split; pqa_labeled (1,000 human-checked items) is "
        "the test set. No dev split on the hub: few-shot needs data=sample or local."
    ),
)
FIELDS = ("Question", "Knowledge", "Ground Truth", "Hallucinated Answer", "Difficulty Level")
INSTRUCTION = (
    "The following is a question about {subject} with background knowledge and a "
    "proposed answer. Say whether the proposed answer is hallucinated: not supported by "
    "the knowledge, or factually wrong. Answer with one of the options."
)


def to_example(row: Mapping[str, Any], _index: int) -> Example:
    """One row as one yes/no item (see the module docstring for which answer it shows)."""
    for field in FIELDS:
        if row.get(field) is None:
            raise RowError(f"missing field '{field}'")
    knowledge = row["Knowledge"]
    context = knowledge if isinstance(knowledge, str) else "\n".join(map(str, knowledge))
    digest = hashlib.sha256(str(row["Question"]).encode()).hexdigest()[:12]
    hallucinated = int(digest, 16) % 2 == 0
    answer = row["Hallucinated Answer"] if hallucinated else row["Ground Truth"]
    return Example(
        id=f"medhallu-{digest}-{'h' if hallucinated else 'g'}",
        question=(
            f"{row['Question']}\nProposed answer: {answer}\nIs the proposed answer hallucinated?"
        ),
        choices=("yes", "no"),
        gold=0 if hallucinated else 1,
        context=f"Knowledge: {context}",
        category=str(row["Difficulty Level"]),
        extra={"hallucination_category": str(row.get("Category of Hallucination") or "")},
    )


def task() -> Task:
    return classification_task(
        name="medhallu",
        description="MedHallu: is a proposed answer to a PubMedQA question hallucinated?",
        subject="medicine (PubMed abstracts)",
        hub=HUB,
        fields=to_example,
        instruction=INSTRUCTION,
        report_by_category=True,
        by_default=False,  # named runs only: the default medical run stays as it was
    )
