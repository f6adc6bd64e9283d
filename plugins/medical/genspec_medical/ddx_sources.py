"""ddx at scale: the seed's three scores from real data, each in ddx's own category.

The bundled ``ddx`` task has 30 cases written for genspec. These tasks pose cases from
published sets the same way and score them with ddx's own rules, so each of the seed's
three scores has a real-data task, reported in the category ddx reports it under:

- ``ddxplus`` (``diagnostic``): diagnosis, top-1 and top-5, on DDXPlus's common conditions;
- ``medqa_next_step`` (``treatment``): the next step, on MedQA's management questions;
- ``rarebench`` (``rare_disease``): rare-disease identification, top-1 and top-5.

All run only when named: ``tasks=[ddx,ddxplus,medqa_next_step,rarebench]``.
"""

from __future__ import annotations

from genspec.toolkit import Task
from genspec_medical import ddxplus, next_step, rarebench


def tasks() -> list[Task]:
    """The three real-data ddx tasks, in the order of the seed's scores."""
    return [ddxplus.task(), next_step.task(), rarebench.task()]
