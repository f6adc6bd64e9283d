"""Finance tasks with open answers graded by a judge panel (genspec.grading).

FinanceBench (Islam et al., 2023): questions about public companies' filings with an
analyst's reference answer and the evidence passages it rests on. genspec poses each
question with its evidence (the paper's "oracle" setting: it measures reading and
arithmetic over the filing, not retrieval), and the panel grades the answer against the
reference. The hub copy and fields are in ``data/SOURCES.md``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from genspec.grading.tasks import rubric_fields, rubric_task
from genspec.toolkit import HubSource, Task
from genspec.toolkit.fields import RowError

INSTRUCTION = (
    "The following is a question about {subject}, with passages from the company's filing. "
    "Answer it from the passages, showing any calculation, and end with 'Answer: ' and the "
    "final answer."
)


def evidence_text(row: Mapping[str, Any]) -> str:
    """The evidence passages of a FinanceBench row, one after another."""
    passages = row.get("evidence")
    if not isinstance(passages, list) or not passages:
        raise RowError("field 'evidence' should be a non-empty list of passages")
    texts = [
        f"[{p.get('doc_name', '')}] {str(p.get('evidence_text', '')).strip()}"
        for p in passages
        if isinstance(p, Mapping) and str(p.get("evidence_text", "")).strip()
    ]
    if not texts:
        raise RowError("field 'evidence' has no 'evidence_text'")
    return "\n\n".join(texts)


def graded_tasks() -> list[Task]:
    """The bundled plugin's tasks graded by a judge panel (run only when named, with judges)."""
    return [
        rubric_task(
            name="financebench",
            description=(
                "FinanceBench: open questions over 10-K/10-Q filings with their evidence, "
                "graded against the analyst's answer (judge panel)."
            ),
            subject="a public company's financial filings",
            instruction=INSTRUCTION,
            hub=HubSource(
                "PatronusAI/financebench",
                split="train",
                note="One JSONL file of 150 questions (the open-source sample); all are test.",
            ),
            fields=rubric_fields(
                id="financebench_id",
                question="question",
                context=evidence_text,
                reference="answer",
                category="question_type",
                keep=("justification", "company", "doc_name"),
            ),
            report_by_category=True,
        )
    ]
