"""The claim's own risks, measured beside accuracy (``axes=[...]``, or ``axes=all``).

Each axis adds per-item scores (:mod:`genspec.axes.probe`), per-model metrics and the
same paired generalist-vs-specialist statistics as accuracy, with a verdict line
(:mod:`genspec.axes.report`):

- ``calibration``: Brier, ECE, reliability diagram, confident-wrong rate;
- ``abstention``: an "I don't know" option: coverage, selective accuracy, AURC;
- ``robustness``: seeded perturbations, each paired against the original item;
- ``contamination``: a TS-Guessing probe per model and task.

The default, ``axes=[accuracy]``, adds nothing: no request, no document key.
"""

from __future__ import annotations

from collections.abc import Iterable

from genspec.axes.records import ACCURACY, ALL, AXES

__all__ = ["ACCURACY", "ALL", "AXES", "extra_axes", "resolve"]


def resolve(names: Iterable[str] | str) -> list[str]:
    """The axes a config names, in canonical order (``all`` is every axis); accuracy is
    always measured. Raises ValueError naming an unknown axis."""
    given = [names] if isinstance(names, str) else list(names)
    unknown = [n for n in given if n not in (*AXES, ALL)]
    if unknown:
        raise ValueError(
            f"unknown axis '{unknown[0]}': choose from {', '.join(AXES)}, or all "
            "(e.g. axes=[accuracy,calibration] or axes=all)"
        )
    chosen = set(AXES) if ALL in given else {ACCURACY, *given}
    return [axis for axis in AXES if axis in chosen]


def extra_axes(names: Iterable[str]) -> list[str]:
    """The axes that need requests or analysis beyond accuracy."""
    return [axis for axis in names if axis != ACCURACY]
