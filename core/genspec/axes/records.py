"""What the axes measure, as plain frozen records (no statistics, no text).

:class:`AxisItem` is one model's measurement on one item for one axis, made by
:mod:`genspec.axes.probe`; :class:`AxisSummary` is one model's metrics on one task
for one axis, made by :mod:`genspec.axes.report` and saved in ``results.json``
under ``axes``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields
from typing import Any

ACCURACY = "accuracy"
CALIBRATION = "calibration"
ABSTENTION = "abstention"
ROBUSTNESS = "robustness"
CONTAMINATION = "contamination"
AXES = (ACCURACY, CALIBRATION, ABSTENTION, ROBUSTNESS, CONTAMINATION)
ALL = "all"

# how a confidence or a contamination signal was obtained
OPTION_PROBABILITIES = "option_probabilities"  # softmax of the options' log-likelihoods
STATED_CONFIDENCE = "stated_confidence"  # "Confidence: 0-100" asked in the same call
MIN_K_PROB = "min_k_prob"  # Min-K% probability of the question (token log-probabilities)
TS_GUESSING = "ts_guessing"  # a hidden wrong option guessed exactly (Deng et al. 2023)
UNCHANGED = "unchanged"  # the perturbation did not apply to the item (error value)


@dataclass(frozen=True)
class AxisItem:
    """One model's measurement of one item on one axis.

    ``axis`` is ``calibration``, ``abstention``, ``contamination`` or
    ``robustness:<perturbation>``. ``score`` is the per-item value compared between
    models (higher is better): 1 − (confidence − correct)² for calibration; 1 right,
    ½ abstained, 0 wrong for abstention; ½(1 + perturbed − original correctness) for
    robustness (in [0, 1], as the paired statistics need: ½ is no change); the probe's
    signal for contamination (not compared). ``original`` is the unperturbed item's
    correctness (robustness). ``error``
    says why an item has no measurement (a failed call, no stated confidence, a
    perturbation that did not apply): such items are counted, never dropped silently.
    """

    axis: str
    task: str
    example_id: str
    model: str
    role: str
    score: float
    correct: float = 0.0
    confidence: float | None = None
    abstained: bool = False
    consistent: bool | None = None  # option order: the same option chosen in every shift
    original: float | None = None  # robustness: correctness on the unperturbed item
    method: str = ""
    error: str | None = None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class AxisSummary:
    """One model's metrics on one task for one axis (``results.json`` → ``axes``).

    ``n`` counts the items measured; ``left_out`` maps a reason (a failed call, no
    stated confidence, the perturbation did not apply) to how many items it kept out.
    """

    axis: str
    model: str
    role: str
    task: str
    n: int
    method: str
    metrics: Mapping[str, float]
    left_out: Mapping[str, int] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> AxisSummary:
        return cls(**{f.name: data[f.name] for f in fields(cls) if f.name in data})
