"""``rubric_task`` and ``rubric_fields``: how a plugin declares open answers graded by
a judge panel (HealthBench's rubrics, FinanceBench's reference answers).

The field mapping says where a row keeps the conversation, the rubric (a list of
criteria with points and a type), a reference answer (graded as one criterion:
"agrees with the reference") or one criterion's text, and optionally a given answer
with human grades: then the panel grades that answer, not the models', so its
agreement with the people who graded it can be measured (HealthBench's
meta-evaluation: one criterion per row, several physicians' grades, read by
:func:`majority`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from genspec.grading.panel import GIVEN_ANSWER
from genspec.grading.reference import ROUGE_L, rouge_l
from genspec.grading.rubric import criteria_from, one_criterion, reference_rubric
from genspec.task import Criterion, Example, Judgement, Task, TaskKind
from genspec.toolkit.fields import FieldRef, RowError, _read, _Shared, _text
from genspec.toolkit.tasks import Declared, _no_parser, _task, standard_templates

if TYPE_CHECKING:
    from typing_extensions import Unpack

RUBRIC_METRIC = "rubric score (judge panel)"
INSTRUCTION = "The following is a conversation about {subject}. Write the next reply."
PREVIEW = 200  # characters of an answer shown in the results table's prediction column


def conversation(field: str) -> Any:
    """A field reference rendering a list of ``{role, content}`` turns as one text
    (HealthBench's ``prompt``); a plain text field is returned as it is."""

    def get(row: Mapping[str, Any]) -> str:
        turns = _read(row, field)
        if isinstance(turns, str):
            return turns
        if not isinstance(turns, Sequence) or not all(isinstance(t, Mapping) for t in turns):
            raise RowError(f"field '{field}' should be a list of {{role, content}} turns")
        return "\n\n".join(f"{t.get('role', 'user')}: {t.get('content', '')}" for t in turns)

    return get


def tag(field: str, prefix: str, default: str = "") -> Any:
    """A field reference to the value of a ``prefix:value`` tag in a list of tags
    (HealthBench's ``example_tags``: ``theme:emergency_referrals`` gives the theme)."""

    def get(row: Mapping[str, Any]) -> str:
        tags = row.get(field) or ()
        found = [
            t.split(":", 1)[1] for t in tags if isinstance(t, str) and t.startswith(f"{prefix}:")
        ]
        return found[0] if found else default

    return get


def majority(field: str) -> Any:
    """A field reference to the majority of a list of people's true/false grades
    (HealthBench's meta-evaluation: ``binary_labels``, one per physician).

    A tie has no majority and gives ``None``: the criterion is still graded by the panel
    but held against no human grade, rather than against a coin toss. (OpenAI's own
    meta-evaluation takes no majority: it pairs the grader with each physician in turn.)
    """

    def get(row: Mapping[str, Any]) -> bool | None:
        votes = _read(row, field)
        if isinstance(votes, str) or not isinstance(votes, Sequence) or not votes:
            raise RowError(f"field '{field}' should be a non-empty list of true/false grades")
        if not all(isinstance(v, bool) for v in votes):
            raise RowError(f"field '{field}' should hold only true/false grades; got {votes!r:.80}")
        yes = sum(votes)
        return None if 2 * yes == len(votes) else 2 * yes > len(votes)

    return get


def _human(row: Mapping[str, Any], ref: FieldRef) -> bool | None:
    """A person's grade of the row's one criterion: true, false, or none where the field
    is missing or null (no grade: the criterion is graded, but not held against one)."""
    value = ref(row) if callable(ref) else row.get(ref)
    if value is not None and not isinstance(value, bool):
        raise RowError(f"field '{ref}' should be a true/false grade, got {value!r:.40}")
    return value


def rubric_fields(
    *,
    question: FieldRef,
    rubric: FieldRef | None = None,
    reference: FieldRef | None = None,
    criterion_text: FieldRef | None = None,
    criterion: Mapping[str, str] | None = None,
    given_answer: FieldRef | None = None,
    human: FieldRef | None = None,
    id: FieldRef | None = None,
    context: FieldRef | None = None,
    category: FieldRef | None = None,
    keep: Sequence[str] = (),
) -> Any:
    """Mapper for rows graded by rubric (``rubric``), against a reference answer
    (``reference``) or on one criterion whose text is a field (``criterion_text``, worth
    1 point); exactly one of the three.

    ``criterion`` renames the keys of a rubric's criteria (defaults: ``criterion``,
    ``points``, ``tags``: HealthBench's), whose optional ``human`` key is a person's
    grade. With one criterion (``reference`` or ``criterion_text``), ``human`` names
    where its person's grade is (a field of true/false, or a getter such as
    :func:`majority`; ``None`` is no grade). The reference, when there is one, is also
    the item's gold text (few-shot examples, the results table).
    """
    if sum(ref is not None for ref in (rubric, reference, criterion_text)) != 1:
        raise ValueError(
            "rubric_fields needs exactly one of rubric=, reference= and criterion_text="
        )
    if human is not None and rubric is not None:
        raise ValueError("with rubric=, each criterion carries its own 'human' grade")
    keys = {"text": "criterion", "points": "points", "kind": "tags", **(criterion or {})}
    shared = _Shared(question, id, context, category, tuple(keep))

    def criteria_of(row: Mapping[str, Any], target: str) -> tuple[Criterion, ...]:
        if rubric is not None:
            return criteria_from(_read(row, rubric), **keys)
        (one,) = (
            reference_rubric(target)
            if reference is not None
            else one_criterion(_text(row, criterion_text))
        )
        return (one if human is None else replace(one, human=_human(row, human)),)

    def to_example(row: Mapping[str, Any], row_number: int) -> Example:
        target = _text(row, reference) if reference is not None else ""
        criteria = criteria_of(row, target)
        example = shared.example(row, row_number, choices=(), gold=-1, target=target)
        extra = dict(example.extra)
        if given_answer is not None:
            extra[GIVEN_ANSWER] = _text(row, given_answer)
        return replace(example, rubric=criteria, extra=extra)

    return to_example


def awaiting_panel(text: str, example: Example) -> Judgement:
    """The scorer of a rubric task: nothing is scored until the panel grades the answer.
    An item with a reference answer gets its ROUGE-L now, the judge-free number kept
    beside the panel's grade (:mod:`genspec.grading.reference`)."""
    preview = " ".join(text.split())[:PREVIEW]
    metrics = {ROUGE_L: rouge_l(text, example.target)} if example.target.strip() else {}
    return Judgement(
        prediction=preview, correct=0.0, invalid=not preview, undecided=True, metrics=metrics
    )


def rubric_task(
    *,
    instruction: str = INSTRUCTION,
    answer_form: str = "",
    answer_tokens: int = 512,
    **declared: Unpack[Declared],
) -> Task:
    """An open-answer task graded by the run's judge panel against each item's rubric.

    It runs only when named (``tasks=[...]``) with a panel (``judges=[...]``); its score
    per item is in [0, 1], so its comparisons use the paired t interval for graded scores.
    """
    kind = TaskKind.FREE_TEXT
    prompts = standard_templates(kind, instruction, answer_form, answer_tokens)
    return _task(
        declared,
        kind,
        prompts,
        _no_parser,
        metric=RUBRIC_METRIC,
        scorer=awaiting_panel,
        panel_graded=True,
        by_default=False,
    )
