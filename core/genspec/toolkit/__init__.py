"""The plugin author's toolkit: declare a task in a few lines.

Everything the bundled plugins have in common lives here once: field mapping from a
hub schema, prompt templates, answer parsers and task builders.
"""

from genspec.task import Example, HubSource, Judgement, JudgeStep, PromptTemplate, Task, TaskKind
from genspec.toolkit.corpus import corpus_hook
from genspec.toolkit.declarative import load_tasks, tasks_hook
from genspec.toolkit.fields import (
    RowError,
    choice_fields,
    concat,
    const,
    first_of,
    formatted,
    free_text_fields,
    joined,
    label_fields,
    numeric_fields,
    optional,
    table,
)
from genspec.toolkit.hooks import domain_hook, perturbations_hook
from genspec.toolkit.numeric import numeric_scorer, parse_number
from genspec.toolkit.parsing import label_parser, parse_choice
from genspec.toolkit.ranked import (
    labelled,
    match_rank,
    names,
    near_miss,
    normalise_term,
    parse_ranked,
    rank_judge,
)
from genspec.toolkit.rosters import rosters_hook
from genspec.toolkit.tasks import (
    classification_task,
    free_text_task,
    multiple_choice_task,
    numeric_task,
)

__all__ = [
    "Example",
    "HubSource",
    "JudgeStep",
    "Judgement",
    "PromptTemplate",
    "RowError",
    "Task",
    "TaskKind",
    "choice_fields",
    "classification_task",
    "concat",
    "const",
    "corpus_hook",
    "domain_hook",
    "first_of",
    "formatted",
    "free_text_fields",
    "free_text_task",
    "joined",
    "label_fields",
    "label_parser",
    "labelled",
    "load_tasks",
    "match_rank",
    "multiple_choice_task",
    "names",
    "near_miss",
    "normalise_term",
    "numeric_fields",
    "numeric_scorer",
    "numeric_task",
    "optional",
    "parse_choice",
    "parse_number",
    "parse_ranked",
    "perturbations_hook",
    "rank_judge",
    "rosters_hook",
    "table",
    "tasks_hook",
]
