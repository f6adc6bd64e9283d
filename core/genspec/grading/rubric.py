"""Rubric scores and the field helpers that read a rubric or a reference answer.

A rubric is a list of criteria, each worth points (possibly negative: a harm the
answer must avoid). HealthBench's rule scores an answer: the points of the criteria
met over the points possible (the sum of the positive points), clipped to [0, 1], so
a harmful answer cannot go below 0 and negative criteria cannot push it above 1.

A judge panel decides which criteria are met; a criterion counts by the share of the
panel's judges that found it met (all of them: its points; half: half its points), so a
panel of one is the usual rule and a split panel gives partial credit rather than a
coin toss.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from genspec.task import Criterion
from genspec.toolkit.fields import RowError

#: the criterion a task without a rubric is graded on: its reference answer
REFERENCE_CRITERION = (
    'The response agrees in substance with the reference answer: "{reference}". '
    "Wording, rounding to the precision shown and units may differ; the response may not "
    "contradict the reference or leave out what it answers."
)


def rubric_score(criteria: Sequence[Criterion], met: Sequence[float | None]) -> float | None:
    """Points met over points possible, clipped to [0, 1]; ``None`` when nothing was read.

    ``met`` gives, per criterion, the share of judges that found it met (0..1), or
    ``None`` when no judge's reply could be read; such criteria leave both the points met
    and the points possible, so an unread criterion is neither credit nor penalty.
    """
    if len(criteria) != len(met):
        raise ValueError(f"{len(criteria)} criteria but {len(met)} grades")
    read = [(c, m) for c, m in zip(criteria, met, strict=True) if m is not None]
    possible = sum(c.points for c, _ in read if c.points > 0)
    if not read or possible <= 0:
        return None
    earned = sum(c.points * m for c, m in read)
    return min(1.0, max(0.0, earned / possible))


def criteria_from(
    items: Any, *, text: str = "criterion", points: str = "points", kind: str = "tags"
) -> tuple[Criterion, ...]:
    """A rubric from a row's list of criterion objects (HealthBench: ``rubrics``).

    ``kind`` names the field holding the criterion's type, or a list of tags of which the
    ``axis:`` one is taken (HealthBench tags ``axis:accuracy``, ``level:example``).
    """
    if not isinstance(items, Sequence) or isinstance(items, str) or not items:
        raise RowError("the rubric must be a non-empty list of criteria")
    return tuple(_criterion(item, text, points, kind) for item in items)


def _criterion(item: Any, text: str, points: str, kind: str) -> Criterion:
    if not isinstance(item, Mapping) or text not in item or points not in item:
        raise RowError(f"each rubric criterion needs '{text}' and '{points}'; got {item!r:.120}")
    try:
        worth = float(item[points])
    except (TypeError, ValueError):
        raise RowError(f"criterion points must be a number; got {item[points]!r}") from None
    human = item.get("human")
    return Criterion(
        text=str(item[text]),
        points=worth,
        kind=_kind(item.get(kind)),
        human=None if human is None else bool(human),
    )


def _kind(value: Any) -> str:
    """The criterion's type: a plain string, or the ``axis:`` tag of a tag list."""
    if isinstance(value, str) and value:
        return value
    if isinstance(value, Sequence):
        axes = [t.split(":", 1)[1] for t in value if isinstance(t, str) and t.startswith("axis:")]
        if axes:
            return axes[0]
    return "criterion"


def reference_rubric(reference: str) -> tuple[Criterion, ...]:
    """The one-criterion rubric of a task graded against a reference answer."""
    if not reference.strip():
        raise RowError("the reference answer is empty")
    return (Criterion(REFERENCE_CRITERION.format(reference=reference.strip()), 1.0, "reference"),)


def one_criterion(text: str) -> tuple[Criterion, ...]:
    """The rubric of a row that holds one criterion's text, worth 1 point (HealthBench's
    meta-evaluation asks about one criterion of one answer per row)."""
    if not text.strip():
        raise RowError("the criterion's text is empty")
    return (Criterion(text.strip(), 1.0),)
