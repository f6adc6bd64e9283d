"""Legal tasks with open answers graded by a judge panel (genspec.grading).

LegalBench's ``rule_qa`` (Guha et al., 2023): 50 hand-written questions on US federal
and state law (state a rule, say where a law is codified, explain a doctrine), each
with one acceptable answer and its area of law (``doctrine``). LegalBench has no
automatic metric for it (its ``evaluation.py`` lists it in ``MANUAL_EVAL_TASKS``: graded
by hand), so genspec's panel grades each answer against the reference answer. The hub
copy and fields are in ``data/SOURCES.md``.
"""

from __future__ import annotations

from genspec.grading.tasks import rubric_fields, rubric_task
from genspec.toolkit import Task
from genspec.toolkit.suites import LEGALBENCH_HUB, parquet_export

INSTRUCTION = (
    "The following is a question about {subject}. Answer it as a lawyer would, stating "
    "the rule or provision it asks for."
)
ANSWER_FORM = "the answer in at most a few sentences"


def graded_tasks() -> list[Task]:
    """The bundled plugin's tasks graded by a judge panel (run only when named, with judges)."""
    return [
        rubric_task(
            name="rule_qa",
            description=(
                "LegalBench rule_qa: state a legal rule or where a law is codified, graded "
                "against LegalBench's reference answer (judge panel), per area of law."
            ),
            subject="US federal and state law",
            instruction=INSTRUCTION,
            answer_form=ANSWER_FORM,
            # Zero-shot by design: LegalBench ships no train rows for rule_qa, so the few
            # examples a base model is shown come from the bundled dev items.
            hub=parquet_export(
                LEGALBENCH_HUB,
                "rule_qa",
                split="test",
                note="Main branch is a loading script; read from the hub's parquet export.",
            ),
            fields=rubric_fields(
                id="index", question="text", reference="answer", category="doctrine"
            ),
            report_by_category=True,
        )
    ]
