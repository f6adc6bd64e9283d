"""What a task is: the common example shape and the task declaration plugins return.

Plain frozen data (HELM's scenario/adapter split): a task knows where its data is and
how a row maps to an :class:`Example`; prompt templates know nothing of scoring; the
answer parser knows nothing of prompts.
"""

from __future__ import annotations

import enum
import hashlib
import json
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"  # option labels of multiple-choice items


class TaskKind(enum.Enum):
    """How a task is posed and scored (``.value`` is its name in YAML and tables).

    A plain Enum, not a ``str`` one: plugin authors read ``help(genspec.toolkit)``, and
    a str-Enum there lists every inherited ``str`` method (600 lines of 1,060).
    """

    MULTIPLE_CHOICE = "multiple_choice"  # options shown as A, B, C...; the answer is a letter
    CLASSIFICATION = "classification"  # a fixed label set; the answer is a label word
    NUMERIC = "numeric"  # a number, generated and compared with a tolerance
    FREE_TEXT = "free_text"  # generated text scored by the task's scorer (e.g. a ranked list)

    @property
    def has_choices(self) -> bool:
        """Choice tasks can be scored by log-likelihood; free-form ones need generation."""
        return self in (TaskKind.MULTIPLE_CHOICE, TaskKind.CLASSIFICATION)


@dataclass(frozen=True)
class Criterion:
    """One rubric criterion an open answer is judged against (HealthBench's shape).

    ``points`` may be negative (a harm the answer must avoid); ``kind`` groups criteria
    for agreement (HealthBench's ``axis:`` tag: accuracy, completeness...); ``human``
    is a physician's grade of this criterion for the answer in the data, when the data
    has one (then judges are checked against it).
    """

    text: str
    points: float
    kind: str = "criterion"
    human: bool | None = None


@dataclass(frozen=True)
class Example:
    """One benchmark item in the shape every task maps its rows into.

    ``choices`` are the option texts (multiple choice) or the task's label set
    (classification); ``gold`` indexes into them. Free-form tasks (numeric, free
    text) have no choices: their gold answer is the text ``target``.
    """

    id: str
    question: str
    choices: tuple[str, ...]
    gold: int
    context: str = ""
    target: str = ""
    category: str | None = None
    extra: Mapping[str, str] = field(default_factory=dict, hash=False, compare=False)
    # free-text tasks: named sets of accepted answers, canonical first (a diagnosis and
    # its synonyms; a next step and its phrasings)
    references: Mapping[str, tuple[str, ...]] = field(
        default_factory=dict, hash=False, compare=False
    )
    # open answers graded by a judge panel: the item's rubric (genspec.grading), empty
    # for every other task
    rubric: tuple[Criterion, ...] = field(default=(), hash=False, compare=False)

    @property
    def gold_text(self) -> str:
        return self.choices[self.gold] if self.choices else self.target


@dataclass(frozen=True)
class Judgement:
    """How one generated answer was read and scored.

    ``metrics`` are secondary per-item scores beside ``correct`` (e.g. top-1 next to a
    differential's top-5 match), summarised per model and task. ``notes`` are kept in
    the per-example table for review (e.g. a judge model's rationale). ``undecided``
    marks an answer a rule could not settle, which a task's judge step may settle.
    """

    prediction: str
    correct: float
    invalid: bool
    metrics: Mapping[str, float] = field(default_factory=dict, hash=False, compare=False)
    notes: Mapping[str, str] = field(default_factory=dict, hash=False, compare=False)
    undecided: bool = False


RowMapper = Callable[[Mapping[str, Any], int], Example]
"""Maps one raw row (hub schema) and its 0-based row number to an :class:`Example`.

Raises :class:`genspec.toolkit.fields.RowError` naming the missing or bad field.
"""

AnswerParser = Callable[[str, Example], "int | None"]
"""Maps generated text to a choice index, or ``None`` when no answer can be found."""

Scorer = Callable[[str, Example], Judgement]
"""Scores generated text for a free-form task (e.g. a number within a tolerance)."""


@dataclass(frozen=True)
class JudgeStep:
    """How a judge model settles the answers a task's scorer left ``undecided``.

    Rules decide most answers cheaply and reproducibly; the rest (a near-synonym, a
    broader or narrower term) need a reader. ``prompt`` asks the judge about one
    answer; ``apply`` turns its reply into the final judgement, keeping its rationale.
    Used only when a run names a judge model (``judge.id``).
    """

    prompt: Callable[[str, Example, Judgement], str]
    apply: Callable[[str, Example, Judgement, str], Judgement]
    max_tokens: int = 256


