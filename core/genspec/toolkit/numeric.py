"""Numeric answers (FinQA-style): read a number out of text, compare with a tolerance.

Reports write "25%", "0.25", "$1,250", "(3.5)" for -3.5, or "12 million"; a fair
scorer accepts the same quantity in any of these forms, and treats a percentage and
its fraction as the same answer. A few items compare two figures and their gold is
"yes" or "no" (FinQA's ``greater`` program); those are read as a yes/no answer.
"""

from __future__ import annotations

import math
import re

from genspec.prompting import is_yes_no
from genspec.task import Example, Judgement, Scorer
from genspec.toolkit.parsing import final_answer_clause

_YES_NO = re.compile(r"(?<![a-z])(yes|no)(?![a-z])", re.IGNORECASE)
_NUMBER = re.compile(r"\(?-?\$?\s?\d[\d,]*(?:\.\d+)?\)?\s?%?|\(?-?\$?\s?\.\d+\)?\s?%?")


def parse_number(text: str) -> float | None:
    """The answer's number: after a final 'Answer:' if present, else the last number."""
    region = final_answer_clause(text) or text
    matches = _NUMBER.findall(region) or _NUMBER.findall(text)
    if not matches:
        return None
    raw = matches[0] if region is not text else matches[-1]
    negative = raw.strip().startswith("(") and raw.strip().rstrip("%").rstrip().endswith(")")
    cleaned = re.sub(r"[()$,%\s]", "", raw)
    try:
        value = float(cleaned)
    except ValueError:
        return None
    return -value if negative else value


def parse_yes_no(text: str) -> str | None:
    """The answer's "yes"/"no": the first one after a final 'Answer:' if present, else
    the first in the text (a direct answer leads with it)."""
    region = final_answer_clause(text) or text
    match = _YES_NO.search(region)
    return match.group(1).lower() if match else None


def _is_percent(text: str) -> bool:
    return "%" in text or "percent" in text.lower()


def numeric_scorer(rel_tol: float = 0.01, abs_tol: float = 1e-6) -> Scorer:
    """Correct when the number matches the target within ``rel_tol`` (or ``abs_tol``),
    also when one side is a percentage and the other its fraction (25% ~ 0.25)."""

    def score(text: str, example: Example) -> Judgement:
        if is_yes_no(example.target):
            return _score_yes_no(text, example.target)
        predicted = parse_number(text)
        gold = parse_number(example.target)
        if predicted is None:
            return Judgement(prediction="", correct=0.0, invalid=True)
        candidates = {predicted}
        if _is_percent(example.target) != _is_percent(text):
            candidates |= {predicted * 100, predicted / 100}
        correct = gold is not None and any(
            math.isclose(c, gold, rel_tol=rel_tol, abs_tol=abs_tol) for c in candidates
        )
        return Judgement(prediction=f"{predicted:g}", correct=float(correct), invalid=False)

    return score


def _score_yes_no(text: str, target: str) -> Judgement:
    """A comparison item: right when the answer's yes/no is the gold's."""
    predicted = parse_yes_no(text)
    if predicted is None:
        return Judgement(prediction="", correct=0.0, invalid=True)
    correct = predicted == target.strip().lower()
    return Judgement(prediction=predicted, correct=float(correct), invalid=False)
