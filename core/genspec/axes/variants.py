"""The extra requests the axes send: stated confidence, an "I don't know" option and the
TS-Guessing probe. Each is built from the run's own request for the item (same
template, shots and scoring method), so it differs from the original only where the
axis needs it, and is cached like any request.
"""

from __future__ import annotations

import random
import re
from dataclasses import replace

from genspec.prompting import answer_text
from genspec.requests import GenerateRequest, LoglikRequest, Message, Request
from genspec.task import LETTERS, Example, TaskKind

IDK = "I don't know"
CONFIDENCE_ASK = (
    "Then, on a new line, write 'Confidence: N', where N (0 to 100) is how likely "
    "your answer is to be correct."
)
CONFIDENCE_TOKENS = 12  # room for the confidence line after the answer
MASK = "[MASK]"
GUESS_TOKENS = 48
_CONFIDENCE = re.compile(r"^\W*confidence\W*(\d{1,3}(?:\.\d+)?)\s*%?.*$", re.I | re.M)
_ABSTAINED = re.compile(r"\bI (?:don'?t|do not) know\b", re.I)


def _with_text(request: Request, extra: str, max_tokens: int = 0) -> Request:
    """The request with ``extra`` after its last message (and ``max_tokens`` more room)."""
    *head, last = request.messages
    messages = (*head, Message(last.role, f"{last.content}\n\n{extra}"))
    if isinstance(request, GenerateRequest):
        return replace(request, messages=messages, max_tokens=request.max_tokens + max_tokens)
    return replace(request, messages=messages)


def with_confidence(request: GenerateRequest) -> Request:
    """The same question, asking for a stated 0–100 confidence in the same call."""
    return _with_text(request, CONFIDENCE_ASK, CONFIDENCE_TOKENS)


def read_confidence(text: str) -> tuple[str, float | None]:
    """(the answer without its confidence line, the confidence in [0, 1] or None)."""
    found = _CONFIDENCE.findall(text)
    answer = _CONFIDENCE.sub("", text).strip()
    if not found:
        return answer, None
    return answer, min(float(found[-1]), 100.0) / 100


def abstention_item(kind: TaskKind, example: Example) -> Example:
    """A choice item with "I don't know" as its last option (the gold stays where it is)."""
    if not kind.has_choices:
        return example
    return replace(example, choices=(*example.choices, IDK))


def abstention_request(kind: TaskKind, item: Example, request: Request) -> Request:
    """Tell the model it may abstain, naming the option (or words) that do so."""
    if kind.has_choices:
        label = answer_text(kind, item, len(item.choices) - 1)
        how = f"choose {label}" if kind is TaskKind.MULTIPLE_CHOICE else f'reply "{label}"'
    else:
        how = f'reply "{IDK}"'
    request = _with_text(request, f"If you do not know the answer, {how}.")
    return with_confidence(request) if isinstance(request, GenerateRequest) else request


def says_abstain(text: str) -> bool:
    return bool(_ABSTAINED.search(text))


def guessing_probe(
    kind: TaskKind, example: Example, rng: random.Random
) -> tuple[GenerateRequest, str] | None:
    """TS-Guessing (Deng et al. 2023): one wrong option hidden, the model asked to write
    it. Returns the request and the hidden text, or None for an item with fewer than
    two wrong options (a guess would be trivial)."""
    wrong = [i for i in range(len(example.choices)) if i != example.gold]
    if kind is not TaskKind.MULTIPLE_CHOICE or len(wrong) < 2:
        return None
    hidden = rng.choice(wrong)
    options = [
        f"{LETTERS[i]}. {MASK if i == hidden else text}" for i, text in enumerate(example.choices)
    ]
    body = "\n".join([example.context, f"Question: {example.question}", *options]).strip()
    prompt = (
        f"Fill in the {MASK} in option {LETTERS[hidden]} of this multiple-choice question.\n\n"
        f"{body}\n\nReply with the text of option {LETTERS[hidden]} only."
    )
    return GenerateRequest(messages=(Message("user", prompt),), max_tokens=GUESS_TOKENS), (
        example.choices[hidden]
    )


def normalise(text: str) -> str:
    """Lower case, one space, no surrounding punctuation, no "B." / "Answer:" prefix."""
    text = re.sub(r"^\s*(?:answer\s*:)?\s*(?:[A-J][.):]\s+)?", "", text.strip(), flags=re.I)
    text = text.strip().splitlines()[0] if text.strip() else ""
    return re.sub(r"\s+", " ", text).strip(" .,;:'\"").lower()


def exact_guess(reply: str, hidden: str) -> bool:
    return bool(hidden.strip()) and normalise(reply) == normalise(hidden)


def is_loglik(request: Request) -> bool:
    return isinstance(request, LoglikRequest)
