"""Like-for-like scoring: every comparison measures both sides the same way.

Scoring one side by the log-probability of each option's label and the other by
parsing a generated answer compares two measurement methods as much as two models.
So before any model is called, the comparisons a roster's roles call for (each
generalist against each specialist, a specialist against its base and against its
size-matched generalist) are checked for one scoring method; a mix is refused unless
the user allows it, and then the verdict says "mixed".
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from genspec.config.schema import ModelSpec, Role
from genspec.errors import ConfigError

MIXED = "mixed"


class MixedScoringError(ConfigError):
    """A comparison whose two sides would be scored by different methods."""


def compared_pairs(models: Sequence[ModelSpec]) -> Iterator[tuple[ModelSpec, ModelSpec]]:
    """Every pair of models a verdict may compare (the dev split may pick any of a role)."""
    by_name = {m.name: m for m in models}
    generalists = [m for m in models if m.role is Role.GENERALIST]
    for specialist in (m for m in models if m.role is Role.SPECIALIST):
        for generalist in generalists:
            yield generalist, specialist
        if specialist.base:
            yield specialist, by_name[specialist.base]


def scoring_label(models: Sequence[ModelSpec], any_choice_task: bool, allow_mixed: bool) -> str:
    """The run's scoring method ("loglik", "generate" or "mixed"); refuses a mix unless allowed.

    Tasks without options are always scored by generation, so only a run with a
    choice task can mix methods.
    """
    if not any_choice_task:
        return "generate"
    mixed = [(a, b) for a, b in compared_pairs(models) if a.scoring_method != b.scoring_method]
    if not mixed:
        methods = {m.scoring_method for m in models}
        return methods.pop() if len(methods) == 1 else MIXED
    if allow_mixed:
        return MIXED
    a, b = mixed[0]
    raise MixedScoringError(
        f"Model '{a.name}' ({a.scoring_method}) and '{b.name}' ({b.scoring_method}) would be "
        f"compared with different scoring methods ({len(mixed)} such pair(s)); give them one "
        "`scoring:` in the roster (generate works for every model), or run with "
        "allow_mixed_scoring=true and the verdict says mixed."
    )
