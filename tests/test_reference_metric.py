"""ROUGE-L beside the panel's grade, checked against Google's ``rouge-score``.

Reference-graded tasks (MTS-Dialog's note sections, FinanceBench, rule_qa) carry a
judge-free ROUGE-L per item; it must be the number ``rouge-score`` gives (ROUGE-L F1,
default tokenizer, no stemming), on texts with punctuation, case, digits and repeats.
"""

from __future__ import annotations

import pytest
from rouge_score import rouge_scorer

from genspec.grading.reference import ROUGE_L, rouge_l
from genspec.grading.tasks import awaiting_panel
from genspec.task import Example

PAIRS = [
    ("The patient takes metformin 500 mg twice daily.", "Metformin 500mg twice a day."),
    ("No known drug allergies", "NKDA: no known drug allergies."),
    ("Revenue grew 12% to $4.2B in FY2023", "FY2023 revenue was $4.2 billion, up 12%."),
    ("a b a b a b", "b a b a"),
    ("Follow up in two weeks; repeat CBC.", "Repeat the CBC and follow up in 2 weeks."),
    ("", "anything"),
    ("!!!", "???"),
    ("identical text here", "Identical text, here."),
]


@pytest.mark.parametrize(("answer", "reference"), PAIRS)
def test_rouge_l_matches_rouge_score(answer: str, reference: str) -> None:
    expected = rouge_scorer.RougeScorer(["rougeL"]).score(reference, answer)["rougeL"].fmeasure
    assert rouge_l(answer, reference) == pytest.approx(expected, abs=1e-12)


def test_a_reference_graded_answer_carries_its_rouge_l_until_the_panel_grades_it() -> None:
    referenced = Example(id="1", question="q", choices=(), gold=-1, target="Aspirin 81 mg daily.")
    judged = awaiting_panel("Take aspirin 81 mg every day.", referenced)
    assert judged.undecided and judged.metrics[ROUGE_L] == pytest.approx(
        rouge_l("Take aspirin 81 mg every day.", "Aspirin 81 mg daily.")
    )
    rubric_only = Example(id="2", question="q", choices=(), gold=-1)  # HealthBench: no reference
    assert ROUGE_L not in awaiting_panel("Some advice.", rubric_only).metrics
