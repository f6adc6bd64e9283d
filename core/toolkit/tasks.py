"""Builders that turn a plugin's declarations into :class:`genspec.task.Task` values."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from genspec.task import HubSource, JudgeStep, RowMapper, SampleSource, Scorer, Task, TaskKind
from genspec.toolkit.numeric import numeric_scorer
from genspec.toolkit.parsing import label_parser, parse_choice
from genspec.toolkit.prompts import standard_templates

MC_INSTRUCTION = (
    "The following is a multiple-choice question about {subject}. Choose the single best answer."
)
LABEL_INSTRUCTION = "The following is a question about {subject}. Answer with one of the options."
NUMERIC_INSTRUCTION = (
    "The following is a question about {subject} that needs a calculation from the "
    "given text and table."
)


def multiple_choice_task(
    *,
    name: str,
    domain: str,
    package: str,
    fields: RowMapper,
    description: str,
    subject: str,
    hub: HubSource | None = None,
    instruction: str = MC_INSTRUCTION,
    local_name: str = "",
    local_only: bool = False,
    local_schema: str = "",
    report_by_category: bool = False,
) -> Task:
    """A lettered-options task; sample files live in ``<package>/data/<name>/``.

    ``local_only`` declares licensed data that only a local file provides (see
    :class:`genspec.task.Task`); ``local_schema`` is named when that file is missing.
    """
    return Task(
        name=name,
        domain=domain,
        kind=TaskKind.MULTIPLE_CHOICE,
        description=description,
        to_example=fields,
        sample=SampleSource(package=package, directory=f"data/{name}"),
        prompts=standard_templates(TaskKind.MULTIPLE_CHOICE, instruction),
        parse_answer=parse_choice,
        subject=subject,
        hub=hub,
        local_name=local_name,
        local_only=local_only,
        local_schema=local_schema,
        report_by_category=report_by_category,
    )


def classification_task(
    *,
    name: str,
    domain: str,
    package: str,
    fields: RowMapper,
    description: str,
    subject: str,
    synonyms: Mapping[str, Sequence[str]] | None = None,
    hub: HubSource | None = None,
    instruction: str = LABEL_INSTRUCTION,
    local_name: str = "",
) -> Task:
    """A fixed-label-set task (yes/no/maybe, sentiment...); answers are label words."""
    return Task(
        name=name,
        domain=domain,
        kind=TaskKind.CLASSIFICATION,
        description=description,
        to_example=fields,
        sample=SampleSource(package=package, directory=f"data/{name}"),
        prompts=standard_templates(TaskKind.CLASSIFICATION, instruction),
        parse_answer=label_parser(synonyms),
        subject=subject,
        hub=hub,
        local_name=local_name,
    )


def numeric_task(
    *,
    name: str,
    domain: str,
    package: str,
    fields: RowMapper,
    description: str,
    subject: str,
    rel_tol: float = 0.01,
    hub: HubSource | None = None,
    instruction: str = NUMERIC_INSTRUCTION,
    local_name: str = "",
) -> Task:
    """A generated-number task scored with a relative tolerance (FinQA style)."""
    return Task(
        name=name,
        domain=domain,
        kind=TaskKind.NUMERIC,
        description=description,
        to_example=fields,
        sample=SampleSource(package=package, directory=f"data/{name}"),
        prompts=standard_templates(TaskKind.NUMERIC, instruction),
        parse_answer=lambda _text, _example: None,
        subject=subject,
        hub=hub,
        local_name=local_name,
        metric="accuracy (numeric match)",
        scorer=numeric_scorer(rel_tol=rel_tol),
    )


def free_text_task(
    *,
    name: str,
    domain: str,
    package: str,
    fields: RowMapper,
    description: str,
    subject: str,
    instruction: str,
    answer_form: str,
    scorer: Scorer,
    metric: str,
    answer_tokens: int = 64,
    judge: JudgeStep | None = None,
    hub: HubSource | None = None,
    local_name: str = "",
    report_by_category: bool = False,
) -> Task:
    """A generated-text task (e.g. a ranked differential diagnosis) with its own scorer.

    ``answer_form`` tells the model what to write ("a numbered list of ..."), in every
    template; ``answer_tokens`` is the direct answer's budget (a list needs more than
    one word, but a cap keeps small local models from rambling for minutes).
    """
    return Task(
        name=name,
        domain=domain,
        kind=TaskKind.FREE_TEXT,
        description=description,
        to_example=fields,
        sample=SampleSource(package=package, directory=f"data/{name}"),
        prompts=standard_templates(TaskKind.FREE_TEXT, instruction, answer_form, answer_tokens),
        parse_answer=lambda _text, _example: None,
        subject=subject,
        hub=hub,
        local_name=local_name,
        metric=metric,
        scorer=scorer,
        judge=judge,
        report_by_category=report_by_category,
    )
