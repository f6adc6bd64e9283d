"""How far a judge panel agrees: Krippendorff's alpha, and Cohen's kappa against people.

Krippendorff's alpha (nominal) suits a panel: it takes any number of judges and
missing grades (a judge that may not grade its own family's answers, or whose reply
could not be read), and it is 1 for perfect agreement and 0 for agreement no better
than chance. Krippendorff (2004, ch. 11) asks for alpha >= 0.8 to rely on data and
accepts 0.667 for tentative conclusions: genspec's default floor
(``agreement_floor``).

Each judge's agreement with human grades (a physician's met / not met) is Cohen's kappa
and plain accuracy: kappa discounts the agreement two graders reach by chance when one
answer is far more common than the other.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from itertools import permutations

Grades = Sequence[Hashable | None]  # one unit's grades, one per judge (None: missing)


def krippendorff_alpha(units: Sequence[Grades]) -> float | None:
    """Nominal alpha over ``units`` (each a row of judges' grades, None for missing).

    Units with fewer than two grades cannot show agreement and are left out. ``None``
    when alpha is undefined: fewer than two pairable grades, or every grade the same
    (no variation to agree on).
    """
    coincidences: Counter[tuple[Hashable, Hashable]] = Counter()
    for unit in units:
        values = [v for v in unit if v is not None]
        if len(values) < 2:
            continue
        for c, k in permutations(values, 2):
            coincidences[c, k] += 1 / (len(values) - 1)
    totals: Counter[Hashable] = Counter()
    for (c, _k), weight in coincidences.items():
        totals[c] += weight
    n = sum(totals.values())
    expected = sum(totals[c] * totals[k] for c in totals for k in totals if c != k)
    if n < 2 or expected == 0:
        return None
    observed = sum(w for (c, k), w in coincidences.items() if c != k)
    return 1 - (n - 1) * observed / expected


@dataclass(frozen=True)
class HumanAgreement:
    """One judge against human grades on the criteria both graded."""

    n: int
    accuracy: float
    kappa: float | None  # None when chance agreement is total (one grade throughout)


def human_agreement(pairs: Sequence[tuple[bool, bool]]) -> HumanAgreement | None:
    """Accuracy and Cohen's kappa of (judge, human) grade pairs; None without pairs."""
    if not pairs:
        return None
    n = len(pairs)
    observed = sum(judge == human for judge, human in pairs) / n
    judge_yes = sum(judge for judge, _ in pairs) / n
    human_yes = sum(human for _, human in pairs) / n
    chance = judge_yes * human_yes + (1 - judge_yes) * (1 - human_yes)
    kappa = None if chance >= 1 else (observed - chance) / (1 - chance)
    return HumanAgreement(n, observed, kappa)
