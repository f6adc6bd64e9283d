"""Read the answer out of generated text.

Models answer in many shapes: "B", "(B)", "**B**", "The answer is B.", "Answer: B) ...",
``{"answer": "B"}``, or the option text itself; chain-of-thought answers end with a
final "Answer: X" after reasoning that mentions other letters. An answer that cannot be
read is *invalid* (``None``), which is counted apart from a wrong answer.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping, Sequence

from genspec.task import LETTERS, Example

_JSON_OBJECT = re.compile(r"\{[^{}]*\}")
_MARKUP = re.compile(r"[*_`#>]")


def _letters(n: int) -> str:
    return LETTERS[:n]


def _normalise(text: str) -> str:
    text = _MARKUP.sub("", text.lower())
    return re.sub(r"[^a-z0-9%.\- ]+", " ", text).strip()


def json_objects(text: str) -> Iterator[dict]:
    """The flat JSON objects written in ``text``, last first (the final answer wins)."""
    for match in reversed(_JSON_OBJECT.findall(text)):
        try:
            data = json.loads(match)
        except ValueError:
            continue
        if isinstance(data, dict):
            yield data


def _json_answer(text: str) -> str | None:
    for data in json_objects(text):
        for key in ("answer", "Answer", "final_answer", "label", "choice"):
            if key in data:
                return str(data[key])
    return None


def final_answer_clause(text: str) -> str | None:
    """The text after the last 'answer is' / 'Answer:' (the final answer of a CoT)."""
    matches = list(
        re.finditer(r"(?:final\s+)?answer\s*(?:is|:)\s*(?:option\s+)?", text, re.IGNORECASE)
    )
    return text[matches[-1].end() :] if matches else None


def _letter_at_start(text: str, letters: str) -> int | None:
    """'B', '(B)', '**B**', 'B.', 'B) text', 'B: text' → index of B.

    A lower-case letter counts only when a closing bracket or nothing but punctuation
    follows it ("b", "(b)", "b.", "b) text"): in "a patient with..." or "the answer is
    a rare..." it is a word.
    """
    cleaned = _MARKUP.sub("", text).strip()
    match = re.match(rf"^[(\[]?([{letters}])(?:[)\].:,]|\s|$)", cleaned)
    if match is None:
        first_line = cleaned.split("\n", 1)[0]
        match = re.match(rf"^[(\[]?([{letters.lower()}])(?:\)|[\].:,]?$)", first_line)
    return letters.lower().index(match.group(1).lower()) if match else None


def _unique_mention(text: str, phrases: Sequence[Sequence[str]]) -> int | None:
    """Index of the only option whose text (or a synonym) appears in ``text``."""
    haystack = f" {_normalise(text)} "
    found = {
        i
        for i, variants in enumerate(phrases)
        for variant in variants
        if variant
        and re.search(rf"(?<![a-z0-9]){re.escape(_normalise(variant))}(?![a-z0-9])", haystack)
    }
    return found.pop() if len(found) == 1 else None


def parse_choice(text: str, example: Example) -> int | None:
    """Letter answer for a multiple-choice item, or ``None`` when unreadable."""
    letters = _letters(len(example.choices))
    options = [[choice] for choice in example.choices]
    for candidate in (_json_answer(text), final_answer_clause(text), text):
        if candidate is None:
            continue
        index = _letter_at_start(candidate, letters)
        if index is None:
            index = _unique_mention(candidate, options)
        if index is not None:
            return index
    return None


def label_parser(synonyms: Mapping[str, Sequence[str]] | None = None):
    """Parser for label tasks; ``synonyms`` maps a label to other words that mean it.

    Synonyms apply only where a task defines them (e.g. "bullish" for "positive" in a
    sentiment task), never globally.
    """
    extra = {k.lower(): tuple(v) for k, v in (synonyms or {}).items()}

    def parse_label(text: str, example: Example) -> int | None:
        variants = [(label, *extra.get(label.lower(), ())) for label in example.choices]
        for candidate in (_json_answer(text), final_answer_clause(text), text):
            if candidate is None:
                continue
            first_word = _normalise(candidate).split(" ", 1)[0].strip(".")
            for i, words in enumerate(variants):
                if first_word in {_normalise(w) for w in words}:
                    return i
            index = _unique_mention(candidate, variants)
            if index is not None:
                return index
        return None

    return parse_label
