"""Builders that turn a plugin's declarations into :class:`genspec.task.Task` values."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from typing_extensions import Required, TypedDict

from genspec.task import (
    AnswerParser,
    Example,
    HubSource,
    JudgeStep,
    PromptTemplate,
    RowMapper,
    SampleSource,
    Scorer,
    Task,
    TaskKind,
)
from genspec.toolkit.numeric import numeric_scorer
from genspec.toolkit.parsing import label_parser, parse_choice

if TYPE_CHECKING:
    from typing_extensions import Unpack

MC_INSTRUCTION = (
    "The following is a multiple-choice question about {subject}. Choose the single best answer."
)
LABEL_INSTRUCTION = "The following is a question about {subject}. Answer with one of the options."
NUMERIC_INSTRUCTION = (
    "The following is a question about {subject} that needs a calculation from the "
    "given text and table."
)


def standard_templates(
    kind: TaskKind, instruction: str, answer_form: str = "", answer_tokens: int | None = None
) -> dict[str, PromptTemplate]:
    """Zero-shot, few-shot and chain-of-thought variants sharing one instruction."""
    shared = {"answer_form": answer_form, "answer_tokens": answer_tokens}
    return {
        "zero_shot": PromptTemplate("zero_shot", instruction, shots=0, **shared),
        "few_shot": PromptTemplate("few_shot", instruction, shots=None, **shared),
        "cot": PromptTemplate("cot", instruction, shots=0, chain_of_thought=True, **shared),
    }


class Declared(TypedDict, total=False):
    """What a plugin declares for a task of any kind: the builders' shared keywords.

    ``domain`` and ``package`` default to the plugin's (its ``genspec_domain`` hook and
    its own package), so a plugin declares its domain once; ``fields`` maps a raw row
    (hub schema) to an :class:`Example`; bundled sample files live in
    ``<package>/data/<name>/``; ``hub`` is read with ``data=full``;
    ``local_name`` is the file stem ``data=local`` looks for (default: ``name``);
    ``report_by_category`` adds per-category scores to the results; ``shots_by_category``
    draws each item's few-shot examples from its own category; ``by_default=False``
    runs the task only when a run names it (``tasks=[...]``); ``keep_row`` keeps only the
    rows it returns True for, for a task that is a documented subset of its benchmark.
    """

    name: Required[str]
    domain: str
    package: str
    fields: Required[RowMapper]
    description: Required[str]
    subject: Required[str]
    hub: HubSource | None
    local_name: str
    report_by_category: bool
    shots_by_category: bool
    by_default: bool
    keep_row: Callable[[Mapping[str, Any]], bool] | None


def _task(
    declared: Declared,
    kind: TaskKind,
    prompts: Mapping[str, PromptTemplate],
    parse_answer: AnswerParser,
    **kind_specific: Any,
) -> Task:
    """The :class:`Task` for ``declared`` with its kind's templates, parser and extras."""
    values: dict[str, Any] = {"domain": "", **declared}
    package = values.pop("package", "")
    return Task(
        kind=kind,
        to_example=values.pop("fields"),
        sample=SampleSource(package=package, directory=f"data/{declared['name']}"),
        prompts=prompts,
        parse_answer=parse_answer,
        **values,
        **kind_specific,
    )


def _no_parser(_text: str, _example: Example) -> int | None:
    """Free-text and numeric answers are scored whole by the task's scorer, not parsed
    into an option."""
    return None


def multiple_choice_task(
    *,
    instruction: str = MC_INSTRUCTION,
    local_only: bool = False,
    local_schema: str = "",
    **declared: Unpack[Declared],
) -> Task:
    """A lettered-options task.

    ``local_only`` declares licensed data that only a local file provides (see
    :class:`genspec.task.Task`); ``local_schema`` is named when that file is missing.
    """
    kind = TaskKind.MULTIPLE_CHOICE
    prompts = standard_templates(kind, instruction)
    return _task(
        declared, kind, prompts, parse_choice, local_only=local_only, local_schema=local_schema
    )


def classification_task(
    *,
    synonyms: Mapping[str, Sequence[str]] | None = None,
    instruction: str = LABEL_INSTRUCTION,
    **declared: Unpack[Declared],
) -> Task:
    """A fixed-label-set task (yes/no/maybe, sentiment...); answers are label words,
    with ``synonyms`` accepted only where the task defines them."""
    kind = TaskKind.CLASSIFICATION
    return _task(declared, kind, standard_templates(kind, instruction), label_parser(synonyms))


def numeric_task(
    *,
    rel_tol: float = 0.01,
    instruction: str = NUMERIC_INSTRUCTION,
    **declared: Unpack[Declared],
) -> Task:
    """A generated-number task scored with a relative tolerance (FinQA style)."""
    kind = TaskKind.NUMERIC
    prompts = standard_templates(kind, instruction)
    scorer = numeric_scorer(rel_tol=rel_tol)
    return _task(
        declared, kind, prompts, _no_parser, metric="accuracy (numeric match)", scorer=scorer
    )


def free_text_task(
    *,
    instruction: str,
    answer_form: str,
    scorer: Scorer,
    metric: str,
    answer_tokens: int = 64,
    judge: JudgeStep | None = None,
    **declared: Unpack[Declared],
) -> Task:
    """A generated-text task (e.g. a ranked differential diagnosis) with its own scorer.

    ``answer_form`` tells the model what to write ("a numbered list of ..."), in every
    template; ``answer_tokens`` is the direct answer's budget (a list needs more than
    one word, but a cap keeps small local models from rambling for minutes).
    """
    kind = TaskKind.FREE_TEXT
    prompts = standard_templates(kind, instruction, answer_form, answer_tokens)
    return _task(declared, kind, prompts, _no_parser, metric=metric, scorer=scorer, judge=judge)
