"""Medical tasks of professional work, run only when named (``tasks=[...]``).

Open answers graded by rubric and a judge panel (genspec.grading), and MedCalc-Bench's
calculations, scored within each row's limits (:mod:`genspec_medical.medcalc`).

HealthBench (OpenAI, 2025): health conversations, each with physician-written
criteria worth points (negative for harms). The consensus subset keeps the criteria
several physicians agreed on; the hard subset the conversations frontier models scored
worst on. The hub copy and fields are in ``data/SOURCES.md``.
"""

from __future__ import annotations

from genspec.grading.tasks import conversation, rubric_fields, rubric_task, tag
from genspec.toolkit import HubSource, Task, formatted, free_text_task
from genspec_medical import healthbench_meta, medcalc

NOTE_INSTRUCTION = (
    "The following is a conversation between a doctor and a patient. Write the requested "
    "section of the clinical note about {subject}: the facts stated, nothing invented."
)
HEALTHBENCH_HUB = "Tonic/Health-Bench-Eval-OSS-2025-07"  # the official files, as splits
HEALTHBENCH_FIELDS = rubric_fields(
    id="prompt_id",
    question=conversation("prompt"),
    rubric="rubrics",
    category=tag("example_tags", "theme", "unspecified"),
)


def _healthbench(subset: str, description: str) -> Task:
    return rubric_task(
        name=f"healthbench_{subset}",
        description=description,
        subject="health",
        hub=HubSource(
            HEALTHBENCH_HUB,
            split=subset,
            note=(
                "OpenAI's HealthBench files (openai/healthbench on the hub, one JSONL per "
                "subset) as named splits; no dev split."
            ),
        ),
        fields=HEALTHBENCH_FIELDS,
        report_by_category=True,
    )


def graded_tasks() -> list[Task]:
    """The bundled plugin's professional-work tasks (run only when named)."""
    return [
        free_text_task(
            name="medcalc",
            description=(
                "MedCalc-Bench: clinical calculations (scores, doses, dates) from patient "
                "notes, right within the row's limits."
            ),
            subject="clinical calculation",
            instruction=medcalc.INSTRUCTION,
            answer_form=medcalc.ANSWER_FORM,
            answer_tokens=24,
            scorer=medcalc.score,
            metric="accuracy (within MedCalc-Bench's limits)",
            hub=HubSource("ncbi/MedCalc-Bench-v1.0", split="test", dev_split="train"),
            fields=medcalc.FIELDS,
            report_by_category=True,
            by_default=False,
        ),
        rubric_task(
            name="mts_dialog",
            description=(
                "MTS-Dialog: a clinical note section written from a doctor-patient "
                "conversation, graded against the reference note (judge panel; local file)."
            ),
            subject="clinical documentation",
            instruction=NOTE_INSTRUCTION,
            answer_tokens=256,
            fields=rubric_fields(
                id="ID",
                question=formatted("Write the {section_header} section of the clinical note."),
                context="dialogue",
                reference="section_text",
                category="section_header",
            ),
            report_by_category=True,
        ),
        _healthbench(
            "consensus",
            "HealthBench consensus: health conversations graded by physician-agreed "
            "rubric criteria (judge panel).",
        ),
        _healthbench(
            "hard",
            "HealthBench hard: the conversations models score worst on, graded by "
            "rubric (judge panel).",
        ),
        healthbench_meta.task(),  # a check of the judges against physicians' grades
    ]
