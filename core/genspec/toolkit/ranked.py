"""Ranked free-text answers (a differential diagnosis): read the list, match the names.

A model lists candidates ("1. Giant cell arteritis", "2. Polymyalgia rheumatica", ...);
the gold answer is a name with accepted synonyms. A rule settles most answers: an
item that names an accepted term (as whole words, after normalising case, accents,
punctuation and possessives) is a match. What a rule cannot settle fairly, an item
that shares a distinctive word with the gold but does not name it ("endocarditis"
for "infective endocarditis"), is marked undecided: wrong unless a judge model is
asked (:func:`rank_judge`), which sees only those items and gives its rationale.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import replace

from genspec.task import Example, Judgement, JudgeStep
from genspec.toolkit.parsing import final_answer_clause, json_objects

_ITEM = re.compile(r"^\s*(?:\d{1,2}\s*[.):]|[-*•])\s*(?P<text>.+?)\s*$")
_LABEL = re.compile(r"^\s*[*_]*(?P<label>[A-Za-z][A-Za-z ]{1,30}?)[*_]*\s*[:\-–]\s*(?P<value>.*)$")
# Words too common in names to signal a near miss on their own.
_GENERIC = frozenset(
    {
        "a",
        "an",
        "the",
        "of",
        "and",
        "or",
        "with",
        "without",
        "to",
        "in",
        "on",
        "due",
        "from",
        "by",
        "for",
        "acute",
        "chronic",
        "disease",
        "disorder",
        "syndrome",
        "type",
        "primary",
        "secondary",
        "left",
        "right",
        "severe",
        "mild",
        "infection",
        "deficiency",
    }
)


def normalise_term(text: str) -> str:
    """Lower case, no accents, no possessive 's, punctuation and hyphens as spaces."""
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    text = re.sub(r"'s\b", "", text.lower())
    return " ".join(re.sub(r"[^a-z0-9]+", " ", text).split())


def names(text: str, term: str) -> bool:
    """Whether ``text`` names ``term``: the normalised term occurs in it as whole words."""
    wanted = normalise_term(term)
    return bool(wanted) and f" {wanted} " in f" {normalise_term(text)} "


def labelled(text: str, label: str) -> str | None:
    """The value of a ``Label: value`` line (e.g. "Next step: IV calcium"), if any."""
    for line in text.splitlines():
        match = _LABEL.match(line)
        if match and normalise_term(match["label"]) == normalise_term(label):
            return match["value"].strip()
    return None


def parse_ranked(text: str, limit: int = 5, skip: Sequence[str] = ()) -> list[str]:
    """The first ``limit`` items of a numbered or bulleted list, most likely first.

    Reads after a final "Answer:" when there is one (the list after a chain of
    thought), else the whole text. Without list markers, each non-empty line is an
    item. Lines labelled with one of ``skip`` (e.g. "Next step") are not items.
    """
    region = final_answer_clause(text) or text
    skipped = {normalise_term(s) for s in skip}
    marked, plain = [], []
    for line in filter(str.strip, region.splitlines()):
        match = _ITEM.match(line)
        item = (match["text"] if match else line).strip(" *_.")
        label = _LABEL.match(item)
        if item and not (label and normalise_term(label["label"]) in skipped):
            (marked if match else plain).append(item)
    return (marked or plain)[:limit]


def match_rank(items: Sequence[str], accepted: Sequence[str]) -> int | None:
    """1-based rank of the first item that names an accepted term, else ``None``."""
    for rank, item in enumerate(items, start=1):
        if any(names(item, term) for term in accepted):
            return rank
    return None


def near_miss(items: Sequence[str], accepted: Sequence[str]) -> bool:
    """Some item shares a distinctive word with an accepted term without naming it."""
    distinctive = {w for term in accepted for w in normalise_term(term).split()} - _GENERIC
    return any(distinctive & set(normalise_term(item).split()) for item in items)


Rescore = Callable[[str, Example, "int | None"], Judgement]
"""Builds a task's judgement from the answer text and the gold's rank (``None``: absent)."""


def rank_judge(
    reference: str, what: str, rescore: Rescore, limit: int = 5, skip: Sequence[str] = ()
) -> JudgeStep:
    """A judge step that asks which listed item, if any, names the gold ``what``.

    ``reference`` is the key of ``Example.references`` holding the accepted names (the
    first is the canonical one); ``rescore`` turns the rank into the task's judgement;
    ``limit`` and ``skip`` read the list as the task's scorer does. A rule's match is
    never overruled: the judge can only find the gold earlier in the list. It answers
    in JSON with a one-sentence rationale, kept for review; an unreadable reply leaves
    the rule's judgement and says so.
    """

    def prompt(text: str, example: Example, _judgement: Judgement) -> str:
        accepted = example.references.get(reference, ())
        items = parse_ranked(text, limit, skip)
        listed = "\n".join(f"{i}. {item}" for i, item in enumerate(items, 1))
        return (
            f"You are grading a ranked list of {what} answers against the correct {what}.\n"
            f"Correct {what}: {accepted[0] if accepted else example.target}\n"
            f"Also accepted: {'; '.join(accepted[1:]) or 'none'}\n"
            f"Ranked answers:\n{listed}\n\n"
            f"Which is the first answer that names the same {what} (a synonym counts; a "
            f"broader category, a complication or a different {what} does not)? Reply with "
            'JSON only: {"rank": <its number, or 0 if none>, "rationale": "<one sentence>"}'
        )

    def apply(text: str, example: Example, judgement: Judgement, reply: str) -> Judgement:
        parsed = next(json_objects(reply), None)
        rank = parsed.get("rank") if parsed else None
        if isinstance(rank, bool) or not isinstance(rank, int) or not 0 <= rank <= limit:
            unreadable = f"unreadable judge reply: {reply[:200]}"
            return replace(judgement, notes={**judgement.notes, "judge_rationale": unreadable})
        by_rule = match_rank(parse_ranked(text, limit, skip), example.references[reference])
        ranks = [r for r in (rank, by_rule) if r]
        settled = rescore(text, example, min(ranks) if ranks else None)
        rationale = str(parsed.get("rationale", "")) if parsed else ""
        notes = {**settled.notes, "judge_rank": str(rank), "judge_rationale": rationale}
        return replace(settled, notes=notes, undecided=False)

    return JudgeStep(prompt=prompt, apply=apply)
