"""Benchmark suites that several domains draw from, declared once.

MMLU has subjects for medicine, finance and law; LegalBench has tasks for law and for
finance. Each suite is read the same way whichever plugin uses it, so the hub id,
splits and field mapping live here and a plugin names only its subjects or tasks.
"""

from __future__ import annotations

from collections.abc import Sequence

from genspec.task import PARQUET_EXPORT, HubSource, Task
from genspec.toolkit.fields import FieldRef, choice_fields, label_fields
from genspec.toolkit.tasks import classification_task, multiple_choice_task

MMLU_HUB = "cais/mmlu"
LEGALBENCH_HUB = "nguha/legalbench"
YES_NO = ("yes", "no")


def parquet_export(
    path: str, folder: str, *, split: str, dev_split: str | None = None, note: str = ""
) -> HubSource:
    """A hub dataset read from the hub's own parquet conversion of it.

    Modern ``datasets`` refuses loading scripts, and some benchmarks still ship only
    one on their main branch. The hub's parquet converter keeps a copy with the same
    columns on the ``refs/convert/parquet`` branch, one folder per config
    (``<folder>/<split>/0000.parquet``), which is read by folder.
    """
    return HubSource(
        path, split=split, dev_split=dev_split, revision=PARQUET_EXPORT, data_dir=folder, note=note
    )


def mmlu_task(
    name: str,
    subjects: Sequence[str],
    description: str,
    *,
    subject: str,
    domain: str = "",
    package: str = "",
) -> Task:
    """MMLU subjects read as one task: ``cais/mmlu`` test split, few-shot from ``dev``
    (as in lm-evaluation-harness); ``subject`` is each item's category."""
    return multiple_choice_task(
        name=name,
        domain=domain,
        package=package,
        description=description,
        subject=subject,
        hub=HubSource(MMLU_HUB, split="test", dev_split="dev", configs=tuple(subjects)),
        fields=choice_fields(
            question="question", options="choices", answer="answer", category="subject"
        ),
    )


def legalbench_task(
    name: str,
    question: FieldRef,
    labels: Sequence[str],
    description: str,
    *,
    domain: str = "",
    package: str = "",
    subject: str = "law",
    category: str | None = None,
) -> Task:
    """A LegalBench classification task: ``text`` is the fact pattern or clause,
    ``answer`` the label; ``train`` (a handful of items) is the few-shot pool.

    ``nguha/legalbench`` is a loading script on its main branch, so the task is read
    from the hub's parquet export, where ``index`` is a string.
    """
    return classification_task(
        name=name,
        domain=domain,
        package=package,
        description=description,
        subject=subject,
        hub=parquet_export(
            LEGALBENCH_HUB,
            name,
            split="test",
            dev_split="train",
            note="Main branch is a loading script; read from the hub's parquet export.",
        ),
        fields=label_fields(
            id="index",
            question=question,
            context="text",
            answer="answer",
            labels=labels,
            category=category,
        ),
    )
