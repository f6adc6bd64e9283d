"""Seeded, deterministic perturbations of a test item (HELM's robustness perturbations).

A :class:`Perturbation` turns an :class:`~genspec.task.Example` into a changed copy,
drawing any randomness from the ``random.Random`` it is given: the engine seeds it with
(run seed, perturbation, item id), so an item is perturbed the same way in every run,
on every model and in every shard, and the perturbed request hits the answer cache.

Built in: ``typos`` (character noise at :data:`TYPO_RATE`), ``distractor`` (one
irrelevant sentence), and the option-order shifts of multiple-choice items
(:func:`shift_options`). Plugins add their own through the ``genspec_perturbations``
hook, usually a term map (:func:`term_rewording`): clinical terms in lay words,
financial or legal jargon in plain words.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace

from genspec.task import Example

TYPO_RATE = 0.05  # chance that a letter inside a word is swapped, dropped or doubled
OPTION_ORDER = "option_order"

DISTRACTORS = (
    "The building's lift was out of service that morning.",
    "It had rained for most of the previous week.",
    "A new coffee machine had been installed in the hallway.",
    "The office radio was playing an old jazz record.",
    "Someone had left a bicycle leaning against the front door.",
    "The calendar on the wall still showed last month.",
)


@dataclass(frozen=True)
class Perturbation:
    """A named change to an item. ``apply`` must be a pure function of the item and the
    RNG; returning the item unchanged means "does not apply" (it is then left out of
    this perturbation's comparison and counted, never silently dropped)."""

    name: str
    description: str
    apply: Callable[[Example, random.Random], Example]


def _texts(example: Example, change: Callable[[str], str]) -> Example:
    """The item with ``change`` applied to its context and question (never its options
    or gold answer: the perturbation must not change what is right)."""
    return replace(example, question=change(example.question), context=change(example.context))


def _typo_word(word: str, rng: random.Random, rate: float) -> str:
    chars = list(word)
    i = 1
    while i < len(chars) - 1:  # first and last letters stay: the word stays readable
        if chars[i].isalpha() and rng.random() < rate:
            action = rng.randrange(3)
            if action == 0:
                chars[i], chars[i + 1] = chars[i + 1], chars[i]
                i += 1
            elif action == 1:
                del chars[i]
                continue
            else:
                chars.insert(i, chars[i])
                i += 1
        i += 1
    return "".join(chars)


def typos(rate: float = TYPO_RATE) -> Perturbation:
    """Character noise: each inner letter of a word is, with probability ``rate``,
    swapped with the next, dropped or doubled."""

    def apply(example: Example, rng: random.Random) -> Example:
        return _texts(
            example,
            lambda text: re.sub(r"\w+", lambda m: _typo_word(m.group(), rng, rate), text),
        )

    return Perturbation("typos", f"typos at a rate of {rate:.0%} of inner letters", apply)


def distractor(sentences: Sequence[str] = DISTRACTORS) -> Perturbation:
    """One irrelevant sentence, drawn from ``sentences``, added before the question."""

    def apply(example: Example, rng: random.Random) -> Example:
        return replace(example, question=f"{rng.choice(list(sentences))} {example.question}")

    return Perturbation("distractor", "an irrelevant sentence before the question", apply)


def term_rewording(
    name: str, terms: Mapping[str, Sequence[str]], description: str = ""
) -> Perturbation:
    """Replace each mapped term (whole words, any case) by one of its rewordings, drawn
    per item: ``{"myocardial infarction": ["heart attack"], "chest pain": [...]}``.
    Longer terms are matched first, so "acute chest pain" wins over "chest pain"."""
    if not terms or any(not options for options in terms.values()):
        raise ValueError(f"perturbation '{name}': every term needs at least one rewording")
    ordered = sorted(terms, key=len, reverse=True)
    pattern = re.compile(r"\b(" + "|".join(re.escape(t) for t in ordered) + r")\b", re.IGNORECASE)
    lookup = {t.lower(): list(options) for t, options in terms.items()}

    def apply(example: Example, rng: random.Random) -> Example:
        def reword(match: re.Match[str]) -> str:
            word = rng.choice(lookup[match.group().lower()])
            return word[:1].upper() + word[1:] if match.group()[:1].isupper() else word

        return _texts(example, lambda text: pattern.sub(reword, text))

    return Perturbation(name, description or f"{len(terms)} terms reworded", apply)


def shift_options(example: Example, k: int) -> Example:
    """The options rotated by ``k`` places (option k comes first); the gold index follows
    its option."""
    n = len(example.choices)
    choices = tuple(example.choices[(i + k) % n] for i in range(n))
    return replace(example, choices=choices, gold=(example.gold - k) % n)


def seeded(seed: int, perturbation: str, example_id: str) -> random.Random:
    """The RNG of one perturbation of one item: the same in every run and shard."""
    return random.Random(f"{seed}:{perturbation}:{example_id}")


BUILT_IN: tuple[Perturbation, ...] = (typos(), distractor())
