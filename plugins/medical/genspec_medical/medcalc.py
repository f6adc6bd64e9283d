"""MedCalc-Bench: a clinical calculation from a patient note, right within its limits.

Each row gives the answer and the lower and upper limits an answer may fall within
(MedCalc-Bench's own tolerance: exact for integer scores, a few per cent for
equation-based values). Dates (an estimated due date) and other non-numeric answers
have limits equal to the answer and are matched as text. Scored per calculator
category (lab, risk, physical, severity, diagnosis, date, dosage).
"""

from __future__ import annotations

import re

from genspec.task import Example, Judgement
from genspec.toolkit.fields import free_text_fields
from genspec.toolkit.numeric import parse_number
from genspec.toolkit.parsing import final_answer_clause

LOWER, UPPER = "Lower Limit", "Upper Limit"
INSTRUCTION = (
    "The following is a patient note and a question about {subject}. Compute the value asked."
)
ANSWER_FORM = "Give the value alone (a number or a date MM/DD/YYYY), as 'Answer: <value>'."
FIELDS = free_text_fields(
    id="Row Number",
    context="Patient Note",
    question="Question",
    target="Ground Truth Answer",
    references={"answer": ["Ground Truth Answer"]},
    category="Category",
    keep=("Calculator Name", LOWER, UPPER, "Ground Truth Explanation"),
)
_SPACES = re.compile(r"[\s,]+")


def _number(text: str) -> float | None:
    try:
        return float(text.strip())
    except ValueError:
        return None


def score(text: str, example: Example) -> Judgement:
    """Right when the answer's number lies within the row's limits (text match otherwise)."""
    lower, upper = _number(example.extra.get(LOWER, "")), _number(example.extra.get(UPPER, ""))
    region = final_answer_clause(text) or text
    if lower is not None and upper is not None:
        value = parse_number(text)
        if value is None:
            return Judgement(prediction="", correct=0.0, invalid=True)
        correct = min(lower, upper) <= value <= max(lower, upper)
        return Judgement(prediction=f"{value:g}", correct=float(correct), invalid=False)
    gold = _SPACES.sub(" ", example.target.strip().lower())
    said = _SPACES.sub(" ", region.strip().lower())
    if not said:
        return Judgement(prediction="", correct=0.0, invalid=True)
    return Judgement(prediction=region.strip()[:80], correct=float(gold in said), invalid=False)
