"""Chance level: the score a model gets by guessing, shown beside every score.

A choice task's chance level is the mean of 1/options over its test items (25% for
four options, 50% for yes/no). Free-text and numeric tasks have none. A model below
chance on a task is worse than a coin: its answers are biased towards a wrong option,
or it does not follow the answer format, and the tables and plots flag it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from genspec.engine import PreparedTask
    from genspec.evidence import ModelTaskSummary


def chance_levels(tasks: Iterable[PreparedTask]) -> dict[str, float]:
    """Task name → chance level (a fraction), for the choice tasks among ``tasks``."""
    levels = {}
    for prepared in tasks:
        sizes = [len(ex.choices) for ex in prepared.examples if ex.choices]
        if sizes:
            levels[prepared.task.name] = sum(1 / n for n in sizes) / len(sizes)
    return levels


def below_chance(
    summaries: Iterable[ModelTaskSummary], levels: Mapping[str, float]
) -> list[ModelTaskSummary]:
    """The per-task summaries (not per category) whose score is below the task's chance."""
    return [
        s
        for s in summaries
        if not s.category and s.score is not None and s.task in levels and s.score < levels[s.task]
    ]


def chance_caption(summaries: Iterable[ModelTaskSummary], levels: Mapping[str, float]) -> str:
    """``Chance: medqa 25%, hearsay 50%. Below chance: base-c on medqa (20.0%).``"""
    if not levels:
        return ""
    text = "Chance: " + ", ".join(f"{task} {level:.0%}" for task, level in levels.items()) + "."
    below = below_chance(summaries, levels)
    if below:
        text += (
            " Below chance: "
            + ", ".join(f"{s.model} on {s.task} ({s.score:.1%})" for s in below)
            + "."
        )
    return text
