"""Differential diagnosis (``ddx``): read a case, list the 5 most likely diagnoses.

Hippocratic-AI-style clinical reasoning: the model writes a ranked differential (and,
for treatment cases, the next step in management). Scored against the gold diagnosis
and its synonyms after normalising text:

- ``top1``: the first listed diagnosis names the gold; ``top5``: one of the first 5 does;
- ``next_step`` (treatment cases only): the "Next step:" line names the gold step;
- ``correct`` (the score compared between models): ``top5``, and for treatment cases
  also ``next_step`` — a right diagnosis with the wrong management is not a success.

Items that share a distinctive word with the gold without naming it are *undecided*:
wrong by the rule, settled by a judge model when the run names one (``judge.id=...``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from genspec.toolkit import (
    Example,
    Judgement,
    Task,
    free_text_fields,
    free_text_task,
    labelled,
    match_rank,
    names,
    near_miss,
    parse_ranked,
    rank_judge,
)

if TYPE_CHECKING:
    from typing_extensions import Unpack

    from genspec.toolkit.tasks import Declared

TOP_K = 5
NEXT_STEP = "Next step"
CATEGORIES = ("diagnostic", "treatment", "rare_disease")
INSTRUCTION = (
    "The following is a clinical case. Give your differential diagnosis, as a physician "
    "would in {subject}."
)
ANSWER_FORM = (
    f"a numbered list of the {TOP_K} most likely diagnoses, most likely first (one per "
    f"line, '1. <diagnosis>'), and if the question asks for management, a last line "
    f"'{NEXT_STEP}: <the most appropriate next step>'"
)
METRIC = "top-5 diagnosis match (treatment cases: and next step)"
# Five short lines and a next step fit in ~40 tokens; the cap stops small local models
# that never end a list from generating for minutes (the offline smoke run on CPU).
ANSWER_TOKENS = 48


def answer_text(diagnosis: str, step: str = "") -> str:
    """A gold answer as a model should write it: the diagnosis first (and the next step).
    Shared by every source of ddx cases (genspec's own, DDXPlus, RareBench, MedQA)."""
    lines = [f"1. {diagnosis}"] if diagnosis else []
    return "\n".join([*lines, f"{NEXT_STEP}: {step}"] if step else lines)


def _target(row: Mapping[str, Any]) -> str:
    """The gold answer of one of genspec's own cases: the diagnosis (and next step)."""
    step = (row.get("next_step") or "").strip()
    return answer_text(str(row.get("diagnosis") or "").strip(), step)


FIELDS = free_text_fields(
    id="id",
    context="case",
    question="question",
    target=_target,
    category="category",
    references={
        "diagnosis": ["diagnosis", "synonyms"],
        "next_step": ["next_step", "next_step_synonyms"],
    },
)


def next_step_named(text: str, steps: Sequence[str]) -> tuple[float, str | None]:
    """Whether the answer names one of the accepted ``steps`` (1.0 or 0.0), and the step
    it wrote: the "Next step:" line when the model wrote one, else anywhere in its answer.
    The one next-step rule of every ddx source (bundled cases and MedQA's questions)."""
    written = labelled(text, NEXT_STEP)
    region = written if written is not None else text
    return float(any(names(region, step) for step in steps)), written


def judgement_at(text: str, example: Example, rank: int | None) -> Judgement:
    """The judgement when the gold diagnosis is listed at ``rank`` (``None``: absent)."""
    items = parse_ranked(text, TOP_K, skip=(NEXT_STEP,))
    metrics = {"top1": float(rank == 1), "top5": float(rank is not None and rank <= TOP_K)}
    correct = metrics["top5"]
    prediction = " | ".join(items)
    steps = example.references.get("next_step", ())
    if steps and items:
        metrics["next_step"], written = next_step_named(text, steps)
        correct *= metrics["next_step"]
        prediction += f" · {NEXT_STEP.lower()}: {written or '?'}"
    elif steps:
        metrics["next_step"] = 0.0
    return Judgement(prediction=prediction, correct=correct, invalid=not items, metrics=metrics)


def score(text: str, example: Example) -> Judgement:
    """Rule-based scoring; undecided when a near miss is listed above any exact match."""
    items = parse_ranked(text, TOP_K, skip=(NEXT_STEP,))
    accepted = example.references["diagnosis"]
    rank = match_rank(items, accepted)
    before = items if rank is None else items[: rank - 1]
    judgement = judgement_at(text, example, rank)
    if near_miss(before, accepted):
        return replace(judgement, undecided=True)
    return judgement


JUDGE = rank_judge("diagnosis", "diagnosis", judgement_at, limit=TOP_K, skip=(NEXT_STEP,))


def differential_task(**declared: Unpack[Declared]) -> Task:
    """A task posed and scored as ddx is: a ranked differential (and next step), its
    rules, the judge for near misses, and scores per category. ``ddx`` and the
    real-data tasks (DDXPlus, RareBench) differ only in their data."""
    return free_text_task(
        instruction=INSTRUCTION,
        answer_form=ANSWER_FORM,
        answer_tokens=ANSWER_TOKENS,
        scorer=score,
        metric=METRIC,
        judge=JUDGE,
        **{"report_by_category": True, **declared},
    )
