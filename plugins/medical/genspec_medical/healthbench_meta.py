"""HealthBench's meta-evaluation as a check of the judge panel (issue 19).

OpenAI's meta-evaluation file holds answers that physicians graded: each row is one
model answer (``completion``) to a conversation (``prompt``), one consensus criterion
(``rubric``) and each physician's met / not met (``binary_labels``). The run's panel
grades that answer on that criterion, and each judge is held against the physicians'
majority (accuracy and Cohen's kappa, in the panel report and the verdict's notes).

The roster's models are not what is graded here (the engine does not even ask them:
every item carries its own answer), so the task says how far the judges can be trusted,
and genspec never compares models on it or pools it into the domain's verdict
(:mod:`genspec.grading.summary`). The hub copy and fields are in ``data/SOURCES.md``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

from genspec.grading.tasks import conversation, majority, rubric_fields, rubric_task
from genspec.toolkit import HubSource, Task, formatted

HUB = "openai/healthbench"
META_FILE = "2025-05-07-06-14-12_oss_meta_eval.jsonl"


def item_id(row: Mapping[str, Any]) -> str:
    """A row is one (answer, criterion) pair and the file gives it no id of its own: the
    answer's ``completion_id`` and a digest of the criterion's text name it, the same
    whatever the order of the rows or the file they are read from."""
    completion = formatted("{completion_id}")(row)
    criterion = formatted("{rubric}")(row)
    return f"{completion}:{hashlib.sha256(criterion.encode()).hexdigest()[:8]}"


FIELDS = rubric_fields(
    id=item_id,
    question=conversation("prompt"),
    criterion_text="rubric",
    given_answer="completion",
    human=majority("binary_labels"),  # a tie is no human grade (see majority)
    category="category",
)


def task() -> Task:
    """``healthbench_meta``: the panel graded against HealthBench's physicians."""
    return rubric_task(
        name="healthbench_meta",
        description=(
            "HealthBench meta-evaluation: a check of the judge panel, not of the models. "
            "The panel grades answers physicians graded (one criterion each); each judge's "
            "accuracy and Cohen's kappa against the physicians' majority are reported, and "
            "the task is never compared between models."
        ),
        subject="health",
        hub=HubSource(
            HUB,
            split="train",
            data_files=META_FILE,
            note=(
                "One file of openai/healthbench read as the dataset (the repo's files "
                "differ in schema); one split, all test; no dev split."
            ),
        ),
        fields=FIELDS,
    )