PARQUET_EXPORT = "refs/convert/parquet"  # the hub's parquet conversion of a dataset


@dataclass(frozen=True)
class HubSource:
    """Where ``data=full`` reads a task: a Hugging Face hub dataset."""

    path: str
    name: str | None = None
    split: str = "test"
    dev_split: str | None = None
    note: str = ""
    configs: tuple[str, ...] = ()  # several configs read as one task (e.g. MMLU subjects)
    revision: str | None = None  # e.g. PARQUET_EXPORT for script-only datasets
    # A folder of the repo read as the dataset. The hub's parquet export (the revision
    # above) keeps each config in its own folder, ``<config>/<split>/0000.parquet``,
    # without a card naming them, so a config there is chosen by folder, not by name
    # (``configs`` on the export are folders too).
    data_dir: str | None = None
    # With several configs: the row field that is set to the config each row came from,
    # for configs that differ only in what they ask (LegalBench's CUAD clause types).
    config_field: str | None = None
    # One file of the repo read as the dataset, for repos whose files differ in schema
    # and so cannot be read as one (``openai/healthbench``); ``split`` is then "train".
    data_files: str | None = None

    @property
    def by_folder(self) -> bool:
        """Whether configs are folders: the parquet export has no card naming them."""
        return self.revision == PARQUET_EXPORT


@dataclass(frozen=True)
class SampleSource:
    """Where ``data=sample`` reads a task: ``<package>/<directory>/{test,dev}.jsonl``."""

    package: str
    directory: str


@dataclass(frozen=True)
class PromptTemplate:
    """How a task's items are posed. ``shots=None`` takes the run's ``shots`` setting."""

    name: str
    instruction: str
    shots: int | None = 0
    chain_of_thought: bool = False
    answer_form: str = ""  # free-text tasks: what the answer must look like (a ranked list)
    answer_tokens: int | None = None  # direct-answer budget when one word is not enough

    def fingerprint(self) -> str:
        """Short hash of the template's text, logged so prompt changes are visible."""
        raw = json.dumps(asdict(self), sort_keys=True)
        return hashlib.sha256(raw.encode()).hexdigest()[:12]


@dataclass(frozen=True)
class Task:
    """A benchmark declared by a plugin. Build one with :mod:`genspec.toolkit`."""

    name: str
    domain: str
    kind: TaskKind
    description: str
    to_example: RowMapper
    sample: SampleSource
    prompts: Mapping[str, PromptTemplate]
    parse_answer: AnswerParser
    subject: str = ""
    hub: HubSource | None = None
    local_name: str = ""
    metric: str = "accuracy"
    scorer: Scorer | None = None
    judge: JudgeStep | None = None
    report_by_category: bool = False  # scores per category too (ddx: diagnostic, treatment...)
    # Few-shot examples from the item's own category where the dev pool has any: for a task
    # whose categories ask different questions (CUAD's clause types), a solved example of
    # another question teaches less than one of the same
    shots_by_category: bool = False
    # Licensed data with no hub copy and no bundled sample (JAMA): read only with
    # data=local, run by default only then; ``local_schema`` names the fields it needs.
    local_only: bool = False
    local_schema: str = ""
    # Open answers graded by rubric through the run's judge panel (genspec.grading): such
    # a task needs ``judges=[...]`` (or ``judge.id``) and runs only when named in
    # ``tasks=[...]``, so a default run never pays judges it was not asked for.
    panel_graded: bool = False
    # False: run only when named in ``tasks=[...]`` (tasks graded by a panel, and the
    # professional-work tasks of issue 19, which the default run's baseline leaves out)
    by_default: bool = True
    # An item field (a key of ``Example.extra``) naming the cluster an item belongs to (a
    # clinical case, an abstract asked about several times): its items are not independent,
    # so the paired interval resamples whole clusters (genspec.stats.cluster)
    cluster: str = ""
    # Which rows of the data are items of this task, for a task that is a documented subset
    # of a benchmark (MedQA's next-step-in-management questions): a row it returns False
    # for is left out, alike from the hub, a local file and the bundled sample. ``None``:
    # every row.
    keep_row: Callable[[Mapping[str, Any]], bool] | None = None

    def keeps(self, row: Mapping[str, Any]) -> bool:
        """Whether ``row`` is an item of this task (see ``keep_row``)."""
        return self.keep_row is None or bool(self.keep_row(row))

    @property
    def local_stem(self) -> str:
        """File stem that ``data=local`` looks for in ``data.dir``."""
        return self.local_name or self.name
