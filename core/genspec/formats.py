"""How numbers read in every text genspec writes: scores in percent, differences in
percentage points, intervals and p-values (MLflow keeps the fractions)."""

from __future__ import annotations


def level(alpha: float) -> str:
    """The confidence level of an interval at ``alpha`` ("95%")."""
    return f"{100 * (1 - alpha):g}%"


def pct(value: float | None) -> str:
    """A score in [0, 1] as a percentage with one decimal ("—" when unknown)."""
    return "—" if value is None else f"{100 * value:.1f}"


def pp(value: float | None) -> str:
    """A difference in percentage points, always signed."""
    return "—" if value is None else f"{100 * value:+.1f}"


def ci_text(low: float | None, high: float | None) -> str:
    """An interval of differences in percentage points."""
    return "—" if low is None or high is None else f"{pp(low)} to {pp(high)}"


def p_text(value: float | None) -> str:
    """A p-value for a table cell."""
    if value is None:
        return "—"
    return "<0.001" if value < 0.001 else f"{value:.3f}"


def p_phrase(value: float) -> str:
    """A p-value for a sentence."""
    return "p < 0.001" if value < 0.001 else f"p = {value:.3f}"
