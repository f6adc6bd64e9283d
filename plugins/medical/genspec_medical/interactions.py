"""DDI-2013 (the DDI corpus): what a text says about an interaction between two drugs.

The DDI corpus (Herrero-Zazo et al. 2013; DDIExtraction 2013) annotates drug mentions
and every drug-drug interaction stated within a sentence of 1,025 DrugBank texts and
MEDLINE abstracts, typed as a pharmacokinetic *mechanism*, an *effect*, an *advice*
or an interaction stated without detail (*int*). The hub copy (``bigbio/ddi_corpus``,
read from the hub's parquet export: the main branch holds only a loading script) has
one row per document, and a genspec item is one row, so each document asks about one
pair of mentions, marked ``<<like this>>`` in the text:

- a document with interactions: one of them, chosen by a hash of the document id (the
  same item from the hub, a local copy and the sample); its type is the gold. The
  mentions, not drug names, are marked, because a pair can be typed differently in two
  sentences of one text.
- a document without any: two mentions with different names, chosen the same way;
  the gold is *none*, since the corpus found no interaction anywhere in the text.
  A text naming fewer than two drugs asks about one drug (or none) and "another drug".

The gold type is the item's category, so accuracy is reported per interaction type.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from genspec.task import Example
from genspec.toolkit import RowError, Task, classification_task
from genspec.toolkit.suites import parquet_export

HUB = parquet_export(
    "bigbio/ddi_corpus",
    "ddi_corpus_source",
    split="test",
    dev_split="train",
    note=(
        "The main branch holds only a loading script; the hub's parquet export keeps "
        "ddi_corpus_source/{train,test}. One row per document; CC BY-NC 4.0."
    ),
)
# The corpus's relation types (BRAT: MECHANISM...; XML: mechanism...; DDI-mechanism in
# sentence-level copies) as the words a model answers with: 'int' is not a word.
TYPES = {"mechanism": "mechanism", "effect": "effect", "advise": "advice", "int": "unspecified"}
NONE = "none"
LABELS = (*TYPES.values(), NONE)
SYNONYMS = {"advice": ("advise",), "unspecified": ("int",), NONE: ("no interaction", "false")}
INSTRUCTION = (
    "The following is a text about {subject} with drug mentions marked <<like this>>. Say "
    "what it states about an interaction between the marked drugs: mechanism (how one "
    "changes the other's absorption, metabolism, levels or excretion), effect (a clinical "
    "or pharmacological effect of taking them together), advice (a recommendation: avoid, "
    "adjust the dose, monitor), unspecified (that they interact, with none of these), or "
    "none (no interaction between them is stated). Answer with one of the options."
)


@dataclass(frozen=True)
class Mention:
    """One annotated drug mention: its name and where it is in the text."""

    name: str
    start: int
    end: int


def _field(row: Mapping[str, Any], name: str) -> Any:
    value = row.get(name)
    if value is None:
        raise RowError(f"missing field '{name}'")
    return value


def _items(row: Mapping[str, Any], name: str) -> list[Mapping[str, Any]]:
    value = _field(row, name)
    if isinstance(value, (str, Mapping)) or not all(isinstance(v, Mapping) for v in value):
        raise RowError(f"field '{name}' must be a list of objects, as on the hub")
    return list(value)


def _mentions(row: Mapping[str, Any], text: str) -> dict[str, Mention]:
    """The row's entities by id, each checked to lie inside the text."""
    mentions: dict[str, Mention] = {}
    for entity in _items(row, "entities"):
        raw = entity.get("offsets")  # a numpy array when pandas reads a local parquet
        try:
            offsets = [int(x) for x in (() if raw is None else raw)]
        except (TypeError, ValueError):
            offsets = []
        if len(offsets) != 2 or not 0 <= offsets[0] < offsets[1] <= len(text):
            raise RowError(
                f"entity '{entity.get('id')}' has offsets {offsets}; they must be "
                f"[start, end] within the text ({len(text)} characters)"
            )
        mentions[str(entity.get("id"))] = Mention(str(entity.get("text")), *offsets)
    return mentions


def _label(kind: Any) -> str:
    key = str(kind).lower().removeprefix("ddi-")
    if key not in TYPES:
        allowed = ", ".join(t.upper() for t in TYPES)
        raise RowError(f"relation type '{kind}' is not one of {allowed}")
    return TYPES[key]


def _related_pair(
    relations: Sequence[Mapping[str, Any]], mentions: Mapping[str, Mention], digest: int
) -> tuple[tuple[Mention, ...], str]:
    """One annotated interaction (ordered by position, so any copy picks the same)."""
    typed = []
    for relation in relations:
        ends = []
        for end in ("head", "tail"):
            ref = str((relation.get(end) or {}).get("ref_id"))
            if ref not in mentions:
                raise RowError(
                    f"relation '{relation.get('id')}' names entity '{ref}', which is not "
                    "in 'entities'"
                )
            ends.append(mentions[ref])
        first, second = sorted(ends, key=lambda m: m.start)
        typed.append(((first, second), _label(relation.get("type"))))
    typed.sort(key=lambda pair: (pair[0][0].start, pair[0][1].start))
    return typed[digest % len(typed)]


def _unrelated_pair(mentions: Sequence[Mention], digest: int) -> tuple[Mention, ...]:
    """Two mentions with different names, or fewer when the text names fewer drugs."""
    ordered = sorted(mentions, key=lambda m: m.start)
    pairs = [
        (a, b)
        for i, a in enumerate(ordered)
        for b in ordered[i + 1 :]
        if a.name.lower() != b.name.lower()
    ]
    if pairs:
        return pairs[digest % len(pairs)]
    return tuple(ordered[:1])


def _marked(text: str, mentions: Sequence[Mention]) -> str:
    for mention in sorted(mentions, key=lambda m: m.start, reverse=True):
        start, end = mention.start, mention.end
        text = f"{text[:start]}<<{text[start:end]}>>{text[end:]}"
    return text


def _question(pair: Sequence[Mention]) -> str:
    names = [f"<<{m.name}>>" for m in pair] or ["one drug"]
    names += ["another drug"] * (2 - len(names))
    return f"What does the text state about an interaction between {names[0]} and {names[1]}?"


def to_example(row: Mapping[str, Any], _index: int) -> Example:
    """One document as one item about one pair of mentions (see the module docstring)."""
    document = str(_field(row, "document_id"))
    text = _field(row, "text")
    if not isinstance(text, str) or not text.strip():
        raise RowError("field 'text' is empty")
    mentions = _mentions(row, text)
    relations = _items(row, "relations")
    digest = int(hashlib.sha256(document.encode()).hexdigest()[:12], 16)
    if relations:
        pair, label = _related_pair(relations, mentions, digest)
    else:
        pair, label = _unrelated_pair(list(mentions.values()), digest), NONE
    return Example(
        id=document,
        question=_question(pair),
        choices=LABELS,
        gold=LABELS.index(label),
        context=_marked(text, pair),
        category=label,
        extra={"drugs": " | ".join(m.name for m in pair)},
    )


def task() -> Task:
    return classification_task(
        name="ddi",
        description=(
            "DDI-2013: what a drug label or abstract states about an interaction between "
            "two marked drugs (mechanism, effect, advice, unspecified, none)."
        ),
        subject="pharmacology (drug labels and MEDLINE abstracts)",
        hub=HUB,
        fields=to_example,
        instruction=INSTRUCTION,
        synonyms=SYNONYMS,
        report_by_category=True,
        by_default=False,  # named runs only: the default medical run stays as it was
    )
