"""The engine's request builder: from a task's template and an item to a model request.

One template renders the same text for every model (fair prompting): the backend
only wraps it in the model's chat template when it has one. Few-shot examples come
from the dev split, chosen per example with a seeded RNG (reproducible, and the
shots of one item do not depend on which other items are in the run).
"""

from __future__ import annotations

import random
from collections.abc import Sequence

from genspec.requests import Choices, GenerateRequest, LoglikRequest, Message, Request
from genspec.task import LETTERS, Example, PromptTemplate, TaskKind

ANSWER_PREFIX = "Answer:"
COT_MAX_TOKENS = 512


def answer_text(kind: TaskKind, example: Example, index: int) -> str:
    """How option ``index`` is written as an answer: a letter, or the label itself."""
    return LETTERS[index] if kind is TaskKind.MULTIPLE_CHOICE else example.choices[index]


def gold_answer(kind: TaskKind, example: Example) -> str:
    """The gold answer as a model should write it (letter, label or number)."""
    return answer_text(kind, example, example.gold) if kind.has_choices else example.target


def format_item(kind: TaskKind, example: Example, options: bool = True) -> str:
    """Context, question and (unless ``options`` is false) options of one item, without
    the answer."""
    lines = [example.context] if example.context else []
    lines.append(f"Question: {example.question}")
    if options and kind is TaskKind.MULTIPLE_CHOICE:
        lines += [f"{LETTERS[i]}. {text}" for i, text in enumerate(example.choices)]
    elif options and kind is TaskKind.CLASSIFICATION:
        lines.append("Options: " + ", ".join(example.choices))
    return "\n".join(lines)


def choose_shots(pool: Sequence[Example], k: int, seed: int, example_id: str) -> list[Example]:
    """``k`` dev examples for one test item, seeded by (seed, item id)."""
    if k <= 0 or not pool:
        return []
    rng = random.Random(f"{seed}:{example_id}")
    return rng.sample(list(pool), min(k, len(pool)))


def render_body(
    kind: TaskKind,
    template: PromptTemplate,
    subject: str,
    example: Example,
    shots: Sequence[Example],
    options: bool = True,
) -> str:
    """The user-visible prompt text: instruction, solved shots, then the item.

    ``options=False`` gives the stem an encoder pairs with each option: the item without
    its options; a solved shot keeps its lettered options as context, while a label list
    (the same on every item) is left out everywhere.
    """
    blocks = [template.instruction.format(subject=subject)]
    shot_options = options or kind is TaskKind.MULTIPLE_CHOICE
    for shot in shots:
        item = format_item(kind, shot, shot_options)
        blocks.append(f"{item}\n{ANSWER_PREFIX} {gold_answer(kind, shot)}")
    blocks.append(format_item(kind, example, options))
    return "\n\n".join(blocks)


def answer_instruction(kind: TaskKind, example: Example, template: PromptTemplate) -> str:
    """What a generating model is told about the answer's form."""
    if kind is TaskKind.FREE_TEXT:
        # Several lines (a ranked list): the reasoning ends where the "Answer:" line starts.
        if template.chain_of_thought:
            return (
                f"Think step by step, then write '{ANSWER_PREFIX}' on a new line followed "
                f"by {template.answer_form}."
            )
        return f"Reply with {template.answer_form} only."
    if kind is TaskKind.MULTIPLE_CHOICE:
        options = _or_list([LETTERS[i] for i in range(len(example.choices))])
        form = f"the letter of the correct option ({options})"
    elif kind is TaskKind.CLASSIFICATION:
        form = f"one of the options ({_or_list(list(example.choices))})"
    elif is_yes_no(example.target):  # a numeric task's comparison item (FinQA "greater")
        form = "yes or no"
    else:
        form = "a single number"
    if template.chain_of_thought:
        return (
            "Think step by step, then give your final answer on the last line as "
            f"'{ANSWER_PREFIX} <answer>', where <answer> is {form}."
        )
    return f"Reply with {form} only."


def is_yes_no(target: str) -> bool:
    """Whether a gold answer is a comparison's "yes"/"no" rather than a number."""
    return target.strip().lower() in ("yes", "no")


def _or_list(items: Sequence[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " or " + items[-1]


def build_request(
    kind: TaskKind,
    template: PromptTemplate,
    subject: str,
    example: Example,
    shots: Sequence[Example],
    *,
    method: str,
    max_new_tokens: int,
) -> Request:
    """The request one model gets for one item: log-likelihood or generation."""
    body = render_body(kind, template, subject, example, shots)
    if method == "loglik" and kind.has_choices and not template.chain_of_thought:
        continuations = tuple(
            " " + answer_text(kind, example, i) for i in range(len(example.choices))
        )
        stem = render_body(kind, template, subject, example, shots, options=False)
        return LoglikRequest(
            messages=(Message("user", body),),
            continuations=continuations,
            choices=Choices(stem, tuple(example.choices)),
        )
    instruction = answer_instruction(kind, example, template)
    if template.chain_of_thought:
        max_tokens = COT_MAX_TOKENS
    else:
        max_tokens = max(max_new_tokens, template.answer_tokens or 0)
    return GenerateRequest(
        messages=(Message("user", f"{body}\n\n{instruction}"),), max_tokens=max_tokens
    )


def prompt_text(request: Request) -> str:
    """The prompt as a reviewer reads it in the per-example table."""
    text = "\n\n".join(m.content for m in request.messages)
    return f"{text}\n{request.answer_prefix}" if isinstance(request, LoglikRequest) else text
