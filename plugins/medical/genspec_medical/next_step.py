"""MedQA's management questions asked open: ddx's treatment score from real data.

USMLE vignettes whose question asks for the most appropriate next step in management,
treatment or pharmacotherapy (:func:`asks_for_management` picks them from MedQA's
rows), posed without their options as ddx poses a treatment case: the model writes a
"Next step:" line, scored by ddx's next-step rule (:func:`genspec_medical.ddx.
next_step_named`) against the text of the correct option. Every item is a
``treatment`` case, ddx's category for the treatment score. A step that shares a
distinctive word with the gold without naming it is undecided: wrong by the rule,
settled by a judge model when the run names one.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from genspec.task import Example, Judgement
from genspec.toolkit import (
    HubSource,
    Task,
    choice_fields,
    free_text_task,
    labelled,
    near_miss,
    optional,
    rank_judge,
)
from genspec_medical import ddx

HUB = HubSource(
    "GBaker/MedQA-USMLE-4-options-hf",
    split="test",
    dev_split="train",
    note="MedQA's test questions that ask for a next step in management or a treatment.",
)
STEM = "sent1"
OPTIONS = ("ending0", "ending1", "ending2", "ending3")
# The question sentence asks for a management step, a treatment or a drug to give...
_ASKS = re.compile(
    r"\bnext\s+(?:best\s+)?step\s+in\s+(?:the\s+)?(?:management|treatment)"
    r"|\b(?:most\s+appropriate|best)\s+(?:[\w-]+\s+){0,2}"  # "initial", "long-term"...
    r"(?:treatment|management|pharmacotherapy|therapy|intervention)\b",
    re.IGNORECASE,
)
# ...and not a property of one (its mechanism, an adverse effect): those golds are not steps.
_ABOUT_IT = re.compile(
    r"mechanism|adverse|side[- ]effect|toxicit|complication|contraindicat|"
    r"explain|reason|because|most likely|target|interact",
    re.IGNORECASE,
)
_WHICH = re.compile(r"\bwhich of the following (is|would be|should be)\b", re.IGNORECASE)
INSTRUCTION = (
    "The following is a clinical case and a question about {subject}. Answer as a "
    "physician would; no options are given."
)
ANSWER_FORM = f"one line '{ddx.NEXT_STEP}: <the most appropriate next step or treatment>'"
METRIC = "next step named (treatment cases)"


def _question_sentence(stem: str) -> str:
    """The sentence that asks: the last one with a question mark, else the last one."""
    sentences = re.split(r"(?<=[.?!])\s+", stem.strip())
    asked = [s for s in sentences if "?" in s]
    return (asked or sentences)[-1]


def asks_for_management(row: Mapping[str, Any]) -> bool:
    """The task's row predicate: the stem's question asks for a next step in management,
    a treatment or a pharmacotherapy, not for a property of one. A row without a text
    stem is kept, so that the loader names its fault instead of dropping it unseen."""
    stem = row.get(STEM)
    if not isinstance(stem, str):
        return True
    question = _question_sentence(stem)
    return bool(_ASKS.search(question)) and not _ABOUT_IT.search(question)


def open_question(stem: str) -> str:
    """The stem asked without options: "Which of the following is ..." becomes "What is
    ..." (the model sees no list to choose from)."""
    return _WHICH.sub(lambda m: ("W" if m[0][0] == "W" else "w") + f"hat {m[1]}", stem)


_OPTIONS_ROW = choice_fields(
    id=optional("id"), question=STEM, options=list(OPTIONS), answer="label"
)


def to_example(row: Mapping[str, Any], row_number: int) -> Example:
    """One MedQA row as one treatment case: the stem asked open, the correct option's
    text the accepted step (MedQA's own mapping checks the options and the label)."""
    asked = _OPTIONS_ROW(row, row_number)
    step = asked.choices[asked.gold]
    return Example(
        id=asked.id,
        question=open_question(asked.question),
        choices=(),
        gold=-1,
        target=ddx.answer_text("", step),
        category=ddx.CATEGORIES[1],  # "treatment"
        references={"next_step": (step,)},
        extra={"options": " | ".join(asked.choices)},
    )


def judgement_at(text: str, _example: Example, rank: int | None) -> Judgement:
    """The judgement when the answer names the gold step (``rank`` 1) or does not."""
    written = labelled(text, ddx.NEXT_STEP)
    shown = written if written is not None else " ".join(text.split())[:120]
    named = float(rank == 1)
    return Judgement(
        prediction=shown,
        correct=named,
        invalid=not text.strip(),
        metrics={"next_step": named},
    )


def score(text: str, example: Example) -> Judgement:
    """ddx's next-step rule; undecided when the step written is a near miss of the gold."""
    steps = example.references["next_step"]
    named, written = ddx.next_step_named(text, steps)
    judgement = judgement_at(text, example, 1 if named else None)
    if not named and near_miss([written if written is not None else text], steps):
        return replace(judgement, undecided=True)
    return judgement


# The judge sees the answer's first line (the "Next step:" line the form asks for).
JUDGE = rank_judge("next_step", "next step in management", judgement_at, limit=1)


def task() -> Task:
    """The ``medqa_next_step`` task: MedQA's management questions, ddx's treatment score."""
    return free_text_task(
        name="medqa_next_step",
        description=(
            "MedQA (USMLE) questions asking for the next step in management or a treatment, "
            "posed without options; ddx's treatment score (next step) from real data."
        ),
        subject="medicine (USMLE)",
        hub=HUB,
        instruction=INSTRUCTION,
        answer_form=ANSWER_FORM,
        answer_tokens=ddx.ANSWER_TOKENS,
        fields=to_example,
        scorer=score,
        metric=METRIC,
        judge=JUDGE,
        report_by_category=True,
        by_default=False,  # named runs only: the default medical run stays as it was
        keep_row=asks_for_management,
    )
