"""Medical tasks with open answers graded by rubric and a judge panel (genspec.grading).

HealthBench (OpenAI, 2025): health conversations, each with physician-written
criteria worth points (negative for harms). The consensus subset keeps the criteria
several physicians agreed on; the hard subset the conversations frontier models scored
worst on. The hub copy and fields are in ``data/SOURCES.md``.
"""

from __future__ import annotations

from genspec.grading.tasks import conversation, rubric_fields, rubric_task, tag
from genspec.toolkit import HubSource, Task

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
    """The bundled plugin's tasks graded by rubric (run only when named, with judges)."""
    return [
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
    ]
