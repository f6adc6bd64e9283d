"""ConvFinQA (Chen et al., EMNLP 2022): a conversation of numeric questions about one report.

Each item is one turn of the official turn-level data (``dev_turn.json``): the report page
(text and table, laid out as for FinQA), the questions asked so far with their gold
answers, and the turn's question. Later turns lean on earlier ones ("and what was it in
2005?", "what is that change as a percentage?"), so the earlier gold answers are given:
the task measures the reasoning of one turn in context, not how errors carry over (the
answers of the model itself are never fed back). The turn's executed answer is the gold,
scored with FinQA's numeric tolerance (``genspec.toolkit.numeric``); a percentage is stored
as its fraction (0.14136), which that scorer matches to "14.1%".

Turns of one conversation share the report and each other's answers, so they are not
independent items: the task clusters them by report page (``filename``) for the paired
interval. Scores are also reported by turn (1, 2, 3, 4 and later). The hub copy and the
fields are in ``data/SOURCES.md``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from genspec.toolkit import HubSource, RowError, Task, concat, numeric_fields, numeric_task
from genspec_finance.reports import report_page

INSTRUCTION = (
    "The following is the last question of a conversation about {subject}: a page of a "
    "company's annual report (text and table), then the questions asked so far with their "
    "answers. Answer the last question from the report and the earlier answers; write a "
    "percentage with its % sign."
)
HUB = HubSource(
    "AdaptLLM/ConvFinQA",
    data_files="dev_turn.json",
    split="train",  # what ``datasets`` names the split of one file read on its own
    note=(
        "The official turn-level dev file (1,490 turns of 421 conversations; the test "
        "file has no answers). Read on its own: the card's config pairs it with "
        "train_turn.json, whose nested fields differ, so the two cannot be read as one "
        "dataset. Few-shot items come from the bundled sample."
    ),
)
TURN_FILES = "a row is one turn of ConvFinQA's turn-level files (*_turn.json)"
SIGNIFICANT = 12  # digits of a stored float kept in its text
LAST_BUCKET = 4  # turns 4 and later are one category: fewer conversations reach them


def number_text(value: Any) -> str:
    """A stored answer as text: ``0.14136`` stays so, ``25.0`` is ``25`` and ``1e-05`` is
    ``0.00001`` (the numeric scorer reads digits, not exponents); a text ("yes") as is.
    A float keeps 12 significant digits: the hub's JSON reader gives 0.15349 back as
    0.15349000000000002, and that last bit is no part of the answer."""
    if hasattr(value, "item"):  # a numpy scalar, as a parquet copy gives them
        value = value.item()
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise RowError(f"an answer should be a number or a text, got {value!r}")
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, int):
        return str(value)
    return format(Decimal(f"{value:.{SIGNIFICANT}g}").normalize(), "f")


def _annotation(row: Mapping[str, Any]) -> Mapping[str, Any]:
    value = row.get("annotation")
    if not isinstance(value, Mapping):
        raise RowError(
            "field 'annotation' should hold the turn (cur_dial, exe_ans, exe_ans_list), "
            f"got {type(value).__name__}; {TURN_FILES}"
        )
    return value


def _listed(row: Mapping[str, Any], key: str) -> list[Any]:
    """``annotation[key]`` as a list (a parquet copy gives arrays)."""
    value = _annotation(row).get(key)
    if value is None:
        raise RowError(f"field 'annotation.{key}' is missing; {TURN_FILES}")
    if hasattr(value, "tolist"):
        value = value.tolist()
    if isinstance(value, str) or not isinstance(value, Sequence):
        raise RowError(f"field 'annotation.{key}' should be a list, got {value!r:.40}")
    return list(value)


def _questions(row: Mapping[str, Any]) -> list[str]:
    """The questions up to this turn, the turn's own last (``cur_dial``)."""
    questions = [str(q).strip() for q in _listed(row, "cur_dial")]
    if not questions or not questions[-1]:
        raise RowError("field 'annotation.cur_dial' has no question for this turn")
    return questions


def turn_question(row: Mapping[str, Any]) -> str:
    """The question this turn asks."""
    return _questions(row)[-1]


def conversation_so_far(row: Mapping[str, Any]) -> str:
    """The earlier questions with their gold answers; empty on a conversation's first turn."""
    earlier = _questions(row)[:-1]
    if not earlier:
        return ""
    answers = _listed(row, "exe_ans_list")
    if len(answers) < len(earlier):
        raise RowError(
            f"field 'annotation.exe_ans_list' has {len(answers)} answer(s) for "
            f"{len(earlier)} earlier question(s)"
        )
    turns = (f"Q: {q}\nA: {number_text(a)}" for q, a in zip(earlier, answers, strict=False))
    return "Conversation so far:\n" + "\n".join(turns)


def turn_answer(row: Mapping[str, Any]) -> str:
    """The turn's executed answer (``exe_ans``), the gold."""
    value = _annotation(row).get("exe_ans")
    if value is None:
        raise RowError(f"field 'annotation.exe_ans' is missing or empty; {TURN_FILES}")
    return number_text(value)


def turn_bucket(row: Mapping[str, Any]) -> str:
    """The turn's place in its conversation: ``turn 1`` ... ``turn 4+``."""
    turn = len(_questions(row))
    return f"turn {LAST_BUCKET}+" if turn >= LAST_BUCKET else f"turn {turn}"


def convfinqa_task() -> Task:
    """ConvFinQA's turns, run only when named (``tasks=[convfinqa]``)."""
    task = numeric_task(
        name="convfinqa",
        description=(
            "ConvFinQA: the last question of a conversation about a report's text and "
            "table, earlier answers given (1% tolerance, by turn)."
        ),
        subject="a company's annual report",
        instruction=INSTRUCTION,
        hub=HUB,
        fields=numeric_fields(
            id="id",
            question=turn_question,
            answer=turn_answer,
            context=concat(report_page, conversation_so_far, sep="\n\n"),
            category=turn_bucket,
            keep=("filename",),
        ),
        report_by_category=True,
        by_default=False,
    )
    return dataclasses.replace(task, cluster="filename")
